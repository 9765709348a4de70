"""Go's ``fmt.Sprintf`` as OPA's ``sprintf`` calls it, for the verbs policies use.

OPA hands Go's fmt each number as an int64 when it is whole and fits (``60`` and ``60.0``), as a
big.Int when it is a larger whole number, as its text when written with an exponent and no
decimal point (``1e-07``), as a float64 otherwise, and any other value as its Rego text (``[1, "a"]``, ``{"a": 1}``, ``set()``, ``null``). So ``sprintf("%.1f", [60])`` is
``%!f(int64=60)`` and ``sprintf("%d", [2.5])`` is ``%!d(float64=2.5)``, Go's marks for a verb that
does not fit the value's type. Verbs: ``v s d b o O x X c q U e E f F g G t`` and ``%%``, with the
flags ``+ - # 0 space``, width and precision (``*`` included), Go's ``%!(EXTRA ...)``,
``%!v(MISSING)`` and ``%!(NOVERB)``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

INT64 = (-(2**63), 2**63 - 1)
_DIRECTIVE = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?(.?)", re.DOTALL)


@dataclass(frozen=True)
class GoValue:
    """An argument as Go's fmt sees it: its Go type name and value."""

    kind: str  # int64, big.Int, float64, string
    value: Any


def go_value(value: Any) -> GoValue:
    """What OPA's sprintf hands Go's fmt for a Rego value (see the module doc)."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict | set | frozenset):
        return GoValue("string", rego_text(value))
    if isinstance(value, float):
        text = json.dumps(value) if math.isfinite(value) else repr(value)
        mantissa, exponent, _ = text.partition("e")
        if exponent and "." not in mantissa:  # OPA keeps 1e-07, 1e+300 as their text
            return GoValue("string", text)
        if exponent or not value.is_integer():
            return GoValue("float64", value)
        value = int(value)
    if isinstance(value, int):
        return GoValue("int64" if INT64[0] <= value <= INT64[1] else "big.Int", value)
    return GoValue("string", str(value))


def rego_text(value: Any) -> str:
    """A value as OPA's ``String()`` writes it: ``[1, "a"]``, ``{"a": 1}``, ``{1, 2}``, ``set()``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return json.dumps(int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(rego_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{rego_text(key)}: {rego_text(item)}" for key, item in sorted(
            value.items(), key=lambda pair: _sort_key(pair[0]))) + "}"
    if not value:
        return "set()"
    return "{" + ", ".join(rego_text(item) for item in sorted(value, key=_sort_key)) + "}"


def _sort_key(value: Any) -> tuple[int, str]:
    order = 0 if value is None else 1 if isinstance(value, bool) else 2 if isinstance(value, int | float) else \
        3 if isinstance(value, str) else 4
    return order, json.dumps(value, sort_keys=True, default=str) if order != 2 else f"{float(value):030.10f}"


@dataclass
class _Spec:
    flags: str
    width: int | None
    precision: int | None
    verb: str


def sprintf(template: str, arguments: list[Any]) -> str:
    """``fmt.Sprintf(template, arguments...)`` with OPA's argument conversion."""
    values = [go_value(argument) for argument in arguments]
    out: list[str] = []
    position = 0
    used = 0
    while True:
        start = template.find("%", position)
        if start < 0:
            out.append(template[position:])
            break
        out.append(template[position:start])
        match = _DIRECTIVE.match(template, start)
        assert match is not None
        flags, width_text, precision_text, verb = match.groups()
        position = match.end()
        width = precision = None
        if width_text == "*":
            width, used = _star(values, used)
            if width is not None and width < 0:
                flags, width = flags + "-", -width
        elif width_text:
            width = int(width_text)
        if precision_text == "*":
            precision, used = _star(values, used)
            if precision is not None and precision < 0:
                precision = None
        elif precision_text is not None:
            precision = int(precision_text or 0)
        if not verb:
            out.append("%!(NOVERB)")
            continue
        if verb == "%":
            out.append("%")
            continue
        if used >= len(values):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format(values[used], _Spec(flags, width, precision, verb)))
        used += 1
    if used < len(values):
        out.append("%!(EXTRA " + ", ".join(f"{value.kind}={_format(value, _Spec('', None, None, 'v'))}"
                                           for value in values[used:]) + ")")
    return "".join(out)


def _star(values: list[GoValue], used: int) -> tuple[int | None, int]:
    if used < len(values) and values[used].kind == "int64":
        return values[used].value, used + 1
    return None, used + 1


def _format(value: GoValue, spec: _Spec) -> str:
    formatter = {"int64": _integer, "big.Int": _integer, "float64": _float, "string": _string}[value.kind]
    text = formatter(value, spec)
    if text is None:  # Go's mark for a verb the type does not take: the value with %v and the same flags
        shown = formatter(value, _Spec(spec.flags, spec.width, spec.precision, "v"))
        return f"%!{spec.verb}({value.kind}={shown})"
    return text


def _pad(text: str, spec: _Spec, zero_ok: bool = True) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    if "-" in spec.flags:
        return text + " " * (spec.width - len(text))
    if "0" in spec.flags and zero_ok:
        sign = text[0] if text[:1] in "+- " and text[1:2].isdigit() else ""
        return sign + "0" * (spec.width - len(text)) + text[len(sign):]
    return " " * (spec.width - len(text)) + text


def _signed(number: str, negative: bool, spec: _Spec) -> str:
    if negative:
        return "-" + number
    if "+" in spec.flags:
        return "+" + number
    if " " in spec.flags:
        return " " + number
    return number


def _integer(value: GoValue, spec: _Spec) -> str | None:
    number: int = value.value
    verb = spec.verb
    bases = {"d": (10, ""), "v": (10, ""), "s": (10, ""), "b": (2, "0b"), "o": (8, "0"), "O": (8, "0o"),
             "x": (16, "0x"), "X": (16, "0X")}
    if verb == "s" and value.kind == "int64":
        return None
    if verb == "c" and value.kind == "int64":
        return _pad(_rune(number), spec)
    if verb == "q" and value.kind == "int64":
        return _pad("'" + _rune(number).encode("unicode_escape").decode() .replace("\\\\", "\\") + "'"
                    if not _rune(number).isprintable() else f"'{_rune(number)}'", spec)
    if verb == "U" and value.kind == "int64":
        return _pad(f"U+{number:04X}" if number >= 0 else f"U+{number & 0xFFFFFFFFFFFFFFFF:X}", spec)
    if verb not in bases:
        return None
    base, prefix = bases[verb]
    digits = {2: "b", 8: "o", 10: "d", 16: "x"}[base]
    body = format(abs(number), digits)
    if verb == "X":
        body = body.upper()
    if spec.precision is not None:
        body = "" if spec.precision == 0 and number == 0 else body.rjust(spec.precision, "0")
    if "#" in spec.flags or verb == "O":
        body = prefix + body if base != 10 else body
    return _pad(_signed(body, number < 0, spec), spec, zero_ok=spec.precision is None)


def _rune(number: int) -> str:
    return chr(number) if 0 <= number <= 0x10FFFF and not 0xD800 <= number <= 0xDFFF else "\ufffd"


def _float(value: GoValue, spec: _Spec) -> str | None:
    number: float = value.value
    verb = spec.verb
    if verb in "eEfF":
        precision = 6 if spec.precision is None else spec.precision
        body = format(abs(number), f".{precision}{verb.lower() if verb != 'F' else 'f'}")
        body = body.upper() if verb == "E" else body
    elif verb in "gGv":
        body = _go_g(abs(number), spec.precision)
        body = body.upper() if verb == "G" else body
    elif verb == "b":
        mantissa, exponent = math.frexp(abs(number))
        body = f"{int(mantissa * 2**53)}p{exponent - 53:+d}" if number else "0p-1074"
    elif verb in "xX":
        body = _go_hex_float(abs(number), spec.precision)
        body = body.upper().replace("0X", "0X") if verb == "X" else body
    else:
        return None
    negative = math.copysign(1.0, number) < 0
    return _pad(_signed(body, negative, spec), spec)


def _go_g(number: float, precision: int | None) -> str:
    """strconv's 'g': %e when the decimal exponent is < -4 or >= the precision (6 for the shortest digits)."""
    if precision is None:
        significant = len(repr(number).split("e")[0].replace(".", "").strip("0")) or 1
        exponent = int(f"{number:e}".split("e")[1]) if number else 0
        if exponent < -4 or exponent >= 6:
            return _strip_exponent(f"{number:.{significant - 1}e}")
        text = format(number, f".{max(significant - 1 - exponent, 0)}f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    text = format(number, f".{precision or 1}g")
    return _strip_exponent(text) if "e" in text else text


def _strip_exponent(text: str) -> str:
    mantissa, _, exponent = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0').rjust(2, '0')}"


def _go_hex_float(number: float, precision: int | None) -> str:
    if number == 0:
        return "0x0p+00"
    mantissa, exponent = math.frexp(number)
    mantissa, exponent = mantissa * 2, exponent - 1
    fraction = mantissa - 1
    digits = ""
    while fraction and len(digits) < 13:
        fraction *= 16
        digit = int(fraction)
        digits += "0123456789abcdef"[digit]
        fraction -= digit
    if precision is not None:
        digits = digits[:precision].ljust(precision, "0")
    return f"0x1{'.' + digits if digits else ''}p{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def _string(value: GoValue, spec: _Spec) -> str | None:
    text: str = value.value
    verb = spec.verb
    if spec.precision is not None and verb in "svq":
        text = text[:spec.precision]
    if verb in "sv":
        return _pad(text, spec)
    if verb == "q":
        return _pad(json.dumps(text, ensure_ascii=False) if "#" not in spec.flags or "`" in text else f"`{text}`", spec)
    if verb in "xX":
        encoded = text.encode()
        if spec.precision is not None:
            encoded = encoded[:spec.precision]
        body = encoded.hex() if " " not in spec.flags else " ".join(f"{byte:02x}" for byte in encoded)
        if "#" in spec.flags:
            body = "0x" + body
        return _pad(body.upper() if verb == "X" else body, spec)
    return None
