"""OPA's ``to_number``: a string must be what Go's ``strconv.ParseFloat`` takes (no surrounding space, which
regorus trims); the number is the string's value. ``null`` is 0, booleans 1 and 0, numbers themselves.

``numbers.range`` and ``numbers.range_step`` as OPA answers them, with a bound: regorus reserves the
whole range before filling it, so a step at or below zero panics its VM and a wide range
(``numbers.range(0, 1e14)``) aborts the process on a failed allocation (OPA runs out of memory).
A range of more than :data:`MAX_RANGE` numbers is an error here."""

from __future__ import annotations

import math
import re
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, type_name

_DIGITS = r"[0-9](?:_?[0-9])*"  # Go allows an underscore between two digits
_DECIMAL = re.compile(rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?")


@builtin("to_number", 1)
def to_number(value: Any) -> int | float:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        raise BuiltinError(f"to_number: operand 1 must be one of {{boolean, null, number, string}} but got "
                           f"{type_name(value)}")
    if not _DECIMAL.fullmatch(value):
        raise BuiltinError(f'to_number: strconv.ParseFloat: parsing "{value}": invalid syntax')
    number = float(value.replace("_", ""))
    if math.isinf(number):
        raise BuiltinError(f'to_number: strconv.ParseFloat: parsing "{value}": value out of range')
    return int(value.replace("_", "")) if value.lstrip("+-").replace("_", "").isdigit() else number


MAX_RANGE = 1_000_000  # numbers in one range: about 50 MB here and in regorus


def _integer(name: str, position: int, value: Any) -> int:
    """An integer operand: OPA takes a number with a whole value (``2.0``) and refuses fractions."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BuiltinError(f"{name}: operand {position} must be number but got {type_name(value)}")
    if isinstance(value, float) and not value.is_integer():
        raise BuiltinError(f"{name}: operand {position} must be integer number but got floating-point number")
    return int(value)


def _numbers(name: str, start: int, stop: int, step: int) -> list[int]:
    """``start`` to ``stop`` (both in when the step reaches ``stop``), up or down as ``stop`` lies."""
    if (abs(stop - start) // step) + 1 > MAX_RANGE:
        raise BuiltinError(f"{name}: a range of more than {MAX_RANGE:,} numbers is more than arcpolicy builds")
    return list(range(start, stop + 1, step)) if start <= stop else list(range(start, stop - 1, -step))


@builtin("numbers.range", 2)
def numbers_range(start: Any, stop: Any) -> list[int]:
    return _numbers("numbers.range", _integer("numbers.range", 1, start), _integer("numbers.range", 2, stop), 1)


@builtin("numbers.range_step", 3)
def numbers_range_step(start: Any, stop: Any, step: Any) -> list[int]:
    name = "numbers.range_step"
    first, last, by = _integer(name, 1, start), _integer(name, 2, stop), _integer(name, 3, step)
    if by <= 0:
        raise BuiltinError(f"{name}: step must be a positive integer")
    return _numbers(name, first, last, by)
