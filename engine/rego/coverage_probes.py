"""What the tests reached, for :mod:`engine.rego.coverage`: the engine has no tracer, so the sources say it.

OPA's coverage tracer records an expression when evaluation reaches it and a rule head when the
rule produces a value. regorus reports lines, not that, so the tests run a second time on
instrumented copies of the modules: a ``print(PROBE, n)`` before each statement (rule bodies,
comprehensions, ``every``), one after a body's last statement (the head it defines), one in a
body given to rules without one (``x := 1`` evaluated), and one at the start of each definition
of a rule that has a ``default`` (the default counts when the rule was asked in a test and no
definition produced a value). Probes go on the lines of what they stand for, so rows stay put.
What they print, taken apart from the tests' own prints, is the set of ranges reached.

OPA's rule index skips a body whose indexed conditions do not hold without evaluating any of it:
``input.method == "GET"`` (an input reference, or a function's argument, equal to a constant), a
bare ``input.x``, ``x := input.x`` and an input reference given to a built-in or operator other
than ``==`` must be defined. Copies of those conditions open each instrumented body (they hold
exactly when the statements they copy would), so its probes fire only where OPA's index lets it in.

Not modelled (docs/rego.md, "Unit tests"): the index's other cases (a variable bound to an input
reference and compared later, ``input.xs[_] == 1``), early exit (OPA stops at the first of several
definitions with one constant value, and which comes first is the index's order), and an
expression whose nested call is undefined not being reached itself. There the tests reach, here,
a little more than on OPA.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from engine.rego import rego_ast
from engine.rego.coverage import Range
from engine.rego.modules import RegoModule
from engine.rego.test_discovery import CASES_PREFIX

PROBE = "__arcpolicy_coverage__"
_PRINTED = re.compile(rf"{PROBE} (\d+)$")
_NESTED_QUERIES = frozenset({"ArrayCompr", "SetCompr", "ObjectCompr", "Every"})


@dataclass
class _Default:
    """A rule with a ``default``: its ranges, the probe saying it was asked, the probes of its values."""

    file: str
    ranges: tuple[Range, ...]
    asked: int = -1
    exits: set[int] = field(default_factory=set)


@dataclass
class Instrumented:
    """The instrumented modules, what each probe stands for, and each file's coverable ranges."""

    modules: list[tuple[str, str]]
    probes: list[tuple[str, Range | None]] = field(default_factory=list)
    coverable: dict[str, list[Range]] = field(default_factory=dict)
    defaults: list[_Default] = field(default_factory=list)

    def reached(self, printed: Iterable[str]) -> dict[str, set[Range]]:
        """The ranges reached, by file, from what one test's probes printed."""
        fired = {int(found.group(1)) for line in printed if (found := _PRINTED.search(line))}
        hits: dict[str, set[Range]] = {}
        for number in fired:
            file, reached = self.probes[number]
            if reached is not None:
                hits.setdefault(file, set()).add(reached)
        for default in self.defaults:
            if default.asked in fired and not default.exits & fired:
                hits.setdefault(default.file, set()).update(default.ranges)
        return hits


class _Positions:
    """Byte offsets of a source as OPA's (row, column): columns count bytes from 1."""

    def __init__(self, source: bytes):
        self.starts = [0] + [index + 1 for index, byte in enumerate(source) if byte == 0x0A]

    def at(self, offset: int) -> tuple[int, int]:
        row = bisect.bisect_right(self.starts, offset) - 1
        return row + 1, offset - self.starts[row] + 1

    def range(self, start: int, end: int) -> Range:
        return Range(*self.at(start), *self.at(end))


class _Module:
    """One module's insertions and ranges while it is instrumented."""

    def __init__(self, module: RegoModule, instrumented: Instrumented):
        self.name = module.name
        self.source = module.source.encode()
        self.positions = _Positions(self.source)
        self.instrumented = instrumented
        self.coverable = instrumented.coverable.setdefault(module.name, [])
        self.insertions: list[tuple[int, int, str]] = []  # (offset, order, text)

    def probe(self, reached: Range | None) -> str:
        self.instrumented.probes.append((self.name, reached))
        return f'print("{PROBE}", {len(self.instrumented.probes) - 1})'

    def insert(self, offset: int, text: str) -> None:
        self.insertions.append((offset, len(self.insertions), text))

    def text(self) -> str:
        source = self.source
        for offset, _, text in sorted(self.insertions, reverse=True):
            source = source[:offset] + text.encode() + source[offset:]
        return source.decode()

    def range(self, node: rego_ast.Node) -> Range:
        return self.positions.range(*rego_ast.extent(node, self.source))

    def text_of(self, node: rego_ast.Node) -> str:
        start, end = rego_ast.extent(node, self.source)
        return self.source[start:end].decode()

    def defined(self, value: rego_ast.Node | None) -> str:
        """``_ = <value>; `` for a value that may be undefined: OPA's rule produces nothing then (and its
        index skips a rule whose value reads an undefined input)."""
        if value is None or _constant(value):
            return ""
        return f"_ = {self.text_of(value)}; "


def instrument(modules: Sequence[RegoModule]) -> Instrumented:
    """The modules with probes, and their coverable ranges (OPA's rule heads and expressions)."""
    trees = rego_ast.parse([(module.name, module.source) for module in modules])
    instrumented = Instrumented([])
    for module in modules:
        tree = trees[module.name]
        current = _Module(module, instrumented)
        package = rego_ast.package_path(tree)
        rules = [rule for rule in tree["rules"]
                 if not (rego_ast.head_reference(rule)[0].name or "").startswith(CASES_PREFIX)]
        defaults = _defaults(current, package, rules)
        for rule in rules:
            tag, body = rego_ast.kind(rule)
            if tag == "Spec":
                _rule(current, body, defaults.get(_group(package, rule)))
        instrumented.modules.append((module.name, current.text()))
    return instrumented


def _group(package: str, rule: rego_ast.Node) -> str:
    return package + "." + ".".join(term.name or "[_]" for term in rego_ast.head_reference(rule))


def _defaults(current: _Module, package: str, rules: list[rego_ast.Node]) -> dict[str, _Default]:
    """OPA's ranges of each ``default`` rule: ``default`` itself and what follows it."""
    found: dict[str, _Default] = {}
    for rule in rules:
        tag, body = rego_ast.kind(rule)
        if tag != "Default":
            continue
        start, end = rego_ast.extent(rule, current.source)
        rest = current.positions.range(rego_ast.extent(body["refr"], current.source)[0], end)
        ranges = (current.positions.range(start, start + len("default")), rest)
        current.coverable.extend(ranges)
        found[_group(package, rule)] = default = _Default(current.name, ranges)
        current.instrumented.defaults.append(default)
        default.asked = len(current.instrumented.probes)
        current.instrumented.probes.append((current.name, None))
    return found


def _rule(current: _Module, rule: rego_ast.Node, default: _Default | None) -> None:
    head = rego_ast.kind(rule["head"])[1]
    head_range = current.range(rule["head"])
    current.coverable.append(head_range)
    asked = f'print("{PROBE}", {default.asked}); ' if default else ""
    for nested in _nested_queries(head):
        _query(current, nested)
    assign = head.get("assign")
    value = assign["value"] if assign else head.get("key")
    defined_value = current.defined(value)
    if not rule["bodies"]:  # OPA gives it the body `true`, placed on its value
        value_range = current.range(value) if value else head_range
        current.coverable.append(value_range)
        exit_probe = current.probe(head_range)
        if default:
            default.exits.add(len(current.instrumented.probes) - 1)
        current.insert(rego_ast.extent(rule["head"], current.source)[1],
                       f" if {{ {asked}{defined_value}{current.probe(value_range)}; {exit_probe} }}")
        return
    for body in rule["bodies"]:
        defined = head_range
        if body["is_else"]:
            start = body["span"]["start"]
            end = rego_ast.extent(body["assign"], current.source)[1] if body["assign"] else start + len("else")
            defined = current.positions.range(start, end)
            current.coverable.append(defined)
            for nested in _nested_queries(body["assign"]):
                _query(current, nested)
        exit_probe = defined_value + current.probe(defined)
        if body["is_else"] and body["assign"]:
            exit_probe = current.defined(body["assign"]["value"]) + current.probe(defined)
        if default:
            default.exits.add(len(current.instrumented.probes) - 1)
        query = body.get("query")
        if not query or not query["stmts"]:
            current.insert(rego_ast.extent(body, current.source)[1], f" if {{ {asked}{exit_probe} }}")
            continue
        statements = query["stmts"]
        first = rego_ast.extent(statements[0], current.source)[0]
        braced = query["span"]["start"] < first  # `if expr` has no braces, though expr may start with one
        guards = "".join(f"{guard}; " for guard in _index_guards(current, statements, _arguments(head)))
        current.insert(first, ("" if braced else "{ ") + asked + guards)
        _query(current, query)
        last = rego_ast.extent(statements[-1], current.source)[1]
        if braced:
            closing = query["span"]["end"] - 1
            newline = b"\n" in current.source[last:closing]
            current.insert(closing, f"{exit_probe} " if newline else f"; {exit_probe} ")
        else:
            current.insert(last, f"; {exit_probe} }}")


def _arguments(head: rego_ast.Node) -> set[str]:
    """A function's argument variables (OPA indexes its rules on them too)."""
    return {argument["Var"]["value"] for argument in head.get("args", []) if "Var" in argument}


def _index_guards(current: _Module, statements: list[rego_ast.Node], arguments: set[str]) -> list[str]:
    """Copies of the conditions OPA's rule index checks before entering a body (see the module docstring)."""
    guards: list[str] = []
    for statement in statements:
        tag, literal = rego_ast.kind(statement["literal"])
        if tag != "Expr" or statement.get("with_mods"):
            continue  # `not ...`, `some`, `every` and expressions under `with` are not indexed
        expression_tag, expression = rego_ast.kind(literal["expr"])
        if expression_tag in ("BoolExpr", "AssignExpr") and expression["op"] in ("Eq", "ColEq"):
            sides = (expression["lhs"], expression["rhs"])
            for one, other in (sides, sides[::-1]):
                if expression["op"] == "Eq" and _indexed(one, arguments) and _scalar(other):
                    guards.append(current.text_of(statement))
                elif "Var" in one and _input_reference(other):
                    guards.append(f"_ = {current.text_of(other)}")
            continue  # the operands of `==` and `=` are compared in place, not taken apart
        if _input_reference(literal["expr"]):
            guards.append(f"_ = {current.text_of(literal['expr'])}")
            continue
        guards.extend(f"_ = {current.text_of(operand)}" for operand in _operands(literal["expr"])
                      if _input_reference(operand))
    return guards


def _operands(node: rego_ast.Node) -> Iterator[rego_ast.Node]:
    """What a built-in call or an operator takes, nested calls and operators included (not comprehensions)."""
    tag, body = rego_ast.kind(node)
    if tag == "Call":
        children = body["params"]
    elif tag in ("BoolExpr", "ArithExpr", "AssignExpr"):
        children = [body["lhs"], body["rhs"]]
    elif tag == "Membership":
        children = [body["value"], body["collection"]]
    elif tag == "UnaryExpr":
        children = [body["expr"]]
    else:
        return
    for child in children:
        yield child
        yield from _operands(child)


def _input_reference(node: rego_ast.Node) -> bool:
    """``input`` or ``input.a.b[0]["c"]``: a reference into the input without variables."""
    terms = rego_ast.reference(node)
    return terms[0].name == "input" and all(term.name is not None or _number(term.node) for term in terms)


def _number(node: rego_ast.Node) -> bool:
    return "Number" in node


def _indexed(node: rego_ast.Node, arguments: set[str]) -> bool:
    return _input_reference(node) or ("Var" in node and node["Var"]["value"] in arguments)


def _scalar(node: rego_ast.Node) -> bool:
    """A value OPA's index keys on: a string, number, boolean or null, or an array of them."""
    tag, body = rego_ast.kind(node)
    if tag == "Array":
        return all(_scalar(item) for item in body["items"])
    return tag in ("String", "RawString", "Number", "Bool", "Null")


def _constant(node: rego_ast.Node) -> bool:
    """A literal without variables, references or calls."""
    return not any(key in ("Var", "Call") or key.startswith("Ref") for key, _ in rego_ast.pairs(node))


def _query(current: _Module, query: rego_ast.Node) -> None:
    """A probe before each statement (OPA's expressions; ``some x`` declarations are not evaluated)."""
    for statement in query["stmts"]:
        literal_tag = next(iter(statement["literal"]))
        if literal_tag == "SomeVars":
            continue
        reached = current.range(statement)
        if literal_tag != "SomeIn":  # evaluated, but OPA's parsed module has no expression to count there
            current.coverable.append(reached)
        current.insert(rego_ast.extent(statement, current.source)[0], f"{current.probe(reached)}; ")
        for nested in _nested_queries(statement["literal"]):
            _query(current, nested)


def _nested_queries(node: object) -> Iterator[rego_ast.Node]:
    """The queries of comprehensions and ``every`` directly under ``node`` (theirs are visited by _query)."""
    if isinstance(node, list):
        for item in node:
            yield from _nested_queries(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _NESTED_QUERIES:
                yield value["query"]
            else:
                yield from _nested_queries(value)
