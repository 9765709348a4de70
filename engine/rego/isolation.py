"""Run regopy in a child process, so a crash of the Rego engine (SIGSEGV, abort) is an answer.

regopy 1.5 can crash the process on some programs (``with input as {...}`` together with
built-ins, for one). Everything that compiles or evaluates a program arcpolicy did not write
itself runs here: :func:`call_isolated` for one call, :class:`EngineHost` for a child that keeps
a compiled engine and answers many calls. A child that dies raises :class:`EngineCrash` in the
parent, which carries on (and starts a fresh child on the next call).
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

_FORK = multiprocessing.get_context("fork")  # the child inherits the loaded modules: no re-import


class EngineCrash(Exception):
    """The child running the Rego engine died; ``reason`` says how (``signal 11 (SIGSEGV)``)."""

    def __init__(self, exitcode: int | None):
        if exitcode is not None and exitcode < 0:
            self.reason = f"signal {-exitcode}"
            with contextlib.suppress(ValueError):  # not a signal Python knows by name
                self.reason += f" ({signal.Signals(-exitcode).name})"
        else:
            self.reason = f"exit status {exitcode}"
        super().__init__(f"the Rego engine crashed: {self.reason}")


class IsolatedError(Exception):
    """An exception raised in the child: its type name, message and traceback (regopy's errors do not pickle).

    The child's traceback is a note, so ``ARCPOLICY_DEBUG=1`` shows where in the child it was raised.
    """

    def __init__(self, kind: str, message: str, child_traceback: str = ""):
        self.kind = kind
        self.message = message
        super().__init__(f"{kind} in the Rego engine process: {message}")
        if child_traceback:
            self.add_note(child_traceback.rstrip())


def _error_answer(error: Exception) -> tuple[str, tuple[str, str, str]]:
    return "error", (type(error).__name__, str(error), traceback.format_exc())


def _serve(connection: Connection, parent_end: Connection, factory: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Child: build the object, then answer ``(method, args)`` requests until the pipe closes."""
    parent_end.close()  # else the child's own copy keeps the pipe open and it never sees the parent go
    faulthandler.disable()  # a crash is the parent's to report, once
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)  # a crashing C++ runtime prints "terminate called ..."; the parent reports the crash
    try:
        target = factory(*args)
        connection.send(("ok", None))
    except Exception as error:  # reported to the parent, which decides
        connection.send(_error_answer(error))
        return
    while True:
        try:
            method, call_args = connection.recv()
        except EOFError:
            return
        try:
            connection.send(("ok", getattr(target, method)(*call_args)))
        except Exception as error:  # reported to the parent, which decides
            connection.send(_error_answer(error))


class EngineHost:
    """A child process holding ``factory(*args)``; :meth:`call` runs one of its methods there.

    Errors raised there come back as :class:`IsolatedError`; a dead child as :class:`EngineCrash`
    (the next call starts a new child).
    """

    def __init__(self, factory: Callable[..., Any], *args: Any):
        self._factory = factory
        self._args = args
        self._process: Any = None
        self._connection: Connection | None = None
        self._owner = 0  # the process that started the child (a forked copy of this object starts its own)

    def start(self) -> None:
        """Start the child and wait until it has built its object (raises like :meth:`call`)."""
        parent_end, child_end = _FORK.Pipe()
        process = _FORK.Process(target=_serve, args=(child_end, parent_end, self._factory, self._args), daemon=True)
        process.start()
        child_end.close()
        self._process, self._connection, self._owner = process, parent_end, os.getpid()
        self._answer()

    def call(self, method: str, *args: Any) -> Any:
        if self._owner != os.getpid():
            self._forget()
        if self._connection is None:
            self.start()
        assert self._connection is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a dead child: _answer says how
            self._connection.send((method, args))
        return self._answer()

    def _answer(self) -> Any:
        assert self._connection is not None
        try:
            status, value = self._connection.recv()
        except (EOFError, ConnectionResetError):
            raise EngineCrash(self._reap()) from None
        if status == "error":
            raise IsolatedError(*value)
        return value

    def _reap(self) -> int | None:
        """Forget a dead child and return its exit code."""
        process, self._process = self._process, None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        process.join()
        return process.exitcode

    def _forget(self) -> None:
        """In a forked process: drop the copy of the parent's child (its pipe is the parent's to use)."""
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def close(self) -> None:
        if self._owner != os.getpid():
            self._forget()
            return
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None

    def __del__(self) -> None:
        self.close()


class _Call:
    """An object whose only method runs ``function`` (so one call reuses :class:`EngineHost`)."""

    def __init__(self, function: Callable[..., Any]):
        self.function = function

    def run(self, *args: Any) -> Any:
        return self.function(*args)


def call_isolated(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a child process; raises :class:`EngineCrash` or :class:`IsolatedError`."""
    host = EngineHost(_Call, function)
    try:
        return host.call("run", *args)
    finally:
        host.close()
