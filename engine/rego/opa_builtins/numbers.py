"""OPA's ``to_number``: a string must be what Go's ``strconv.ParseFloat`` takes (no surrounding space, which
regorus trims); the number is the string's value. ``null`` is 0, booleans 1 and 0, numbers themselves."""

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
