"""regorus's parse tree of a Rego module (``Engine.get_ast_as_json``), read where the source text is not enough.

``arcpolicy test`` needs what ``opa test`` reads from OPA's AST: each rule's head reference and
place, each body's statements and the variables they bind. regorus gives its AST as JSON: every
node carries a ``span`` (``line``/``col`` of its start, ``start``/``end`` byte offsets into the
UTF-8 source), a rule is ``Spec`` (head and bodies) or ``Default``, a body is a ``query`` of
``stmts`` whose ``literal`` is ``Expr``, ``NotExpr``, ``SomeIn``, ``SomeVars`` or ``Every``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import regorus

Node = dict[str, Any]
_SCOPES = frozenset({"ArrayCompr", "SetCompr", "ObjectCompr", "Every"})  # their variables are their own


@dataclass(frozen=True)
class RefTerm:
    """One term of a rule head's reference: a name (``test_x``, ``"case"``) or a term that varies.

    ``start``/``end``: the term's bytes in the source; ``node`` its AST node.
    """

    name: str | None  # None: not ground (a variable or an expression)
    start: int
    end: int
    node: Node


def parse(modules: Sequence[tuple[str, str]]) -> dict[str, Node]:
    """Each ``(file, source)`` module's AST (``{"package", "imports", "rules"}``) by file; sources must parse."""
    engine = regorus.Engine()
    for name, source in modules:
        engine.add_policy(name, source)
    return {entry["source"]["file"]: entry["ast"] for entry in orjson.loads(engine.get_ast_as_json())}


def kind(node: Node) -> tuple[str, Node]:
    """A tagged node's tag and body: ``{"Var": {...}}`` -> ``("Var", {...})``."""
    [(tag, body)] = node.items()
    return tag, body


def span(node: Node) -> dict[str, int]:
    return kind(node)[1]["span"]


def package_path(module: Node) -> str:
    """``data.a.b`` for ``package a.b``."""
    return "data." + ".".join(term.name or "" for term in reference(module["package"]["refr"]))


def reference(node: Node) -> list[RefTerm]:
    """A reference (``a.b["c"][x]``) as its terms, left to right."""
    tag, body = kind(node)
    if tag == "Var":
        return [RefTerm(body["value"], body["span"]["start"], body["span"]["end"], node)]
    if tag == "RefDot":
        field_span, field = body["field"]
        return [*reference(body["refr"]), RefTerm(field, field_span["start"], field_span["end"], node)]
    if tag == "RefBrack":
        index_tag, index = kind(body["index"])
        name = index["value"] if index_tag == "String" else None
        return [*reference(body["refr"]), RefTerm(name, index["span"]["start"], index["span"]["end"], body["index"])]
    return [RefTerm(None, body["span"]["start"], body["span"]["end"], node)]


def head_reference(rule: Node) -> list[RefTerm]:
    """The reference a rule defines (``test_x``, ``test_cases[name]``, ``f``)."""
    tag, body = kind(rule)
    if tag == "Default":
        return reference(body["refr"])
    return reference(kind(body["head"])[1]["refr"])


def statements(query: Node) -> list[Node]:
    return query["stmts"]


def variables(node: Any) -> Iterator[str]:
    """The variable names ``node`` mentions in its own scope (not inside comprehensions or ``every``)."""
    if isinstance(node, list):
        for item in node:
            yield from variables(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _SCOPES:
                continue
            if key == "Var":
                yield value["value"]
            else:
                yield from variables(value)
