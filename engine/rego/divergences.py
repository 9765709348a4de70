"""Rego that regorus answers differently from OPA and arcpolicy cannot make OPA's: warned about when a policy loads.

Each check finds one construct in a module's source (read as ``opa fmt`` writes it, strings and
comments left out) and says, with file:line, what OPA does instead. docs/rego.md lists each with
a minimal example ("Where regorus differs from OPA"). The differences arcpolicy removes itself
(``sprintf``, ``json.marshal``, ``upper`` ...) are in :mod:`engine.rego.opa_builtins`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from engine.rego.engines import Diagnostic
from engine.rego.modules import RegoModule
from engine.rego.references import _code, _line

_NEGATED = re.compile(r"(?<![\w.])not[ \t]([^\n]+)")
_CALL = re.compile(r"(?<![\w.])[A-Za-z_][\w.]*[ \t]*\(")
_OPERATOR = re.compile(r"(?<![=!<>:])(?:!=|<=|>=|<|>|\+|-|\*|/|%|&|\|)(?!=)|(?<![\w.])in(?![\w.])")
_REF = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[)")
_WITH = re.compile(r"(?<![\w.])with[ \t]+\S+[ \t]+as[ \t]+([A-Za-z_][\w.]*)(?![\w.(\[])")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_IMPORT_ALIAS = re.compile(r"^import[ \t]+data\.[\w.]*?([A-Za-z_]\w*)(?:[ \t]+as[ \t]+([A-Za-z_]\w*))?[ \t]*$",
                           re.MULTILINE)

Check = Callable[[RegoModule, str], Iterator[Diagnostic]]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    CHECKS.append(function)
    return function


def divergences(modules: Sequence[RegoModule]) -> list[Diagnostic]:
    """Every construct of ``modules`` whose verdict may differ from OPA's on regorus, once per line."""
    found: dict[tuple[str, int, str], Diagnostic] = {}
    for module in modules:
        code = _code(module.source)
        for each in CHECKS:
            for problem in each(module, code):
                found.setdefault((problem.file, problem.line, problem.message), problem)
    return list(found.values())


@check
def negated_calls(module: RegoModule, code: str) -> Iterator[Diagnostic]:
    """``not f(x.y)``, ``not lower(x) in S``: OPA evaluates a negated call's arguments before the ``not``."""
    for match in _NEGATED.finditer(code):
        unmodified = match.group(1).split(" with ")[0]
        expression = unmodified.strip()
        if _hoisted_by_opa(module, expression):
            shown = module.source[match.start(1):match.start(1) + len(unmodified)].strip()
            yield Diagnostic(module.name, _line(code, match.start()),
                             f"`not {shown}`: OPA evaluates the arguments of a negated call (refs, nested calls) "
                             "before `not`, so when one is undefined or a built-in fails the rule is undefined on "
                             "OPA, where regorus makes the `not` true; bind them first (`v := lower(x)` then "
                             "`not v in S`) for the same verdict on both")


def _hoisted_by_opa(module: RegoModule, expression: str) -> bool:
    """Whether OPA's compiler takes part of the negated ``expression`` out of the ``not``.

    OPA moves nested calls out of any expression, and refs out of a call's arguments (``==``
    keeps its operands: OPA rewrites it to unification); a local variable stays.
    """
    call = re.fullmatch(r"[A-Za-z_][\w.]*[ \t]*\((.*)\)", expression)
    if call is not None:
        arguments = call.group(1)
        return "(" in arguments or bool(_REF.search(arguments)) or _names_rule(module, arguments)
    if _CALL.search(expression):
        return True
    operators = _OPERATOR.search(expression.replace("==", "  "))
    return bool(operators) and (bool(_REF.search(expression)) or _names_rule(module, expression))


def _names_rule(module: RegoModule, expression: str) -> bool:
    """Whether ``expression`` names a rule of the package that may be undefined (one without ``default``)."""
    return any(name in module.rules and not re.search(rf"^default[ \t]+{name}\b", module.source, re.MULTILINE)
               for name in re.findall(r"(?<![\w.])[A-Za-z_]\w*", expression))


@check
def with_rule_values(module: RegoModule, code: str) -> Iterator[Diagnostic]:
    """``... with input.x as rule``: OPA evaluates the value before replacing, regorus under the replacement."""
    aliases = {match.group(2) or match.group(1) for match in _IMPORT_ALIAS.finditer(code)}
    for match in _WITH.finditer(code):
        value = match.group(1)
        head = value.split(".")[0]
        if head == "data" or head in aliases or value in module.rules:
            yield Diagnostic(module.name, _line(code, match.start()),
                             f"`with ... as {value}`: OPA evaluates {value} before the replacement, regorus under it, "
                             "so a value that depends on what `with` replaces (object.union of the same rule) is "
                             f"undefined on regorus; bind it first (`v := {value}` then `with ... as v`)")


@check
def astral_counts(module: RegoModule, code: str) -> Iterator[Diagnostic]:
    """``count`` of a string beyond U+FFFF (emoji): regorus counts UTF-16 units, OPA code points."""
    if "count" not in code or not _ASTRAL.search(module.source):
        return
    line = _line(module.source, _ASTRAL.search(module.source).start())
    yield Diagnostic(module.name, line, "a character beyond U+FFFF (an emoji): `count` of a string holding it is "
                                        "one more per such character on regorus than on OPA, which counts code points")


# Built-ins regorus has and answers otherwise on some values, which arcpolicy does not replace (their OPA
# answers come from Go libraries: YAML 1.1, gojsonschema's errors, Go's duration and time parsers)
DIFFERING_BUILTINS = {
    "yaml.unmarshal": "OPA reads YAML 1.1 scalars as Go's YAML does (`yes`, `on`, `y` are true, `no`, `off`, `n` "
                      "false, `010` is 8, `1_000` is 1000; of several documents the first), regorus reads them as "
                      "strings",
    "yaml.marshal": "OPA double-quotes a string that reads as another type (`\"yes\"`, `\"1\"`), regorus "
                    "single-quotes it or leaves it bare",
    "time.parse_ns": "regorus also takes one-digit fields where the layout has two (`2023-1-2`), and a zone "
                     "abbreviation (`MST`) as its offset where OPA, like Go, takes one it does not know as UTC",
    "json.match_schema": "OPA's errors are objects (`desc`, `error`, `field`, `type`) and `[]` when the document "
                         "matches; regorus gives strings and `null`",
    "json.verify_schema": "a schema that is not valid JSON is `[false, \"jsonschema: invalid JSON string\"]` on OPA, "
                          "an error on regorus",
    "units.parse_bytes": "a fractional number of bytes is cut on OPA (`\"1.5\"` is 1), rounded on regorus (2)",
    "time.parse_duration_ns": "OPA also takes a day unit (`\"1d\"`), regorus refuses it",
}
_DIFFERING_CALL = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, DIFFERING_BUILTINS)) + r")[ \t]*\(")


@check
def differing_builtins(module: RegoModule, code: str) -> Iterator[Diagnostic]:
    """A call of a built-in whose answer on regorus differs from OPA's for some values (see DIFFERING_BUILTINS)."""
    for match in _DIFFERING_CALL.finditer(code):
        name = match.group(1)
        yield Diagnostic(module.name, _line(code, match.start()), f"`{name}`: {DIFFERING_BUILTINS[name]}")


_REGEX_CALL = re.compile(r"(?<![\w.])regex\.\w+[ \t]*\(")
_CLASS_ESCAPE = re.compile(r"\\{1,2}[dwsbDWSB]")
_ZONE_LAYOUT_CALL = re.compile(r"(?<![\w.])time\.format[ \t]*\(")
_ZONE_LAYOUT = re.compile(r"MST|\b(?:RFC1123|RFC822|RFC850|UnixDate|RubyDate|ANSIC)\b")


@check
def unicode_regex_classes(module: RegoModule, code: str) -> Iterator[Diagnostic]:
    """``\\d``, ``\\w``, ``\\s``, ``\\b`` in a regex built-in's line: Unicode classes on regorus (Rust's regex),
    ASCII on OPA (Go's RE2)."""
    lines = module.source.split("\n")
    for match in _REGEX_CALL.finditer(code):
        line = _line(code, match.start())
        if _CLASS_ESCAPE.search(lines[line - 1]):
            yield Diagnostic(module.name, line, "a regex class `\\d`, `\\w`, `\\s` or `\\b`: Unicode on regorus "
                                                "(`\\d` matches `\u0661`, `\\w` matches `é`), ASCII on OPA; write the "
                                                "class out (`[0-9]`, `[A-Za-z0-9_]`) for the same verdict on both")


@check
def zone_abbreviation_layouts(module: RegoModule, code: str) -> Iterator[Diagnostic]:
    """``time.format`` with a layout that writes a zone abbreviation (``MST``, ``RFC1123`` ...)."""
    lines = module.source.split("\n")
    for match in _ZONE_LAYOUT_CALL.finditer(code):
        line = _line(code, match.start())
        if _ZONE_LAYOUT.search(lines[line - 1]):
            yield Diagnostic(module.name, line, "`time.format` with a zone abbreviation in its layout: OPA writes "
                                                "the zone's name (`CET`, `UTC`), regorus its offset (`+01:00`)")
