"""regorus (Microsoft's Rego interpreter in Rust, packaged on PyPI as ``gordon-to-regorus``), in process.

Two regorus evaluators share the work. The compiled VM (``Program.compile_from_modules`` +
``Rvm``) is the fast one, about four times the interpreter's speed, and answers the query asked
for most clusters (every package once, with ``input.parameters``: see :mod:`engine.rego.bundle`).
It does not cover all of Rego, so the interpreter (``regorus.Engine``) answers everything else:

- packages the VM cannot compile (``with``, ``print``, built-ins it lacks) are asked through the
  interpreter, package by package, next to the VM's answer for the others;
- single-package queries (asked to isolate a runtime error);
- any VM answer holding ``"<undefined>"``: the VM turns runtime errors (division by zero,
  conflicting rule values) into that marker where the interpreter raises the error, so such an
  input is asked again through the interpreter, which gives the ``Error`` the author expects;
- packages that use a rule which could have several values for one input (OPA's "multiple
  outputs" error): the VM silently keeps one of them, so :func:`vm_unconformant_packages` finds
  such rules in the AST (a rule with a value defined twice, or whose body or value iterates
  outside a comprehension) and those packages are not given to the VM; so are packages with a
  general ref head (``p[q].r := v``, ``p[q] contains r``), whose documents the VM builds wrongly,
  and packages with a default function (``default f(x) := 1``), whose fallback the VM never gives.
- packages that call a built-in whose regorus answer differs from OPA's (``sprintf``,
  ``json.marshal``, ``base64.decode``) or that regorus lacks (``crypto.sha256``, ...): the
  interpreter has OPA's versions as extensions (:mod:`engine.rego.opa_builtins`), the VM takes
  none; packages calling ``upper``, ``lower`` or ``count``, which differ from OPA's only on
  non-ASCII text, stay on the VM for ASCII inputs (``str.isascii`` is free) and sources.

The differential test (tests/rego/test_differential.py) runs the shipped library, the example
policy repository, the Rego test files and thousands of generated clusters through regopy, the
interpreter and the VM, and fails on any difference in verdicts.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
import regorus

from engine.rego import opa_builtins
from engine.rego.bundle import ENTRY_FILE, PARAMETER_SETS_KEY, VM_ENTRY_FILE, ScanBundle
from engine.rego.engines import BundleRejected, Diagnostic, PackageVerdicts, RegoRuntimeError, one_at_a_time
from engine.rego.modules import RegoModule
from engine.rego.references import References, called_names

_PLACE = re.compile(r"--> (.+?):(\d+):(\d+)")
_MESSAGE = re.compile(r"^error: (.*)$", re.MULTILINE)
_SURROGATE = re.compile("[\ud800-\udfff]")
_VM_UNDEFINED = b'"<undefined>"'  # the VM's stand-in for a value that errored or was undefined


def _engine_failure(error: BaseException) -> bool:
    """regorus's own failures: errors it raises (RuntimeError) and Rust panics (pyo3's PanicException)."""
    return isinstance(error, RuntimeError) or type(error).__name__ == "PanicException"


def error_message(error: BaseException) -> str:
    """regorus's message without the source excerpt and backtrace: ``file:line:column: what``."""
    text = str(error)
    message = _MESSAGE.search(text)
    what = message.group(1).strip() if message else next(
        (line.strip() for line in text.splitlines() if line.strip()), "evaluation failed")
    place = _PLACE.search(text)
    return f"{place.group(1)}:{place.group(2)}:{place.group(3)}: {what}" if place else what


def diagnostic(error: BaseException, fallback_file: str) -> Diagnostic:
    """A compile error as a Diagnostic with file, line and column from regorus."""
    text = str(error)
    message = _MESSAGE.search(text)
    what = message.group(1).strip() if message else error_message(error)
    place = _PLACE.search(text)
    if place is None:
        return Diagnostic(fallback_file, 1, what)
    return Diagnostic(place.group(1), int(place.group(2)), what, int(place.group(3)))


def unlimited_parser() -> regorus.Engine:
    """A regorus engine without source limits, for parsing (its AST) and as the base of an interpreter.

    regorus refuses lines over 1,024 columns, files over 20,000 lines or 1 MiB; OPA has no such
    limits, so a policy with a long line (a long package name, an allow-list on one line) must
    load; reading the files is bounded by the input limits already.
    """
    engine = regorus.Engine()
    engine.set_policy_length_config(max_col=2**31 - 1, max_file_bytes=2**40, max_lines=2**40)
    return engine


def _unlimited_engine() -> regorus.Engine:
    """A regorus interpreter with OPA's built-ins (:mod:`engine.rego.opa_builtins`) and no source limits."""
    interpreter = unlimited_parser()
    opa_builtins.install(interpreter)
    return interpreter


def new_interpreter(modules: Sequence[tuple[str, str]]) -> regorus.Engine:
    """A regorus interpreter holding ``(file, source)`` modules (Rego v1, as OPA 1.x)."""
    interpreter = _unlimited_engine()
    for name, source in modules:
        interpreter.add_policy(name, source)
    return interpreter


_BUILTIN_PROBE = regorus.Engine()


@functools.cache
def native_builtin(name: str) -> bool:
    """Whether regorus itself has ``name`` (a call with no arguments tells an unknown name from a wrong arity)."""
    try:
        _BUILTIN_PROBE.eval_query(f"{name}()")
    except RuntimeError as error:
        return "could not find function" not in str(error)
    return True


def regorus_builtin(name: str) -> bool:
    """Whether regorus, with OPA's built-ins added, has ``name``."""
    return name in opa_builtins.BUILTINS or native_builtin(name)


def check_modules(modules: Sequence[RegoModule]) -> tuple[list[RegoModule], list[Diagnostic]]:
    """Keep the modules that parse; the others are diagnostics with file:line:column."""
    accepted: list[RegoModule] = []
    diagnostics: list[Diagnostic] = []
    for module in modules:
        try:
            _unlimited_engine().add_policy(module.name, module.source)
        except RuntimeError as error:
            diagnostics.append(diagnostic(error, module.name))
            continue
        accepted.append(module)
    return accepted, diagnostics


_COMPREHENSIONS = frozenset({"ArrayCompr", "SetCompr", "ObjectCompr"})
_ITERATING_LITERALS = frozenset({"SomeIn", "SomeVars"})


def _iterates(node: Any) -> bool:
    """Whether an AST node binds several values outside comprehensions (``some``, ``x[_]``, ``x[var]``)."""
    if isinstance(node, list):
        return any(_iterates(item) for item in node)
    if not isinstance(node, dict):
        return False
    for key, value in node.items():
        if key in _COMPREHENSIONS:
            continue
        if key in _ITERATING_LITERALS or (key == "RefBrack" and "Var" in (value.get("index") or {})):
            return True
        if _iterates(value):
            return True
    return False


def _rule_name(reference: dict[str, Any]) -> str:
    """The rule a head defines (``o`` for ``o[k] := v``, ``a.b`` for ``a.b := v``)."""
    kind, value = next(iter(reference.items()))
    if kind == "Var":
        return str(value["value"])
    if kind == "RefDot":
        return f"{_rule_name(value['refr'])}.{value['field']}"
    return _rule_name(value["refr"])


def _variable_keys(reference: dict[str, Any]) -> list[bool]:
    """For each ``[...]`` of a rule head's ref, outermost first: whether its key is not a string literal."""
    kind, value = next(iter(reference.items()))
    if kind == "RefBrack":
        return [next(iter(value["index"])) != "String", *_variable_keys(value["refr"])]
    if kind == "RefDot":
        return [False, *_variable_keys(value["refr"])]
    return []


def _general_ref_head(kind: str, head: dict[str, Any]) -> bool:
    """A head other than ``p contains x``, ``p := v`` or ``p[k] := v`` (``p.q.r := 1``, ``a.b contains x``,
    ``p[q].r := v``): regorus's VM builds such documents wrongly (flattened or empty)."""
    keys = _variable_keys(head["refr"])
    return not (keys == [] or (kind == "Compr" and keys == [True]))


def _variables(node: Any, names: Counter[str]) -> None:
    """Count each variable's occurrences under ``node``."""
    if isinstance(node, list):
        for item in node:
            _variables(item, names)
    elif isinstance(node, dict):
        variable = node.get("Var")
        if isinstance(variable, dict) and isinstance(variable.get("value"), str):
            names[variable["value"]] += 1
        for value in node.values():
            _variables(value, names)


def _assigned(node: Any) -> Iterator[str]:
    """The variables assigned (``x := e``, ``x = e``) anywhere under ``node``."""
    if isinstance(node, list):
        for item in node:
            yield from _assigned(item)
    elif isinstance(node, dict):
        assignment = node.get("AssignExpr")
        if isinstance(assignment, dict) and "Var" in (assignment.get("lhs") or {}):
            yield assignment["lhs"]["Var"]["value"]
        for value in node.values():
            yield from _assigned(value)


def _unused_assignment(spec: dict[str, Any]) -> bool:
    """A rule assigning a variable it never reads (``x := input.missing`` alone, ``_ := [1][5]``): regorus's VM
    takes the assignment of an undefined value as true there, where OPA (and the interpreter) stop."""
    names: Counter[str] = Counter()
    _variables(spec, names)
    return any(name == "_" or names[name] < 2 for name in _assigned(spec["bodies"]))


def vm_unconformant_packages(interpreter: regorus.Engine, packages: dict[str, str]) -> set[str]:
    """Packages (by file -> package) the VM cannot answer as OPA: a rule that may give one input several
    values (see module doc), a general ref head (:func:`_general_ref_head`), a default function
    (``default f(x) := 1``, whose fallback the VM never gives: ``f(-1)`` is undefined there), or a variable
    assigned and never read (:func:`_unused_assignment`)."""
    prone: set[str] = set()
    for entry in orjson.loads(interpreter.get_ast_as_json()):
        package = packages.get(entry["source"]["file"])
        valued: dict[str, int] = {}
        for rule in entry["ast"]["rules"]:
            spec = rule.get("Spec")
            if spec is None:  # a default rule has one value; the VM leaves a default function's call undefined
                if rule.get("Default", {}).get("args") and package is not None:
                    prone.add(package)
                continue
            if package is not None and _unused_assignment(spec):
                prone.add(package)
                continue
            [(kind, head)] = spec["head"].items()
            if kind in ("Compr", "Set") and _general_ref_head(kind, head) and package is not None:
                prone.add(package)
                continue
            if kind not in ("Compr", "Func") or head.get("assign") is None:
                continue  # partial sets and boolean rules cannot conflict
            name = _rule_name(head["refr"])
            valued[name] = valued.get(name, 0) + 1
            if _iterates(head["assign"]) or _iterates([body["query"] for body in spec["bodies"]]):
                valued[name] += 1
        if package is not None and any(count > 1 for count in valued.values()):
            prone.add(package)
    return prone


def json_text(document: Any) -> str:
    """``document`` as JSON text for regorus, whatever Python's json module read from the user's files.

    orjson refuses integers beyond 64 bits (valid JSON) and lone surrogates (``"\\ud800"``, which
    Python's json module reads): those documents go through :func:`_encodable` and the json module.
    """
    try:
        return orjson.dumps(document).decode()
    except TypeError:
        return json.dumps(_encodable(document), ensure_ascii=False, allow_nan=False)


def _encodable(value: Any) -> Any:
    """What orjson would write: non-finite floats as null, strings as valid UTF-8 (lone surrogates as U+FFFD)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_encodable(key) if isinstance(key, str) else key: _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value



def _rule(path: str) -> str:
    """A slash-separated bundle path as the interpreter's rule path (``data.a.b.rule``)."""
    return "data." + path.replace("/", ".")


class RegorusEngine:
    """The scan bundle in regorus: the VM for the packages it compiles, the interpreter for the rest."""

    def __init__(self, bundle: ScanBundle):
        self.bundle = bundle
        sources = [(module.name, module.source) for module in bundle.modules]
        try:
            self._interpreter = new_interpreter([*sources, *bundle.entry_sources])
        except RuntimeError as error:
            raise BundleRejected([diagnostic(error, ENTRY_FILE)]) from None
        prone = vm_unconformant_packages(self._interpreter, {module.name: module.package for module in bundle.modules})
        uses = _uses(bundle.modules)
        calls = _calls(bundle.modules, uses)
        unicode_sources = {module.package for module in bundle.modules if not module.source.isascii()}
        candidates = [index for index, package in enumerate(bundle.packages)
                      if not uses(package) & prone and not calls(package) & opa_builtins.OVERRIDDEN
                      and not (calls(package) & opa_builtins.UNICODE_SENSITIVE and uses(package) & unicode_sources)]
        program = _try_compile_vm(bundle, uses, candidates)
        if program is None:  # `with`, print() or a built-in the VM lacks somewhere: find the packages it compiles
            candidates = [index for index in candidates if _try_compile_vm(bundle, uses, [index]) is not None]
            program = _try_compile_vm(bundle, uses, candidates)
        self.vm_packages = candidates if program is not None else []
        self._vm: regorus.Rvm | None = None
        if program is not None:
            self._vm = regorus.Rvm()
            self._vm.load_program(program)
        on_vm = set(self.vm_packages)
        self._interpreted = [index for index in range(len(bundle.packages)) if index not in on_vm]
        self._package_index = {package: index for index, package in enumerate(bundle.packages)}
        self._on_vm = frozenset(bundle.packages[index] for index in self.vm_packages)
        # the VM answers these only for ASCII inputs: their built-ins differ from OPA's on other text
        self._ascii_only = any(calls(bundle.packages[index]) & opa_builtins.UNICODE_SENSITIVE
                               for index in self.vm_packages)

    # ---- the interpreter ------------------------------------------------------------------
    def _evaluate(self, text: str, path: str) -> Any:
        try:
            self._interpreter.set_input_json(text)
            answer = self._interpreter.eval_rule_as_json(_rule(path))
        except BaseException as error:
            if _engine_failure(error):
                raise RegoRuntimeError(error_message(error)) from None
            raise
        return orjson.loads(answer)

    # ---- the VM ---------------------------------------------------------------------------
    def vm_results(self, text: str) -> PackageVerdicts | None:
        """The VM's answer for its packages, or None when it must be asked of the interpreter."""
        assert self._vm is not None
        try:
            self._vm.set_input_json(text)
            answer = self._vm.execute().encode()
        except BaseException as error:
            if _engine_failure(error):
                return None  # the interpreter gives the error its proper message
            raise
        if _VM_UNDEFINED in answer:
            return None
        return orjson.loads(answer)

    # ---- RegoEngine -----------------------------------------------------------------------
    def interpreter_results(self, document: dict[str, Any], shared: bool = False) -> PackageVerdicts:
        """:meth:`results` from the interpreter alone."""
        return self._evaluate(json_text(document), self.bundle.combined_path(shared)) or {}

    def results(self, document: dict[str, Any], shared: bool = False) -> PackageVerdicts:
        if self._vm is None:
            return self.interpreter_results(document, shared)
        if not shared:
            return self._results_per_parameter_set(document)
        text = json_text(document)
        if self._ascii_only and not text.isascii():
            return self._evaluate(text, self.bundle.shared_results_path) or {}
        answer = self.vm_results(text)
        if answer is None:
            return self._evaluate(text, self.bundle.shared_results_path) or {}
        for index in self._interpreted:
            answer[self.bundle.packages[index]] = self._evaluate(text, self.bundle.package_path(index)) or []
        return answer

    def _results_per_parameter_set(self, document: dict[str, Any]) -> PackageVerdicts:
        """Several parameter sets: the VM once per distinct set, given as plain ``input.parameters``.

        The VM compiles no ``with``; asking it per set keeps these packages on the VM, whose
        built-in errors make an expression undefined as OPA's do by default (regorus's interpreter
        raises them), so an assignment's own parameters do not change the semantics.
        """
        sets: dict[str, list[dict[str, Any]]] = document[PARAMETER_SETS_KEY]
        if self._ascii_only and not json_text(document).isascii():
            return self.interpreter_results(document, shared=False)
        answers: dict[str, PackageVerdicts] = {}
        answer: PackageVerdicts = {}
        text: str | None = None  # the whole document, for the interpreter's packages
        for package, chosen in sets.items():
            if package not in self._on_vm:
                text = json_text(document) if text is None else text
                answer[package] = self._evaluate(text, self.bundle.package_path(self._package_index[package])) or []
                continue
            answer[package] = []
            for parameters in chosen:
                key = json_text(parameters)
                if key not in answers:
                    found = self.vm_results(json_text({**document, "parameters": parameters}))
                    if found is None:  # a runtime error: the interpreter names it
                        return self.interpreter_results(document, shared=False)
                    answers[key] = found
                answer[package].extend(answers[key][package])
        return answer

    def package_results(self, document: dict[str, Any], index: int) -> list[dict[str, Any]]:
        return self._evaluate(json_text(document), self.bundle.package_path(index)) or []

    def results_many(self, documents: Sequence[dict[str, Any]],
                     shared: bool = False) -> list[PackageVerdicts | RegoRuntimeError]:
        return one_at_a_time(self, documents, shared)


def _uses(modules: Sequence[RegoModule]) -> Callable[[str], set[str]]:
    """``uses(package)``: that package and every loaded package it uses, directly or through others."""
    references = References(modules)
    direct: dict[str, set[str]] = {}
    for module in modules:
        direct.setdefault(module.package, set()).update(references.packages_used(module))

    def uses(package: str) -> set[str]:
        found, pending = {package}, [package]
        while pending:
            for used in direct.get(pending.pop(), set()) - found:
                found.add(used)
                pending.append(used)
        return found

    return uses


def _calls(modules: Sequence[RegoModule], uses: Callable[[str], set[str]]) -> Callable[[str], frozenset[str]]:
    """``calls(package)``: the function names called by that package and every package it uses."""
    direct: dict[str, set[str]] = {}
    for module in modules:
        direct.setdefault(module.package, set()).update(called_names(module))

    @functools.cache
    def calls(package: str) -> frozenset[str]:
        return frozenset().union(*(direct.get(used, set()) for used in uses(package)))

    return calls


def _try_compile_vm(bundle: ScanBundle, uses: Callable[[str], set[str]],
                    indices: list[int]) -> regorus.Program | None:
    """A VM program answering the packages at ``indices`` with ``input.parameters``, or None if it does not compile.

    It holds only the modules those packages use, so one module the VM cannot take (a line over
    its 1,024 columns, ``with``) keeps only the packages using it off the VM.
    """
    if not indices:
        return None
    used = set().union(*(uses(bundle.packages[index]) for index in indices))
    sources = [(module.name, module.source) for module in bundle.modules if module.package in used]
    try:
        return regorus.Program.compile_from_modules("{}", [*sources, (VM_ENTRY_FILE, bundle.vm_entry_source(indices))],
                                                    [_rule(bundle.vm_results_path)])
    except BaseException as error:
        if _engine_failure(error):  # a compile error, or a limit of the VM's compiler (a Rust panic)
            return None
        raise
