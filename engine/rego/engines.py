"""Rego engines behind one small interface: regopy (here), regorus (:mod:`engine.rego.regorus_engine`), OPA.

An engine answers two questions about an input document: the verdicts of every package (one
query), and the verdicts of one package (asked only to isolate a runtime error). Engines are
looked up by name in :data:`engine.rego.engine_kinds.ENGINES`, so ``--rego-engine`` is a registry key.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import orjson
import regopy
from regopy import Interpreter, LogLevel
from regopy.rego_shared import (
    rego,
    rego_bundle_query_entrypoint,
    rego_free_input,
    rego_free_output,
    rego_new_input,
    rego_node_get,
    rego_node_json,
    rego_node_size,
    rego_output_ok,
    rego_output_string,
    rego_set_input,
)

from engine.errors import InputError, ServiceError
from engine.rego.bundle import ScanBundle
from engine.rego.isolation import EngineCrash, EngineHost, IsolatedError
from engine.rego.modules import RegoModule

if TYPE_CHECKING:
    import requests

PackageVerdicts = dict[str, list[dict[str, Any]]]

_ERROR_MESSAGE = re.compile(r"\(errormsg (\d+):")
_ERROR_PLACE = re.compile(r"\(error \d+:(.*?)\|(\d+)\|\d+")


class RegoRuntimeError(Exception):
    """A query failed while evaluating (conflicting outputs, strict built-in errors ...) or crashed the engine.

    Only the engines' own error outputs become this error (and then an ``Error`` record): any other
    exception raised while deciding an input is an arcpolicy bug and propagates.
    """


@dataclass(frozen=True)
class Diagnostic:
    """A compile problem in one file: the policy it belongs to is skipped, the scan goes on.

    ``column`` is 0 when the engine does not say (regopy's offsets are turned into lines only).
    """

    file: str
    line: int
    message: str
    column: int = 0

    @property
    def place(self) -> str:
        return f"line {self.line}" + (f" column {self.column}" if self.column else "")

    def __str__(self) -> str:
        column = f":{self.column}" if self.column else ""
        return f"{self.file}:{self.line}{column}: {self.message}"


class BundleRejected(Exception):
    """Building an engine found files that do not compile together: they are skipped, the rest rebuilt."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("; ".join(str(problem) for problem in diagnostics))


class RegoEngine(Protocol):
    def results(self, document: dict[str, Any], shared: bool = False) -> PackageVerdicts:
        """Verdicts of every package for one input; raises RegoRuntimeError.

        ``shared``: every package is asked once, with ``input.parameters`` (a cheaper query).
        """
        ...

    def package_results(self, document: dict[str, Any], index: int) -> list[dict[str, Any]]:
        """Verdicts of the package at ``index`` only; raises RegoRuntimeError."""
        ...

    def results_many(self, documents: Sequence[dict[str, Any]],
                     shared: bool = False) -> list[PackageVerdicts | RegoRuntimeError]:
        """Verdicts for several inputs (an engine may batch them)."""
        ...


def one_at_a_time(engine: RegoEngine, documents: Sequence[dict[str, Any]],
                  shared: bool) -> list[PackageVerdicts | RegoRuntimeError]:
    """Each input's verdicts, or its own RegoRuntimeError: one failing input does not fail its neighbours."""
    answers: list[PackageVerdicts | RegoRuntimeError] = []
    for document in documents:
        try:
            answers.append(engine.results(document, shared))
        except RegoRuntimeError as error:
            answers.append(error)
    return answers


# regopy's C input builder: values are pushed on a stack, containers take the last n of them.
_PUSH_STRING = rego.regoInputString
_PUSH_INT = rego.regoInputInt
_PUSH_FLOAT = rego.regoInputFloat
_PUSH_BOOL = rego.regoInputBoolean
_PUSH_NULL = rego.regoInputNull
_MAKE_ITEM = rego.regoInputObjectItem
_MAKE_OBJECT = rego.regoInputObject
_MAKE_ARRAY = rego.regoInputArray
_MAKE_SET = rego.regoInputSet
_VALIDATE = rego.regoInputValidate
_VALIDATE.restype = ctypes.c_uint32
_VALIDATE.argtypes = [ctypes.c_void_p]


_INT64_MIN, _INT64_MAX = -2**63, 2**63 - 1


def _push(handle: int, value: Any) -> None:
    """Push one JSON value depth first (object keys are strings, as in JSON).

    Exact types are tested first: this runs for every node of every input.
    """
    kind = type(value)
    if kind is str:
        _PUSH_STRING(handle, value.encode())
    elif kind is dict:
        for key, item in value.items():
            _PUSH_STRING(handle, key.encode())
            _push(handle, item)
            _MAKE_ITEM(handle)
        _MAKE_OBJECT(handle, len(value))
    elif kind is list:
        for item in value:
            _push(handle, item)
        _MAKE_ARRAY(handle, len(value))
    elif kind is bool:
        _PUSH_BOOL(handle, value)
    elif kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            _PUSH_INT(handle, value)
        else:  # valid JSON beyond 64 bits: a number, as regorus and OPA read it
            _PUSH_FLOAT(handle, float(value))
    elif value is None:
        _PUSH_NULL(handle)
    elif kind is float:
        _PUSH_FLOAT(handle, value)
    else:
        _push_other(handle, value)


def _push_other(handle: int, value: Any) -> None:
    """Subclasses of the JSON types, other mappings and sequences, and sets (as Rego sets)."""
    if isinstance(value, str):
        _PUSH_STRING(handle, value.encode())
    elif isinstance(value, int):
        _push(handle, int(value))
    elif isinstance(value, float):
        _PUSH_FLOAT(handle, float(value))
    elif isinstance(value, Mapping):
        _push(handle, {str(key): item for key, item in value.items()})
    elif isinstance(value, Sequence):
        _push(handle, list(value))
    elif isinstance(value, AbstractSet):
        for item in value:
            _push(handle, item)
        _MAKE_SET(handle, len(value))
    else:
        raise ValueError(f"a {type(value).__name__} cannot be part of a Rego input")


def set_input(interpreter: Interpreter, document: Any) -> None:
    """Give ``document`` to ``interpreter`` as ``input``.

    Same input as ``interpreter.set_input(regopy.Input(document))`` in about half the time
    (regopy's own builder adds a Python wrapper and a buffer copy per node); parsing JSON text
    (``set_input_term``, ``regoSetInputJSON``) is slower still.
    """
    handle = rego_new_input()
    try:
        _push(handle, document)
        if _VALIDATE(handle) != 0:
            raise ValueError("the Rego input could not be built")
        rego_set_input(interpreter._impl, handle)
    finally:
        rego_free_input(handle)


def new_interpreter() -> Interpreter:
    """An interpreter that reports errors through exceptions only (the C library prints otherwise)."""
    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE
    return interpreter


def _error_messages(text: str) -> list[str]:
    """The ``errormsg`` texts of a rego-cpp error tree (each is length-prefixed)."""
    messages = []
    for match in _ERROR_MESSAGE.finditer(text):
        length = int(match.group(1))
        messages.append(text[match.end():match.end() + length])
    return messages


def output_error(output: int) -> str:
    """The message of a failed query's output (regopy shows only ``<error>`` otherwise)."""
    root = rego.regoOutputNode(output)
    texts = [rego_node_json(rego_node_get(root, index)) for index in range(rego_node_size(root))]
    messages = list(dict.fromkeys(message for text in texts for message in _error_messages(text)))
    return "; ".join(messages) or "evaluation failed"


def compile_diagnostic(error: Exception, sources: dict[str, str], fallback_file: str) -> Diagnostic:
    """A compile error as file:line: rego-cpp reports the file and a character offset into it."""
    text = str(error)
    place = _ERROR_PLACE.search(text)
    messages = _error_messages(text)
    file, line = fallback_file, 1
    if place is not None and place.group(1) in sources:
        file = place.group(1)
        line = sources[file].count("\n", 0, int(place.group(2))) + 1
    return Diagnostic(file, line, "; ".join(dict.fromkeys(messages)) or "compile error")


def compile_modules(modules: Sequence[RegoModule]) -> tuple[list[RegoModule], list[Diagnostic]]:
    """Keep the modules that parse and compile together; report the others with file:line."""
    accepted: list[RegoModule] = []
    diagnostics: list[Diagnostic] = []
    sources = {module.name: module.source for module in modules}
    probe = new_interpreter()
    for module in modules:
        try:
            probe.add_module(module.name, module.source)
        except regopy.RegoError as error:
            diagnostics.append(compile_diagnostic(error, sources, module.name))
            continue
        accepted.append(module)
    return accepted, diagnostics


class RegopyEngine:
    """regopy, compiled once into a bundle; each query sets the input and runs the bundle."""

    def __init__(self, bundle: ScanBundle):
        self.bundle = bundle
        self._interpreter = new_interpreter()
        for module in bundle.modules:
            self._interpreter.add_module(module.name, module.source)
        for name, source in bundle.entry_sources:
            self._interpreter.add_module(name, source)
        entrypoints = [bundle.package_path(index) for index in range(len(bundle.packages))]
        self._compiled = self._interpreter.build(None, [bundle.results_path, bundle.shared_results_path,
                                                        *entrypoints])

    def _run(self, document: dict[str, Any], entrypoint: str) -> Any:
        self.set_input(document)
        return self.query(entrypoint)

    def set_input(self, document: dict[str, Any]) -> None:
        """Make ``document`` the input of the next queries."""
        set_input(self._interpreter, document)

    def query(self, entrypoint: str) -> Any:
        """Query one entrypoint on the current input; the raw C calls avoid regopy's second JSON parse."""
        output = rego_bundle_query_entrypoint(self._interpreter._impl, self._compiled._impl, entrypoint)
        try:
            if not rego_output_ok(output):
                raise RegoRuntimeError(output_error(output))
            text = rego_output_string(output)
        finally:
            rego_free_output(output)
        if text == "undefined":
            return None
        try:
            expressions = orjson.loads(text).get("expressions") or [None]
        except orjson.JSONDecodeError:
            # rego-cpp 1.5 can emit unescaped quotes (seen with multi-argument sprintf)
            raise RegoRuntimeError("the Rego engine produced malformed JSON output") from None
        return expressions[0]

    def results(self, document: dict[str, Any], shared: bool = False) -> PackageVerdicts:
        return self._run(document, self.bundle.combined_path(shared)) or {}

    def package_results(self, document: dict[str, Any], index: int) -> list[dict[str, Any]]:
        return self._run(document, self.bundle.package_path(index)) or []

    def results_many(self, documents: Sequence[dict[str, Any]],
                     shared: bool = False) -> list[PackageVerdicts | RegoRuntimeError]:
        return one_at_a_time(self, documents, shared)


class IsolatedEngine:
    """:class:`RegopyEngine` in a child process (:class:`EngineHost`): a crash of regopy is an answer.

    A crash while deciding an input makes that input's answer a :class:`RegoRuntimeError`
    naming the crash (the library then asks each package alone, so only the policy that crashes
    gets the error); the next call starts a fresh child. A RegoRuntimeError raised in the child
    comes back as one; any other exception there (an arcpolicy bug) propagates as
    :class:`IsolatedError`, an internal error. Building raises ``IsolatedError`` with regopy's
    compile error, or :class:`EngineCrash`.
    """

    def __init__(self, bundle: ScanBundle):
        self.bundle = bundle
        self._host = EngineHost(RegopyEngine, bundle)
        self._host.start()

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return self._host.call(method, *args)
        except EngineCrash as crash:
            raise RegoRuntimeError(str(crash)) from None
        except IsolatedError as error:
            if error.kind == RegoRuntimeError.__name__:
                raise RegoRuntimeError(error.message) from None
            raise

    def results(self, document: dict[str, Any], shared: bool = False) -> PackageVerdicts:
        return self._call("results", document, shared)

    def package_results(self, document: dict[str, Any], index: int) -> list[dict[str, Any]]:
        return self._call("package_results", document, index)

    def results_many(self, documents: Sequence[dict[str, Any]],
                     shared: bool = False) -> list[PackageVerdicts | RegoRuntimeError]:
        try:
            return self._call("results_many", list(documents), shared)
        except RegoRuntimeError:  # an input crashed the engine: ask one at a time, so only it gets the error
            return one_at_a_time(self, documents, shared)

    def close(self) -> None:
        self._host.close()


class OpaServerEngine:
    """An OPA server (``opa run --server``) through opa-python-client: upload once, query per cluster.

    Modules are uploaded as policies ``arcpolicy/<n>``, each after the packages it uses (OPA compiles
    a module with those it has: ``upload_order``), the entry module last; a batch of
    inputs goes in one ad-hoc query (``bulk_query_rule``), falling back to one request per
    input when OPA answers the batch with a runtime error, so one failing cluster does not fail
    its neighbours. OPA's runtime errors (HTTP 500) are :class:`RegoRuntimeError`; an OPA server
    that cannot be reached or refuses a request is a :class:`ServiceError`.
    """

    def __init__(self, bundle: ScanBundle, url: str, upload_order: Sequence[RegoModule] = (), timeout: float = 10.0):
        from opa_client import OpaClient

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError("--opa-url", "expected http(s)://host:port of an OPA server", value=url)
        self.bundle = bundle
        self.url = url
        self.upload_order = list(upload_order) or list(bundle.modules)
        self.client = OpaClient(host=parts.hostname, port=parts.port or (443 if parts.scheme == "https" else 8181),
                                ssl=parts.scheme == "https", retries=0, timeout=timeout)
        self._upload()

    def _upload(self) -> None:
        from opa_client.errors import RegoParseError

        sources = [*((module.name, module.source) for module in self.upload_order), *self.bundle.entry_sources]
        for number, (name, source) in enumerate(sources):
            try:
                self._request(self.client.update_policy_from_string, source, f"arcpolicy/{number}",
                              rego_compat=False)
            except RegoParseError as error:
                raise InputError("--opa-url", f"OPA rejected {name} (policy arcpolicy/{number}): {error}") from None

    def _request(self, call: Callable[..., Any], *args: Any, **options: Any) -> Any:
        """One client call: OPA's runtime errors are RegoRuntimeError, transport and refusals ServiceError."""
        import requests

        try:
            return call(*args, **options)
        except requests.HTTPError as error:
            response = error.response
            if response is not None and response.status_code == _OPA_RUNTIME_ERROR_STATUS:
                raise RegoRuntimeError(_opa_message(response)) from None
            raise ServiceError(f"OPA server {self.url} refused a request: {_opa_message(response)}") from None
        except requests.RequestException as error:
            raise ServiceError(f"cannot reach OPA server {self.url}: {type(error).__name__}") from None

    def _query(self, document: dict[str, Any], rule: str) -> Any:
        package, _, name = rule.rpartition("/")
        return self._request(self.client.query_rule, document, package.replace("/", "."), name).get("result")

    def results(self, document: dict[str, Any], shared: bool = False) -> PackageVerdicts:
        return self._query(document, self.bundle.combined_path(shared)) or {}

    def package_results(self, document: dict[str, Any], index: int) -> list[dict[str, Any]]:
        return self._query(document, self.bundle.package_path(index)) or []

    def results_many(self, documents: Sequence[dict[str, Any]],
                     shared: bool = False) -> list[PackageVerdicts | RegoRuntimeError]:
        from opa_client.errors import QueryExecuteError

        package, _, name = self.bundle.combined_path(shared).rpartition("/")
        try:
            batch = self._request(self.client.bulk_query_rule, list(documents), package.replace("/", "."), name)
        except (RegoRuntimeError, QueryExecuteError):  # some input failed (or was undefined): ask one at a time
            return one_at_a_time(self, documents, shared)
        return [answer or {} for answer in batch]


_OPA_RUNTIME_ERROR_STATUS = 500  # OPA answers an evaluation error (conflict, strict built-in) with 500 internal_error


def _opa_message(response: requests.Response | None) -> str:
    if response is None:
        return "OPA request failed"
    try:
        body = response.json()
    except ValueError:
        return f"OPA answered HTTP {response.status_code}"
    details = [error.get("message", "") for error in body.get("errors", []) if isinstance(error, dict)]
    return "; ".join(filter(None, [body.get("message", ""), *details])) or f"OPA answered HTTP {response.status_code}"
