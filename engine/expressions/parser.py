"""Parse ARM / Azure Policy template expressions into a small AST.

Grammar (as documented for ARM template expressions)::

    expression := call accessor*
    call       := NAME '(' [argument (',' argument)*] ')'
    argument   := STRING | NUMBER | expression
    accessor   := '.' NAME | '[' argument ']'

Strings use single quotes with ``''`` as the escaped quote; ``true``/``false``/``null`` are
written as functions (``true()``), as ARM does, or bare as arguments (``string(true)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.limits import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH


class ExpressionSyntaxError(ValueError):
    """A malformed expression; ``position`` is the character offset inside the expression."""

    def __init__(self, message: str, expression: str, position: int):
        self.expression = expression
        self.position = position
        shown = expression if len(expression) <= 80 else expression[:77] + "..."
        super().__init__(f"{message} at position {position} in {shown!r}")


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # as written; functions are looked up case-insensitively
    arguments: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Member:
    target: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    target: Node
    index: Node


Node = Literal | Call | Member | Index


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.position = 0

    def error(self, message: str) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.text, self.position)

    def within_depth(self, depth: int) -> None:
        """Nesting is bounded: evaluating an expression recurses once per level."""
        if depth > MAX_EXPRESSION_DEPTH:
            raise self.error(f"nested more than {MAX_EXPRESSION_DEPTH} calls and accessors deep")

    def skip_space(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.position] if self.position < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = self.peek() or "end of expression"
            raise self.error(f"expected {char!r}, found {found!r}")
        self.position += 1

    def name(self) -> str:
        self.skip_space()
        start = self.position
        while self.position < len(self.text) and (self.text[self.position].isalnum() or self.text[self.position] in "_$"):
            self.position += 1
        if start == self.position:
            raise self.error("expected a name")
        return self.text[start:self.position]

    def argument(self, depth: int) -> Node:
        char = self.peek()
        if char == "'":
            return Literal(self.string())
        if char and (char.isdigit() or char in "-+."):
            return Literal(self.number())
        keyword = self.keyword()
        if keyword is not None:
            return keyword
        return self.expression(depth)

    def keyword(self) -> Literal | None:
        """``true``, ``false`` or ``null`` written bare as an argument (the grammar's identifiers, as Azure
        Policy's engine reads them: Microsoft's port of it, regorus), rather than called."""
        start = self.position
        word = self.text[start:start + 5].lower()
        for name, value in (("true", True), ("false", False), ("null", None)):
            if word.startswith(name):
                self.position = start + len(name)
                following = self.peek()
                if not (following.isalnum() or following in "_$(.["):
                    return Literal(value)
                self.position = start
        return None

    def string(self) -> str:
        self.position += 1  # opening quote
        pieces: list[str] = []
        while True:
            end = self.text.find("'", self.position)
            if end < 0:
                raise self.error("unterminated string")
            pieces.append(self.text[self.position:end])
            if self.text.startswith("''", end):
                pieces.append("'")
                self.position = end + 2
                continue
            self.position = end + 1
            return "".join(pieces)

    def number(self) -> int | float:
        start = self.position
        if self.text[self.position] in "-+":
            self.position += 1
        while self.position < len(self.text) and (self.text[self.position].isdigit() or self.text[self.position] == "."):
            self.position += 1
        literal = self.text[start:self.position]
        try:
            return float(literal) if "." in literal else int(literal)
        except ValueError:
            raise self.error(f"malformed number {literal[:20]!r}") from None

    def expression(self, depth: int = 1) -> Node:
        """A call and its accessors; ``depth`` counts the calls and accessors it is nested in."""
        self.within_depth(depth)
        function_name = self.name()
        self.expect("(")
        arguments: list[Node] = []
        if self.peek() != ")":
            arguments.append(self.argument(depth + 1))
            while self.peek() == ",":
                self.position += 1
                arguments.append(self.argument(depth + 1))
        self.expect(")")
        node: Node = Call(function_name, tuple(arguments))
        while True:
            char = self.peek()
            if char in (".", "["):
                depth += 1
                self.within_depth(depth)
            if char == ".":
                self.position += 1
                node = Member(node, self.name())
            elif char == "[":
                self.position += 1
                node = Index(node, self.argument(depth + 1))
                self.expect("]")
            else:
                return node


def parse(expression: str, max_length: int = MAX_EXPRESSION_LENGTH, owner: str = "ARM") -> Node:
    """Parse the inside of ``[...]`` (without the brackets), at most ``max_length`` characters with them
    (``owner``'s limit)."""
    if len(expression) + 2 > max_length:
        raise ExpressionSyntaxError(f"longer than {owner}'s {max_length:,} characters", expression, max_length)
    parser = _Parser(expression)
    node = parser.expression()
    if parser.peek():
        raise parser.error(f"unexpected {parser.peek()!r}")
    return node
