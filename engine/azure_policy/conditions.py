"""Condition operators (``equals``, ``like``, ``in`` ...), each one small registered unit.

Semantics follow the policy rule documentation: string comparisons are case-insensitive except
``match``/``notMatch`` (:mod:`engine.azure_policy.casing`: values as ``InvariantCultureIgnoreCase``, key names
as ``OrdinalIgnoreCase``); booleans compare equal to their string forms (``true`` equals
``"True"``); a field the resource lacks compares equal to ``""`` and null (so the built-in
Flux policies' ``"equals": "[parameters('repositoryRefTag')]"`` with the default ``""`` holds
when no tag is set) and fails every other positive test; each ``notX`` is exactly ``not X``.
An operator prepares its expected value once at compile time (lower-casing, pattern compiling).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.azure_policy.casing import name_key, value_key
from engine.azure_policy.fields import MISSING
from engine.expressions.registry import kind_of


class ConditionError(ValueError):
    """A condition that cannot be evaluated (``less`` between a number and a string ...)."""


@dataclass(frozen=True, slots=True)
class Operator:
    """A condition operator: ``prepare`` turns the expected value into its compiled form once,
    ``test(actual, prepared)`` decides one value."""

    name: str
    prepare: Callable[[Any], Any]
    test: Callable[[Any, Any], bool]
    phrases: tuple[str, str] = ("satisfies", "does not satisfy")  # when it holds, when it does not

    def describe(self, outcome: bool) -> str:
        """How a reason says the condition held (``equals``) or not (``does not equal``)."""
        return self.phrases[0] if outcome else self.phrases[1]

    def check_written(self, expected: Any) -> None:
        """Refuse an expected value written in the rule (or folded from parameters) that this operator cannot
        take: docs "Author policies for array properties": ``equals`` of an array parameter fails with "is
        type 'Array', expected type is 'String'"; only ``in``/``notIn`` take an array. (An array computed while
        evaluating, e.g. ``field()`` of an array alias, just compares unequal, as that page's count example
        shows.)"""
        if isinstance(expected, list | dict) and self.name.lower() in SCALAR_OPERATORS:
            text = json.dumps(expected, ensure_ascii=False)
            raise ConditionError(f"'{self.name}' expects a string, number or boolean, got {kind_of(expected)} "
                                 f"{text if len(text) <= 60 else text[:57] + '...'} (an array goes with 'in' or "
                                 "'notIn')")


OPERATORS: dict[str, Operator] = {}
# The operators whose expected value is one string, number or boolean (the ordering ones refuse what they cannot
# order in their own terms; in/notIn take an array; exists a boolean).
SCALAR_OPERATORS = frozenset({"equals", "notequals", "like", "notlike", "contains", "notcontains", "containskey",
                              "notcontainskey", "match", "notmatch", "matchinsensitively", "notmatchinsensitively"})
# How reasons read each operator (a negation reads its operator's phrases swapped): "releaseTrain does not equal".
PHRASES = {"equals": ("equals", "does not equal"), "in": ("is in", "is not in"),
           "contains": ("contains", "does not contain"), "containsKey": ("has the key", "does not have the key"),
           "exists": ("satisfies exists", "does not satisfy exists"), "like": ("is like", "is not like"),
           "match": ("matches", "does not match"),
           "matchInsensitively": ("matches (ignoring case)", "does not match (ignoring case)"),
           "less": ("is less than", "is not less than"), "lessOrEquals": ("is at most", "is more than"),
           "greater": ("is greater than", "is not greater than"),
           "greaterOrEquals": ("is at least", "is less than")}


def operator(name: str, prepare: Callable[[Any], Any] = lambda expected: expected,
             negation: str | None = None) -> Callable[[Callable[[Any, Any], bool]], Callable[[Any, Any], bool]]:
    """Register ``test`` under ``name`` (and its negation under ``negation``)."""

    def register(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        holds, fails = PHRASES[name]
        OPERATORS[name.lower()] = Operator(name, prepare, test, (holds, fails))
        if negation is not None:
            OPERATORS[negation.lower()] = Operator(negation, prepare, lambda actual, prepared: not test(actual,
                                                                                                         prepared),
                                                   (fails, holds))
        return test

    return register


def find_operator(condition: dict[str, Any]) -> Operator | None:
    """The operator a condition object uses (its one key that names an operator)."""
    for key in condition:
        found = OPERATORS.get(key.lower())
        if found is not None:
            return found
    return None


def comparison_key(value: Any) -> Any:
    """The case-insensitive comparison form: strings lower-cased, booleans and numbers as text."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value_key(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return value_key(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def _text(value: Any) -> str | None:
    """A scalar's text (booleans as ``true``/``false``); None for missing values, objects and arrays."""
    if value is MISSING or value is None or isinstance(value, dict | list):
        return None
    return comparison_key(value) if not isinstance(value, str) else value


# ---- equality and membership -----------------------------------------------------------------
@operator("equals", comparison_key, negation="notEquals")
def _equals(actual: Any, expected: Any) -> bool:
    return comparison_key(actual) == expected


def _key_set(expected: Any) -> frozenset[Any]:
    if not isinstance(expected, list):
        raise ConditionError(f"'in' and 'notIn' need an array, got {json.dumps(expected)}")
    return frozenset(comparison_key(item) for item in expected)


@operator("in", _key_set, negation="notIn")
def _in(actual: Any, expected: frozenset[Any]) -> bool:
    return comparison_key(actual) in expected


@operator("contains", comparison_key, negation="notContains")
def _contains(actual: Any, expected: Any) -> bool:
    """Substring for strings, membership for arrays (case-insensitive)."""
    if isinstance(actual, list):
        return any(comparison_key(item) == expected for item in actual)
    text = _text(actual)
    return text is not None and isinstance(expected, str) and expected in value_key(text)


def _name(expected: Any) -> str:
    return name_key(expected if isinstance(expected, str) else str(comparison_key(expected)))


@operator("containsKey", _name, negation="notContainsKey")
def _contains_key(actual: Any, expected: str) -> bool:
    """A key of an object, its name compared as names are (``OrdinalIgnoreCase``)."""
    return isinstance(actual, dict) and any(name_key(key) == expected for key in actual)


@operator("exists", lambda expected: comparison_key(expected) == "true")
def _exists(actual: Any, expected: bool) -> bool:
    return (actual is not MISSING and actual is not None) == expected


# ---- patterns ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LikePattern:
    """A ``like`` pattern: ``*`` is any run of characters, ``?`` any one character (as Microsoft's conformance
    cases match ``vm-?``), everything else literal, case-insensitive.

    Matched without backtracking (a regex of ``.*`` runs backtracks exponentially on ``*a*a*a*b``):
    the first piece is a prefix, the last a suffix, and each piece between is found leftmost after
    the previous one, which is a match whenever one exists (every piece has a fixed length). Linear in
    the value for a fixed pattern.
    """

    pieces: tuple[str, ...]  # lower-cased; one piece when the pattern has no '*'
    wild: tuple[re.Pattern[str] | None, ...]  # a piece holding '?' as a fixed-length regex, else None

    def matches(self, text: str) -> bool:
        text = value_key(text)
        pieces, wild = self.pieces, self.wild
        if len(pieces) == 1:
            return len(text) == len(pieces[0]) and self._at(0, text, 0)
        first, last = pieces[0], pieces[-1]
        end = len(text) - len(last)
        if end < len(first) or not self._at(0, text, 0) or not self._at(len(pieces) - 1, text, end):
            return False
        position = len(first)
        for index in range(1, len(pieces) - 1):
            piece, pattern = pieces[index], wild[index]
            if pattern is None:
                found = text.find(piece, position, end)
            else:
                match = pattern.search(text, position, end)
                found = -1 if match is None else match.start()
            if found < 0:
                return False
            position = found + len(piece)
        return True

    def _at(self, index: int, text: str, position: int) -> bool:
        """Whether piece ``index`` is found in ``text`` at ``position``."""
        piece, pattern = self.pieces[index], self.wild[index]
        if pattern is None:
            return text.startswith(piece, position)
        return pattern.match(text, position, position + len(piece)) is not None


def _like_pattern(expected: Any) -> LikePattern:
    pieces = tuple(str(comparison_key(expected)).split("*"))
    return LikePattern(pieces, tuple(re.compile("".join("." if char == "?" else re.escape(char) for char in piece),
                                                re.DOTALL) if "?" in piece else None for piece in pieces))


def _like(actual: Any, pattern: LikePattern) -> bool:
    text = _text(actual)
    return text is not None and pattern.matches(text)


def _match_pattern(flags: int) -> Callable[[Any], re.Pattern[str]]:
    """``match``: ``#`` a digit, ``?`` a letter, ``.`` any character, anything else itself."""
    translation = {"#": "[0-9]", "?": "[a-zA-Z]", ".": "."}

    def prepare(expected: Any) -> re.Pattern[str]:
        if not isinstance(expected, str):
            raise ConditionError(f"'match' needs a string pattern, got {json.dumps(expected)}")
        return re.compile("".join(translation.get(char) or re.escape(char) for char in expected), flags | re.DOTALL)

    return prepare


def _full_match(actual: Any, pattern: re.Pattern[str]) -> bool:
    text = _text(actual)
    return text is not None and pattern.fullmatch(text) is not None


operator("like", _like_pattern, negation="notLike")(_like)
operator("match", _match_pattern(0), negation="notMatch")(_full_match)
operator("matchInsensitively", _match_pattern(re.IGNORECASE), negation="notMatchInsensitively")(_full_match)


# ---- ordering --------------------------------------------------------------------------------------
def _ordering_key(value: Any) -> Any:
    if value is None or value is MISSING or isinstance(value, bool | dict | list):
        raise ConditionError(f"cannot order {kind_of(value)}: less/greater compare numbers, dates or strings")
    return value_key(value) if isinstance(value, str) else value


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def test(actual: Any, expected: Any) -> bool:
        if actual is MISSING or actual is None:
            return False
        left = _ordering_key(actual)
        if isinstance(left, str) != isinstance(expected, str):
            raise ConditionError(f"cannot compare {json.dumps(actual)} with {json.dumps(expected)}: "
                                 "the property type does not match the condition type")
        return compare(left, expected)

    return test


operator("less", _ordering_key)(_ordered(lambda left, right: left < right))
operator("lessOrEquals", _ordering_key)(_ordered(lambda left, right: left <= right))
operator("greater", _ordering_key)(_ordered(lambda left, right: left > right))
operator("greaterOrEquals", _ordering_key)(_ordered(lambda left, right: left >= right))
