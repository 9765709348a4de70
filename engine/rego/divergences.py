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
