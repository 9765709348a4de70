"""The real OPA (Go, v1.20) in process: the judge of every Rego verdict in the tests.

It is the ``opa-golib-python-bindings`` wheel (Apache-2.0, module ``opa_bindings``), which embeds
OPA's ``rego`` package as a C-shared library. The test set-up installs it pinned by version and
hash (tests/requirements-opa.txt, from the Makefile's test stamp) with ``--no-deps
--ignore-requires-python``: its metadata asks for Python 3.14, but it runs on 3.11. It is a judge,
not an engine (about 1.6 ms per cluster on the shipped policies).

One difference from ``opa eval`` / ``opa run`` must be kept in mind: the wheel's bridge evaluates
with ``StrictBuiltinErrors(true)``. A built-in that fails (``lower(5)``, ``1 / 0``,
``base64.decode("%")``) stops the query with an error here, where OPA's default makes that one
expression undefined and carries on. :class:`OpaError` says which kind of error it is
(:attr:`OpaError.builtin`), and :func:`agrees` compares accordingly: see docs/rego.md, "The real
OPA as the judge".

Use (also for ``arcpolicy test``'s tests; import it as ``rego.opa_oracle`` from any test folder)::

    oracle = OpaOracle.from_paths([policy_dir])          # or OpaOracle([(name, source), ...])
    oracle.query("x := data.p.violation", input_doc)     # OPA's result set: [{"x": ...}, ...]
    oracle.document("p/violation", input_doc)            # the value, UNDEFINED, or raises OpaError
    oracle.documents("p/violation", input_docs)          # one prepared query per batch of inputs
    oracle.query("x := data.p.test_a", coverage=True); oracle.last_coverage  # OPA's coverage report
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import opa_bindings

BATCH_RULE = "__arcpolicy_oracle_batch__"
_ERROR_CODE = re.compile(r"\b(rego_[a-z_]+_error|eval_[a-z_]+_error)\b")
# OPA's errors raised by built-in functions (operand types, bad values): under OPA's default
# (non-strict) evaluation these make the calling expression undefined instead.
BUILTIN_ERROR_CODES = frozenset({"eval_type_error", "eval_builtin_error"})


class _Undefined:
    """The answer when OPA finds no value (an undefined document or an empty result set)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = _Undefined()


class OpaError(Exception):
    """OPA stopped the query: ``code`` is OPA's (``eval_conflict_error``, ``eval_type_error`` ...)."""

    def __init__(self, message: str):
        super().__init__(message)
        found = _ERROR_CODE.search(message)
        self.code = found.group(1) if found else "unknown"
        self.message = message

    @property
    def builtin(self) -> bool:
        """A built-in's error: only the strict bridge stops here; OPA's default makes the expression undefined."""
        return self.code in BUILTIN_ERROR_CODES


Answer = Any  # a JSON value, UNDEFINED or an OpaError


class OpaOracle:
    """Rego modules compiled together in one embedded OPA, asked queries with inputs."""

    def __init__(self, modules: Iterable[tuple[str, str]]):
        self._engine = opa_bindings.OpaEngine()
        self._engine.print_handler = self._printed
        self.prints: list[tuple[str, str]] = []
        self.modules = dict(modules)
        for name, source in self.modules.items():
            self._call(self._engine.add_policy, name, source)

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> OpaOracle:
        """Every ``.rego`` file under ``paths`` (tests included), named by its path as the engines name it."""
        files = [found for path in map(Path, paths)
                 for found in (sorted(path.rglob("*.rego")) if path.is_dir() else [path])]
        return cls((str(file), file.read_text(encoding="utf-8")) for file in files)

    def close(self) -> None:
        self._engine.close()

    def __enter__(self) -> OpaOracle:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _printed(self, message: str, location: str) -> None:
        self.prints.append((message, location))

    @staticmethod
    def _call(function: Any, *args: Any, **options: Any) -> Any:
        try:
            return function(*args, **options)
        except opa_bindings.OpaError as error:
            raise OpaError(error.message) from None

    @property
    def last_coverage(self) -> dict[str, Any] | None:
        """OPA's coverage report of the last query asked with ``coverage=True`` (``opa test --coverage``'s shape)."""
        return self._engine.last_coverage

    def query(self, query: str, input: Any = None, *, coverage: bool = False) -> list[dict[str, Any]]:
        """OPA's result set for ``query``: one dict of variable bindings per solution (``[]``: undefined)."""
        self.prints = []
        return self._call(self._engine.eval_query, query, input, coverage=coverage)

    def document(self, path: str, input: Any = None) -> Any:
        """The value of ``data.<path>`` (dots or slashes), :data:`UNDEFINED` when it has none; raises OpaError."""
        rows = self.query(f"x := data.{_dotted(path)}", input)
        return rows[0]["x"] if rows else UNDEFINED

    def documents(self, path: str, inputs: Sequence[Any], batch: int = 200) -> list[Answer]:
        """:meth:`document` for each input: the value, :data:`UNDEFINED`, or the :class:`OpaError` it raised.

        Inputs are asked ``batch`` at a time through one query (the same text every time, so OPA
        prepares it once) that evaluates the document under ``with input as`` each of them; a
        batch where some input raises is asked again one input at a time.
        """
        query = (f"x := [found | some document in input.{BATCH_RULE}; "
                 f"found := [v | v := data.{_dotted(path)}] with input as document]")
        answers: list[Answer] = []
        for start in range(0, len(inputs), batch):
            chunk = list(inputs[start:start + batch])
            try:
                [row] = self.query(query, {BATCH_RULE: chunk})
                answers.extend(found[0] if found else UNDEFINED for found in row["x"])
            except OpaError:
                answers.extend(self._alone(path, document) for document in chunk)
        return answers

    def _alone(self, path: str, document: Any) -> Answer:
        try:
            return self.document(path, document)
        except OpaError as error:
            return error


def _dotted(path: str) -> str:
    return path.removeprefix("data.").replace("/", ".")


def agrees(opa: Answer, ours: Any, ours_error: bool, *, expression: bool = False) -> bool:
    """Whether arcpolicy's answer is OPA's under OPA's default evaluation ("undefined or error").

    ``ours`` is arcpolicy's value (or UNDEFINED), ``ours_error`` whether arcpolicy raised instead.
    OPA's answer without error is what OPA's default evaluation answers too (no built-in failed),
    so it must be met exactly. An error other than a built-in's (conflicting rule values, ...)
    is an error under OPA's default too: arcpolicy must raise. A built-in's error is where the
    strict bridge and OPA's default part: OPA's default makes that expression undefined. When
    the document asked is that expression's value (``expression``), arcpolicy must answer
    UNDEFINED or raise; for a whole rule the bridge cannot show what the undefined expression
    leads to, so any answer agrees and the caller counts such cases apart.
    """
    if isinstance(opa, OpaError):
        if opa.builtin:
            return ours_error or not expression or ours is UNDEFINED
        return ours_error
    return not ours_error and opa == ours
