"""OPA's compile-time refusals that regorus does not make: such a module is a diagnostic, as on OPA.

OPA type-checks every module before evaluating anything and refuses, among others, a built-in
called with the wrong number of arguments (``count()``), rules of one name defined as different
kinds (``p := 1`` and ``p contains 2``; a function with two arities), two ``default`` rules of one
name, a ``default`` value holding a variable, and recursion between rules. regorus loads such
modules and evaluates them (``count()`` is undefined there, recursion an error of each input), so
a policy OPA never runs would give verdicts. Each check reads regorus's AST of the modules and
gives ``file:line:column`` and what OPA says (tests/rego/test_opa_compile_errors.py compares
them with the real OPA's refusals).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from engine.rego.engines import Diagnostic
from engine.rego.modules import RegoModule
from engine.rego.regorus_engine import unlimited_parser

OPA_BUILTINS_FILE = Path(__file__).parent / "opa_builtins" / "opa_v1.20.2_builtins.json"
OPA_ARITIES: dict[str, int] = json.loads(OPA_BUILTINS_FILE.read_text())["builtins"]
_VARIADIC = frozenset({"print"})

Node = dict[str, Any]


def _children(node: Any) -> Iterator[tuple[str, Node]]:
    """Every AST node under ``node`` (itself included) as ``(kind, fields)``, in no particular order."""
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, list):
            pending.extend(current)
        elif isinstance(current, dict):
            if len(current) == 1:
                [(kind, fields)] = current.items()
                if isinstance(fields, dict) and "span" in fields:
                    yield kind, fields
            pending.extend(value for key, value in current.items() if key != "span" and isinstance(value, dict | list))


def dotted_name(reference: Node) -> str | None:
    """``a.b.c`` for a Var or a chain of ``.field`` on a Var; None for anything else (brackets, calls)."""
    kind, fields = next(iter(reference.items()))
    if kind == "Var":
        return str(fields["value"])
    if kind == "RefDot":
        head = dotted_name(fields["refr"])
        return None if head is None else f"{head}.{fields['field'][1]}"
    return None


def _place(fields: Node) -> tuple[int, int]:
    return fields["span"]["line"], fields["span"]["col"]


class _Rule:
    """One rule definition: its name, its kind (``value``, ``set``, ``function/N``) and its AST."""

    def __init__(self, file: str, package: str, entry: Node):
        [(self.ast_kind, fields)] = entry.items()
        self.file, self.package, self.fields = file, package, fields
        self.line, self.column = _place(fields)
        if self.ast_kind == "Default":
            self.name = dotted_name(fields["refr"])
            self.kind = f"function/{len(fields['args'])}" if fields["args"] else "value"
            return
        [(head_kind, head)] = fields["head"].items()
        reference = head["refr"]
        partial_object = head_kind == "Compr" and "RefBrack" in reference and "Var" in reference["RefBrack"]["refr"]
        self.name = dotted_name(reference["RefBrack"]["refr"] if partial_object else reference)
        kinds = {"Set": "set", "Compr": "value", "Func": f"function/{len(head.get('args') or [])}"}
        self.kind = "object" if partial_object else kinds.get(head_kind, head_kind)

    def dependencies(self) -> list[Any]:
        """The parts of the rule that refer to other rules: bodies and the head's value (not its name)."""
        if self.ast_kind == "Default":
            return [self.fields["value"]]
        head = next(iter(self.fields["head"].values()))
        key = head["refr"]["RefBrack"]["index"] if self.kind == "object" else None
        return [self.fields["bodies"], head.get("assign"), head.get("key"), key]

    @property
    def path(self) -> str:
        return f"data.{self.package}.{self.name}"

    def locals(self) -> set[str]:
        """Names bound in the rule (function arguments, ``:=``, ``some``, ``every``): they shadow rules."""
        bound: set[str] = set()
        roots: list[Any] = []
        head = next(iter(self.fields.get("head", {}).values()), {})
        roots.extend(head.get("args", []) if isinstance(head, dict) else [])
        for kind, fields in _children(self.fields):
            if kind == "AssignExpr" and fields.get("op") == "ColEq":
                roots.append(fields["lhs"])
            elif kind == "SomeVars":
                roots.append(fields["vars"])
            elif kind in ("SomeIn", "Every"):
                roots.extend([fields.get("key"), fields.get("value")])
        for root in roots:
            bound.update(str(fields["value"]) for kind, fields in _children(root) if kind == "Var")
        return bound


def _asts(modules: Sequence[RegoModule]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Each module's AST by file; a module whose AST is nested beyond what JSON is read to (orjson's 1,024 levels)
    is refused by a diagnostic (sought one module at a time only then)."""
    parser = unlimited_parser()
    for module in modules:
        with contextlib.suppress(RuntimeError):  # regorus refuses it (a v0 body another engine takes): checked apart
            parser.add_policy(module.name, module.source)
    try:
        return {entry["source"]["file"]: entry["ast"] for entry in orjson.loads(parser.get_ast_as_json())}, []
    except orjson.JSONDecodeError:
        if len(modules) > 1:
            parts = [_asts([module]) for module in modules]
            return ({file: ast for asts, _ in parts for file, ast in asts.items()},
                    [diagnostic for _, refused in parts for diagnostic in refused])
        return {}, [Diagnostic(modules[0].name, 1, "nested too deeply for arcpolicy's compile checks (an expression "
                                                   "more than about 1,000 levels deep)", 1)]


def _rules(asts: dict[str, Any], modules: Sequence[RegoModule]) -> list[_Rule]:
    """Every named rule of ``modules``."""
    packages = {module.name: module.package for module in modules}
    rules = [_Rule(file, packages[file], entry) for file, ast in asts.items() for entry in ast["rules"]]
    return [rule for rule in rules if rule.name is not None]


def _conflicts(rules: list[_Rule]) -> Iterator[Diagnostic]:
    """Rules of one name as different kinds, and two ``default`` rules of one name (OPA's rego_type_error)."""
    by_name: dict[str, list[_Rule]] = {}
    for rule in rules:
        by_name.setdefault(rule.path, []).append(rule)
    for path, defined in by_name.items():
        if len({rule.kind for rule in defined}) > 1:
            first = defined[0]
            kinds = " and ".join(sorted({rule.kind.replace("/", " of arity ") for rule in defined}))
            yield Diagnostic(first.file, first.line, f"conflicting rules {path} found ({kinds}): OPA refuses "
                                                     "this module (rego_type_error)", first.column)
        defaults = [rule for rule in defined if rule.ast_kind == "Default"]
        if len(defaults) > 1:
            second = defaults[1]
            yield Diagnostic(second.file, second.line, f"multiple default rules {path} found: OPA refuses this "
                                                       "module (rego_type_error)", second.column)


def _default_values(rules: list[_Rule]) -> Iterator[Diagnostic]:
    """``default p := x``: OPA's parser refuses a default value holding a variable (or a reference)."""
    for rule in rules:
        if rule.ast_kind == "Default" and any(kind == "Var" for kind, _ in _children(rule.fields["value"])):
            yield Diagnostic(rule.file, rule.line, f"illegal default rule {rule.path} (value cannot contain a variable or reference): "
                                                   "OPA refuses this module (rego_parse_error)", rule.column)


def _recursion(rules: list[_Rule], aliases_by_file: dict[str, dict[str, str]]) -> Iterator[Diagnostic]:
    """A rule that depends on itself through rules of the loaded packages (OPA's rego_recursion_error)."""
    names = {rule.path for rule in rules}
    depends: dict[str, set[str]] = {}
    first: dict[str, _Rule] = {}
    for rule in rules:
        first.setdefault(rule.path, rule)
        aliases = aliases_by_file[rule.file]
        bound = rule.locals()
        found = depends.setdefault(rule.path, set())
        for kind, fields in _children(rule.dependencies()):
            if kind == "Var" and fields["value"] not in bound and f"data.{rule.package}.{fields['value']}" in names:
                found.add(f"data.{rule.package}.{fields['value']}")
            elif kind == "RefDot":
                dotted = dotted_name({kind: fields})
                if dotted is None:
                    continue
                head, _, rest = dotted.partition(".")
                target = f"{aliases[head]}.{rest}" if head in aliases and head not in bound else dotted
                if target in names:
                    found.add(target)
    reported: set[str] = set()
    for start in sorted(first):
        cycle = _cycle(start, depends)
        if cycle and not reported & set(cycle):
            reported.update(cycle)
            rule = first[start]
            yield Diagnostic(rule.file, rule.line, f"rule {start} is recursive: {' -> '.join([*cycle, start])}: "
                                                   "OPA refuses this module (rego_recursion_error)", rule.column)


def _cycle(start: str, depends: dict[str, set[str]]) -> list[str] | None:
    """A path of dependencies from ``start`` back to itself, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        for following in sorted(depends.get(current, ())):
            if following == start:
                return path
            if following not in seen:
                seen.add(following)
                stack.append((following, [*path, following]))
    return None


def _import_aliases(ast: dict[str, Any], source: str) -> dict[str, str]:
    """``import data.lib.x as y`` -> ``{"y": "data.lib.x"}`` (the last name without ``as``)."""
    aliases: dict[str, str] = {}
    for entry in ast.get("imports", []):
        path = dotted_name(entry["refr"])
        if path and path.startswith("data."):
            alias = entry.get("as")
            # regorus's spans count bytes
            aliases[source.encode()[alias["start"]:alias["end"]].decode() if alias else path.rsplit(".", 1)[-1]] = path
    return aliases


def _arities(rules: list[_Rule], asts: dict[str, Any]) -> Iterator[Diagnostic]:
    """A built-in called with fewer arguments than it takes, or more than one beyond (its result variable)."""
    functions = {(rule.package, rule.name.split(".")[0]) for rule in rules}
    packages = {rule.file: rule.package for rule in rules}
    for file, ast in asts.items():
        for kind, fields in _children(ast["rules"]):
            if kind != "Call":
                continue
            name = dotted_name(fields["fcn"])
            if name not in OPA_ARITIES or name in _VARIADIC or (packages.get(file), name.split(".")[0]) in functions:
                continue
            given, takes = len(fields["params"]), OPA_ARITIES[name]
            if not takes <= given <= takes + 1:
                line, column = _place(fields["fcn"][next(iter(fields["fcn"]))])
                plural = "" if takes == 1 else "s"
                yield Diagnostic(file, line, f"{name}: arity mismatch: it takes {takes} argument{plural} (and "
                                             f"optionally a variable for its result), {given} given: OPA refuses "
                                             "this module (rego_type_error)", column)


def refused_by_opa(modules: Sequence[RegoModule]) -> tuple[list[RegoModule], list[Diagnostic]]:
    """Keep the modules OPA compiles; each refusal is a diagnostic at its place, and its module is skipped."""
    if not modules:
        return [], []
    asts, too_deep = _asts(modules)
    rules = _rules(asts, modules)
    sources = {module.name: module.source for module in modules}
    aliases = {file: _import_aliases(ast, sources[file]) for file, ast in asts.items()}
    diagnostics = [*too_deep, *_conflicts(rules), *_default_values(rules), *_recursion(rules, aliases),
                   *_arities(rules, asts)]
    refused = {diagnostic.file for diagnostic in diagnostics}
    return [module for module in modules if module.name not in refused], diagnostics
