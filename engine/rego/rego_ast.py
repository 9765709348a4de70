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


def pairs(node: Any, skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` under ``node``, depth first, not inside the keys in ``skip``."""
    if isinstance(node, list):
        for item in node:
            yield from pairs(item, skip)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in skip:
                yield key, value
                yield from pairs(value, skip)


def variables(node: Any) -> Iterator[str]:
    """The variable names ``node`` mentions in its own scope (not inside comprehensions or ``every``)."""
    return (value["value"] for key, value in pairs(node, _SCOPES) if key == "Var")


def var_nodes(node: Any) -> Iterator[Node]:
    """Every variable node under ``node`` (comprehensions and ``every`` included)."""
    return (value for key, value in pairs(node) if key == "Var")


def extent(node: Node, source: bytes) -> tuple[int, int]:
    """A node's bytes in ``source``, from the spans under it.

    regorus's spans leave the quotes out of a string and, for an object, its braces, so a string
    gets its quotes back and a collection its brackets (found around its items in the source).
    """
    found = _extent(node, source)
    if found is None:
        raise ValueError("an AST node without a span")
    return found


_BRACKETS = {"Object": (b"{", b"}"), "Set": (b"{", b"}"), "Array": (b"[", b"]"), "ObjectCompr": (b"{", b"}"),
             "SetCompr": (b"{", b"}"), "ArrayCompr": (b"[", b"]")}


def _extent(node: object, source: bytes) -> tuple[int, int] | None:
    found: tuple[int, int] | None = None
    if isinstance(node, list):
        for item in node:
            found = _widest(found, _extent(item, source))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "span":
                found = _widest(found, (value["start"], value["end"]))
            elif key in ("String", "RawString"):
                start, end = value["span"]["start"], value["span"]["end"]
                quoted = source[start - 1:start] in (b'"', b"`") and source[end:end + 1] in (b'"', b"`")
                found = _widest(found, (start - 1, end + 1) if quoted else (start, end))
            elif key in _BRACKETS:
                found = _widest(found, _bracketed(_extent(value, source), source, *_BRACKETS[key]))
            else:
                found = _widest(found, _extent(value, source))
    return found


def _widest(one: tuple[int, int] | None, other: tuple[int, int] | None) -> tuple[int, int] | None:
    if one is None or other is None:
        return one or other
    return min(one[0], other[0]), max(one[1], other[1])


def _bracketed(inner: tuple[int, int] | None, source: bytes, opening: bytes, closing: bytes) -> tuple[int, int] | None:
    """``inner`` widened to the brackets around it (skipping blanks, commas and comments)."""
    if inner is None:
        return None
    start, end = inner
    before = start
    while before > 0 and source[before - 1:before].isspace():
        before -= 1
    if source[before - 1:before] == opening and source[start:start + 1] != opening:
        start = before - 1
    after = end
    while after < len(source):
        if source[after:after + 1] == b"#":
            line_end = source.find(b"\n", after)  # a comment runs to the end of its line
            after = len(source) if line_end < 0 else line_end
        elif source[after:after + 1].isspace() or source[after:after + 1] == b",":
            after += 1
        else:
            break
    if source[after:after + 1] == closing and source[end - 1:end] != closing:
        end = after + 1
    return start, end
