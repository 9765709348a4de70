"""OPA's ``semver.is_valid`` and ``semver.compare`` (OPA's internal/semver): a leading ``v`` is dropped, each of
major, minor and patch is Go's ``strconv.ParseInt`` (leading zeros and a sign accepted), pre-release and build
identifiers match ``[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*``. regorus refuses ``v1.2.3`` and ``01.2.3``, which OPA takes."""

from __future__ import annotations

import re
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand

_IDENTIFIERS = re.compile(r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*")
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63


def _go_int(text: str) -> int:
    if not _GO_INT.fullmatch(text) or not -_INT64 <= int(text) < _INT64:
        raise ValueError(text)
    return int(text)


def parse(text: str) -> tuple[tuple[int, int, int], str]:
    """(major, minor, patch) and the pre-release of a version OPA takes; ``ValueError`` otherwise."""
    text, _, metadata = text.removeprefix("v").partition("+")
    text, _, pre_release = text.partition("-")
    if (metadata and not _IDENTIFIERS.fullmatch(metadata)) or (pre_release and not _IDENTIFIERS.fullmatch(pre_release)):
        raise ValueError(text)
    if text.count(".") != 2:
        raise ValueError(text)
    major, minor, patch = text.split(".")
    return (_go_int(major), _go_int(minor), _go_int(patch)), pre_release


def _identifier_order(a: str, b: str) -> int:
    a_number, b_number = a.isascii() and a.isdigit(), b.isascii() and b.isdigit()
    if a_number != b_number:
        return -1 if a_number else 1
    left: Any = int(a) if a_number else a
    right: Any = int(b) if b_number else b
    return (left > right) - (left < right)


def compare(a: tuple[tuple[int, int, int], str], b: tuple[tuple[int, int, int], str]) -> int:
    """semver.org precedence: numbers, then a release above its pre-releases, then identifier by identifier."""
    if a[0] != b[0]:
        return 1 if a[0] > b[0] else -1
    if a[1] == b[1]:
        return 0
    if not a[1] or not b[1]:
        return 1 if not a[1] else -1
    left, right = a[1].split("."), b[1].split(".")
    for x, y in zip(left, right, strict=False):
        if order := _identifier_order(x, y):
            return order
    return (len(left) > len(right)) - (len(left) < len(right))


@builtin("semver.is_valid", 1)
def is_valid(version: Any) -> bool:
    if not isinstance(version, str):
        return False  # OPA: any other operand is simply not a version
    try:
        parse(version)
    except ValueError:
        return False
    return True


@builtin("semver.compare", 2)
def semver_compare(a: Any, b: Any) -> int:
    parsed = []
    for position, version in enumerate((a, b), start=1):
        text = operand("semver.compare", position, version, str)
        try:
            parsed.append(parse(text))
        except ValueError:
            raise BuiltinError(f"semver.compare: operand {position}: string {text} is not a valid SemVer") from None
    return compare(parsed[0], parsed[1])
