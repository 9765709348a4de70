"""OPA's ``regex.globs_match``: whether two restricted regular expressions match some string in common.

OPA answers with the Go library gintersect (github.com/yashtewari/glob-intersection, Apache-2.0); this
module gives its answers, quirks included (``"a*"`` and ``"b*"`` do not intersect: both match only the
empty string in common, which does not count; two empty patterns do). A pattern is a sequence of
tokens: a character, ``.`` (any character) or a set ``[a-z0-9_]`` (characters and ranges, nothing
negated), each optionally followed by ``*`` or ``+``; ``\\`` takes the next character literally. After
the tokens that match pairwise at both ends are trimmed, the two sequences are walked together, a
starred or plussed token swallowing the other side's tokens while they match it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand

NAME = "regex.globs_match"


@dataclass(frozen=True)
class _Token:
    """``kind`` is ``char`` (``ranges`` one range of one character), ``dot`` or ``set``; ``flag`` ``""``, ``*``, ``+``."""

    kind: str
    ranges: tuple[tuple[int, int], ...]
    flag: str = ""

    def matches(self, other: _Token) -> bool:
        """Whether one character can match both tokens (flags aside)."""
        if self.kind == "dot" or other.kind == "dot":
            return True
        return any(low <= other_high and other_low <= high
                   for low, high in self.ranges for other_low, other_high in other.ranges)

    def same(self, other: _Token) -> bool:
        """The same token, flags aside (sets compared by their characters)."""
        return self.kind == other.kind and _characters(self) == _characters(other)


def _characters(token: _Token) -> frozenset[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(token.ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return frozenset(merged)


def _invalid(pattern: str, reason: str) -> BuiltinError:
    return BuiltinError(f"{NAME}: input:{pattern}, {reason}: the input provided is invalid")


class _Reader:
    """The pattern's characters, each with whether a backslash escaped it."""

    def __init__(self, pattern: str):
        self.pattern, self.position = pattern, 0

    def done(self) -> bool:
        return self.position >= len(self.pattern)

    def next(self) -> tuple[str, bool]:
        character = self.pattern[self.position]
        if character != "\\":
            self.position += 1
            return character, False
        if self.position == len(self.pattern) - 1:
            raise _invalid(self.pattern, "input ends with a \\ (escape) character")
        self.position += 2
        return self.pattern[self.position - 1], True


def _set(reader: _Reader) -> _Token:
    """The set after its ``[``: characters and ranges up to ``]``."""
    ranges: list[tuple[int, int]] = []
    previous: str | None = None
    while not reader.done():
        character, escaped = reader.next()
        if escaped or character not in "-]":
            ranges.append((ord(character), ord(character)))
            previous = character
            continue
        if character == "]":
            return _Token("set", tuple(ranges))
        if previous is None:
            raise _invalid(reader.pattern, "range character '-' must be preceded by a Unicode character")
        if reader.position >= len(reader.pattern) - 1:
            raise _invalid(reader.pattern, "range character '-' must be followed by a Unicode character")
        end, escaped = reader.next()
        if not escaped and end in "]-":
            raise _invalid(reader.pattern, "range character '-' cannot be followed by a special symbol")
        if end < previous:
            raise _invalid(reader.pattern, "range is out of order")
        ranges.append((ord(previous), ord(end)))
        previous = None
    raise _invalid(reader.pattern, "found [ without matching ]")


@functools.lru_cache(maxsize=1024)
def _tokens(pattern: str) -> tuple[_Token, ...]:
    """The pattern's tokens, runs of equal flagged tokens merged (``a*a+`` is ``a+``)."""
    reader = _Reader(pattern)
    tokens: list[_Token] = []
    while not reader.done():
        character, escaped = reader.next()
        if escaped:
            token = _Token("char", ((ord(character), ord(character)),))
        elif character == ".":
            token = _Token("dot", ())
        elif character == "[":
            token = _set(reader)
        elif character == "]":
            raise _invalid(pattern, "set-close ']' with no preceding '['")
        elif character in "*+":
            raise _invalid(pattern, f"flag '{character}' must be preceded by a non-flag")
        else:
            token = _Token("char", ((ord(character), ord(character)),))
        if not reader.done() and pattern[reader.position] in "*+":
            token = _Token(token.kind, token.ranges, pattern[reader.position])
            reader.position += 1
        previous = tokens[-1] if tokens else None
        if previous is not None and previous.flag and token.flag and token.same(previous):
            tokens[-1] = _Token(previous.kind, previous.ranges, "+" if "+" in (previous.flag, token.flag) else "*")
        else:
            tokens.append(token)
    return tuple(tokens)


def _trimmed(left: tuple[_Token, ...], right: tuple[_Token, ...]) -> tuple[tuple[_Token, ...], tuple[_Token, ...]] | None:
    """Both without the unflagged tokens that match pairwise at the start and at the end (one kept at each
    end that had some); None when such a pair does not match."""
    start = 0
    while start < len(left) and start < len(right) and not left[start].flag and not right[start].flag:
        if not left[start].matches(right[start]):
            return None
        start += 1
    start = max(start - 1, 0)
    end_left, end_right = len(left) - 1, len(right) - 1
    while (end_left >= start and end_right >= start and not left[end_left].flag and not right[end_right].flag):
        if not left[end_left].matches(right[end_right]):
            return None
        end_left, end_right = end_left - 1, end_right - 1
    if end_left < len(left) - 1:
        end_left, end_right = end_left + 1, end_right + 1
    return left[start:end_left + 1], right[start:end_right + 1]


def _walk(left: tuple[_Token, ...], right: tuple[_Token, ...]) -> bool:
    """Token by token while neither is flagged; a flagged token hands over to :func:`_flagged`."""
    for index in range(min(len(left), len(right))):
        if left[index].flag or right[index].flag:
            return _flagged(left[index:], right[index:])
        if not left[index].matches(right[index]):
            return False
    return len(left) == len(right)


def _flagged(left: tuple[_Token, ...], right: tuple[_Token, ...]) -> bool:
    if left[0].flag:
        return _plus(left, right) if left[0].flag == "+" else _star(left, right)
    return _plus(right, left) if right[0].flag == "+" else _star(right, left)


def _plus(plussed: tuple[_Token, ...], other: tuple[_Token, ...]) -> bool:
    """``x+`` swallows at least ``other[0]``; or a flagged ``other[0]`` swallows ``x+`` whole."""
    if not plussed[0].matches(other[0]):
        return False
    return _star(plussed, other[1:]) or (bool(other[0].flag) and _walk(plussed[1:], other))


def _star(starred: tuple[_Token, ...], other: tuple[_Token, ...]) -> bool:
    """``x*`` swallows ``other``'s tokens while they match it, trying the rest wherever the token after ``x*``
    matches; with nothing after ``x*``, swallowing all of ``other`` is a match."""
    following = starred[1] if len(starred) > 1 else None
    for index, token in enumerate(other):
        if following is not None and token.matches(following) and _walk(starred[1:], other[index:]):
            return True
        if not token.matches(starred[0]):
            return False
    return following is None


@builtin(NAME, 2)
def globs_match(first: Any, second: Any) -> bool:
    left, right = _tokens(operand(NAME, 1, first, str)), _tokens(operand(NAME, 2, second, str))
    trimmed = _trimmed(left, right)
    return trimmed is not None and _walk(*trimmed)
