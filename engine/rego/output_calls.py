"""Calls of arcpolicy's added built-ins in OPA's output form, ``f(x, out)``, written as ``out = f(x)`` for regorus.

Rego lets a statement give a function's result as one argument more than it takes
(``io.jwt.decode(token, [header, payload, _])``, ``net.cidr_merge(cidrs, merged)``). regorus's
compiler knows that form for its own built-ins only: for one arcpolicy adds as an extension
(engine.rego.opa_builtins), such as ``crypto.sha256`` or ``io.jwt.decode``, the output is an
unsafe variable and the policy's record an ``Error``. So, before the default engine compiles
a module, each such statement is rewritten to the unification OPA evaluates it as; the line keeps
its number (only the columns after the call move).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import orjson

from engine.rego.compile_checks import dotted_name
from engine.rego.modules import RegoModule
from engine.rego.opa_builtins import BUILTINS
from engine.rego.regorus_engine import native_builtin, unlimited_parser


def _calls(node: Any) -> Iterator[dict[str, Any]]:
    """Every statement-level call (an ``Expr`` or ``NotExpr`` literal that is a call) under ``node``."""
    if isinstance(node, list):
        for item in node:
            yield from _calls(item)
    elif isinstance(node, dict):
        for literal in ("Expr", "NotExpr"):
            expression = node.get(literal)
            if isinstance(expression, dict) and isinstance(expression.get("expr"), dict) and "Call" in expression["expr"]:
                yield expression["expr"]["Call"]
        for value in node.values():
            yield from _calls(value)


def _span(node: dict[str, Any]) -> tuple[int, int]:
    """A node's start and end (byte offsets)."""
    fields = next(iter(node.values()))
    return fields["span"]["start"], fields["span"]["end"]


def _rewritten(module: RegoModule) -> RegoModule:
    parser = unlimited_parser()
    try:
        parser.add_policy(module.name, module.source)
    except RuntimeError:
        return module  # the load reports it
    [entry] = orjson.loads(parser.get_ast_as_json())
    source = module.source.encode()
    edits: list[tuple[int, int, bytes]] = []
    for call in _calls(entry["ast"]["rules"]):
        name = dotted_name(call["fcn"])
        if name not in BUILTINS or native_builtin(name) or len(call["params"]) != BUILTINS[name].arity + 1:
            continue
        start, end = call["span"]["start"], call["span"]["end"]
        opening = source.index(b"(", _span(call["fcn"])[1])
        separator = source.rfind(b",", opening, _span(call["params"][-1])[0])  # before the output argument
        output_text = source[separator + 1:end - 1].strip()
        edits.append((start, end, output_text + b" = " + name.encode() + source[opening:separator] + b")"))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return replace(module, source=source.decode()) if edits else module


def with_output_calls(modules: Sequence[RegoModule]) -> list[RegoModule]:
    """``modules`` with each added built-in's output-form call written as a unification (see module doc)."""
    return [_rewritten(module) if any(name in module.source for name in BUILTINS) else module for module in modules]
