"""Rego that OPA takes and regorus's compiler refuses, rewritten before the default engine compiles it.

- **An added built-in's output form.** Rego lets a statement give a function's result as one
  argument more than it takes (``io.jwt.decode(token, [header, payload, _])``,
  ``net.cidr_merge(cidrs, merged)``). regorus's compiler knows that form for its own built-ins
  only: for one arcpolicy adds as an extension (engine.rego.opa_builtins), such as
  ``crypto.sha256`` or ``io.jwt.decode``, the output is an unsafe variable. Each such statement
  becomes the unification OPA evaluates it as (``merged = net.cidr_merge(cidrs)``).
- **A built-in as a ``with`` replacement.** ``with f as count`` (or ``with object.union_n as
  count``) calls the built-in where ``f`` was called; regorus refuses a built-in as a value
  (``use of undefined variable``). The replacement becomes a function of the module that calls
  the built-in (``__arcpolicy_builtin_count(a0) := count(a0)``, added after the last line).

Lines keep their numbers (only the columns after a rewritten call move), so every message still
names the author's line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import orjson

from engine.rego.compile_checks import OPA_ARITIES, dotted_name
from engine.rego.modules import RegoModule
from engine.rego.opa_builtins import BUILTINS
from engine.rego.regorus_engine import native_builtin, regorus_builtin, unlimited_parser

WRAPPER_PREFIX = "__arcpolicy_builtin_"
Edit = tuple[int, int, bytes]


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every statement (a literal with its ``with`` modifiers) under ``node``."""
    if isinstance(node, list):
        for item in node:
            yield from _statements(item)
    elif isinstance(node, dict):
        if "literal" in node and "sidx" in node:
            yield node
        for value in node.values():
            yield from _statements(value)


def _span(node: dict[str, Any]) -> tuple[int, int]:
    """A node's start and end (byte offsets)."""
    fields = next(iter(node.values()))
    return fields["span"]["start"], fields["span"]["end"]


def _output_call(statement: dict[str, Any], source: bytes) -> Edit | None:
    """``f(x, out)`` (or ``not f(x, out)``) of an added built-in as ``out = f(x)``."""
    kind, literal = next(iter(statement["literal"].items()))
    call = literal.get("expr", {}).get("Call") if kind in ("Expr", "NotExpr") else None
    name = dotted_name(call["fcn"]) if call else None
    if call is None or name not in BUILTINS or native_builtin(name) or len(call["params"]) != BUILTINS[name].arity + 1:
        return None
    start, end = call["span"]["start"], call["span"]["end"]
    opening = source.index(b"(", _span(call["fcn"])[1])
    separator = source.rfind(b",", opening, _span(call["params"][-1])[0])  # before the output argument
    output = source[separator + 1:end - 1].strip()
    return start, end, output + b" = " + name.encode() + source[opening:separator] + b")"


def _builtin_replacements(statement: dict[str, Any], rules: frozenset[str]) -> Iterator[tuple[int, int, str]]:
    """Each ``with ... as <built-in>`` of the statement: the replacement's place and the built-in's name."""
    for modifier in statement.get("with_mods") or []:
        name = dotted_name(modifier["as"])
        if name and name.split(".")[0] not in rules and name in OPA_ARITIES and regorus_builtin(name):
            yield *_span(modifier["as"]), name


def _wrapper(name: str) -> str:
    arguments = ", ".join(f"a{index}" for index in range(OPA_ARITIES[name]))
    return f"{WRAPPER_PREFIX}{name.replace('.', '_')}({arguments}) := {name}({arguments})"


def _rewritten(module: RegoModule) -> RegoModule:
    parser = unlimited_parser()
    try:
        parser.add_policy(module.name, module.source)
    except RuntimeError:
        return module  # the load reports it
    try:
        [entry] = orjson.loads(parser.get_ast_as_json())
    except orjson.JSONDecodeError:
        return module  # nested too deeply to read: the compile checks refuse it
    source = module.source.encode()
    edits: list[Edit] = []
    wrapped: set[str] = set()
    for statement in _statements(entry["ast"]["rules"]):
        if (edit := _output_call(statement, source)) is not None:
            edits.append(edit)
        for start, end, name in _builtin_replacements(statement, module.rules):
            edits.append((start, end, f"{WRAPPER_PREFIX}{name.replace('.', '_')}".encode()))
            wrapped.add(name)
    if not edits:
        return module
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    text = source.decode()
    if wrapped:
        text = text.rstrip("\n") + "\n\n" + "\n".join(_wrapper(name) for name in sorted(wrapped)) + "\n"
    return replace(module, source=text)


@functools.cache
def _candidate() -> re.Pattern[str]:
    """What a module needing a rewrite holds: a call of an added built-in, or ``with``: only those are parsed."""
    added = sorted((name for name in BUILTINS if not native_builtin(name)), key=len, reverse=True)
    return re.compile(r"(?<![\w.])(?:(?:" + "|".join(map(re.escape, added)) + r")[ \t]*\(|with[ \t])")


def for_regorus(modules: Sequence[RegoModule]) -> list[RegoModule]:
    """``modules`` with the constructs of the module doc rewritten."""
    return [_rewritten(module) if _candidate().search(module.source) else module for module in modules]
