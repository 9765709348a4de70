""".NET semantics ARM expressions inherit: date and time format strings, composite and numeric
format strings, culture-aware string ordering, ISO 8601 dates and durations.

ARM evaluates templates in .NET with the invariant culture: ``utcNow('d')`` is ``03/05/2019``
(templates/template-functions-date), ``format('{0:N0}', 8175133)`` is ``8,175,133``
(template-functions-string), and ``greater('A', 'a')`` is true (template-functions-comparison:
culture-aware ordering puts lower case first where ordinal ordering would not). Each function here
follows the .NET documentation of the format strings ("Standard date and time format strings",
"Custom date and time format strings", "Standard numeric format strings", "Custom numeric format
strings", "Composite formatting"); what a format cannot mean is an :class:`EvaluationError`, as
.NET's ``FormatException``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from engine.expressions.registry import EvaluationError
from engine.limits import MAX_VALUE_SIZE

# ---- date and time format strings (invariant culture) ---------------------------------------------
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FULL_DATE_TIME = "dddd, dd MMMM yyyy HH:mm:ss"
STANDARD_DATE_FORMATS = {
    "d": "MM/dd/yyyy", "D": "dddd, dd MMMM yyyy", "f": "dddd, dd MMMM yyyy HH:mm", "F": _FULL_DATE_TIME,
    "g": "MM/dd/yyyy HH:mm", "G": "MM/dd/yyyy HH:mm:ss", "m": "MMMM dd", "M": "MMMM dd",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss", "t": "HH:mm", "T": "HH:mm:ss", "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "U": _FULL_DATE_TIME, "y": "yyyy MMMM", "Y": "yyyy MMMM",
}
_TO_UNIVERSAL = frozenset("rRU")  # standard formats that show the moment in UTC


def format_datetime(moment: datetime, format_: str, function: str) -> str:
    """``moment.ToString(format_, CultureInfo.InvariantCulture)``: a one-character format is a standard
    format, anything longer a custom one; a naive ``moment`` is .NET's Unspecified kind."""
    if not format_:
        raise EvaluationError(f"{function}(): the date and time format is empty")
    if len(format_) == 1:
        if format_ not in STANDARD_DATE_FORMATS:
            raise EvaluationError(f"{function}(): '{format_}' is not a .NET standard date and time format")
        if format_ in _TO_UNIVERSAL and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        format_ = STANDARD_DATE_FORMATS[format_]
    return "".join(_custom_parts(moment, format_, function))


def _custom_parts(moment: datetime, pattern: str, function: str) -> list[str]:
    out: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char in "'\"":
            end = position + 1
            literal: list[str] = []
            while end < len(pattern) and pattern[end] != char:
                if pattern[end] == "\\" and end + 1 < len(pattern):
                    end += 1
                literal.append(pattern[end])
                end += 1
            if end >= len(pattern):
                raise EvaluationError(f"{function}(): unterminated quoted text in the format '{pattern}'")
            out.append("".join(literal))
            position = end + 1
            continue
        if char == "\\":
            if position + 1 >= len(pattern):
                raise EvaluationError(f"{function}(): the format '{pattern}' ends with an escape")
            out.append(pattern[position + 1])
            position += 2
            continue
        if char == "%":
            following = pattern[position + 1:position + 2]
            if not following or following == "%":
                raise EvaluationError(f"{function}(): '%' in the format '{pattern}' stands before no specifier")
            out.append(_specifier(moment, following, 1, out, function))
            position += 2
            continue
        if char in _SPECIFIERS:
            length = 1
            while position + length < len(pattern) and pattern[position + length] == char:
                length += 1
            out.append(_specifier(moment, char, length, out, function))
            position += length
            continue
        out.append(":" if char == ":" else "/" if char == "/" else char)
        position += 1
    return out


_SPECIFIERS = frozenset("dfFghHKmMstyz")


def _specifier(moment: datetime, char: str, length: int, out: list[str], function: str) -> str:
    """One run of a custom specifier (``yyyy``, ``MMM``, ``fff`` ...) as .NET writes it."""
    if char == "d":
        return _padded(moment.day, length) if length <= 2 else DAYS[moment.weekday()][:3 if length == 3 else None]
    if char == "M":
        return _padded(moment.month, length) if length <= 2 else MONTHS[moment.month - 1][:3 if length == 3 else None]
    if char == "y":
        return _padded(moment.year % 100, length) if length <= 2 else str(moment.year).zfill(length)
    if char == "h":
        return _padded(moment.hour % 12 or 12, min(length, 2))
    if char in "Hms":
        return _padded({"H": moment.hour, "m": moment.minute, "s": moment.second}[char], min(length, 2))
    if char in "fF":
        if length > 7:
            raise EvaluationError(f"{function}(): more than 7 '{char}' in a date and time format")
        digits = f"{moment.microsecond:06d}0"[:length]
        if char == "F":
            digits = digits.rstrip("0")
            if not digits and out and out[-1].endswith("."):
                out[-1] = out[-1][:-1]
        return digits
    if char == "t":
        designator = "AM" if moment.hour < 12 else "PM"
        return designator[:1] if length == 1 else designator
    if char == "g":
        return "A.D."
    if char == "K":
        if moment.tzinfo is None:
            return ""
        return "Z" if moment.utcoffset() == timedelta(0) and moment.tzinfo is UTC else _offset(moment, 3)
    return _offset(moment, length)  # z, zz, zzz


def _padded(number: int, length: int) -> str:
    return str(number).zfill(length)


def _offset(moment: datetime, length: int) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    if length == 1:
        return f"{sign}{hours}"
    if length == 2:
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}:{rest:02d}"


# ---- ISO 8601 dates and durations ------------------------------------------------------------------
_ISO_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:(?P<separator>[T ])(?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d{1,7}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_ISO_BASIC = re.compile(  # utcNow()'s own yyyyMMddTHHmmssZ (dateTimeToEpoch(utcNow()) in built-ins)
    r"^(?P<date>\d{8})(?:(?P<separator>T)(?P<time>\d{4}(?:\d{2})?)(?:\.(?P<fraction>\d{1,7}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WrittenMoment:
    """A date and time as written: the moment, and the custom format that writes another one the same way
    (``dateTimeAdd`` without a format keeps the format of its base, templates/template-functions-date)."""

    moment: datetime
    format: str


def parse_datetime(text: str, function: str) -> WrittenMoment:
    """An ISO 8601 date and time (``2020-04-07T14:53:14Z``, ``2020-04-07 14:53:14Z`` as ``utcNow('u')``
    writes it, ``20200407T145314Z`` as ``utcNow()`` does, with or without fractions and offset, or a date
    alone)."""
    stripped = text.strip()
    extended = _ISO_DATE_TIME.match(stripped)
    match = extended or _ISO_BASIC.match(stripped)
    if match is None:
        raise EvaluationError(f"{function}(): not an ISO 8601 date and time: '{text[:60]}'")
    digits = match["date"].replace("-", "")
    clock = (match["time"] or "").replace(":", "")
    fraction = match["fraction"] or ""
    zone = (match["zone"] or "").upper()
    try:
        tz = None if not zone else UTC if zone == "Z" else timezone(
            (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])))
        moment = datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:8]), int(clock[:2] or 0),
                          int(clock[2:4] or 0), int(clock[4:6] or 0), int((fraction + "000000")[:6]), tzinfo=tz)
    except ValueError:
        raise EvaluationError(f"{function}(): not a valid date and time: '{text[:60]}'") from None
    separators = ("'-'", "':'") if extended else ("", "")
    written = f"yyyy{separators[0]}MM{separators[0]}dd"
    if clock:
        written += ("'T'" if match["separator"] in "Tt" else " ") + f"HH{separators[1]}mm"
        written += f"{separators[1]}ss" if len(clock) == 6 else ""
        written += f"'.'{'f' * len(fraction)}" if fraction else ""
    written += "'Z'" if zone == "Z" else "zzz" if zone else ""
    return WrittenMoment(moment, written)


_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def add_duration(moment: datetime, duration: str, function: str) -> datetime:
    """``moment`` plus an ISO 8601 duration (``P3Y``, ``-P9D``, ``PT1H``, ``P1DT2H30M``): years and
    months on the calendar (the day clamped to the month's last), the rest as elapsed time."""
    text = duration.strip().upper()
    match = _DURATION.match(text)
    if match is None or text.endswith(("P", "T")):
        raise EvaluationError(f"{function}(): not an ISO 8601 duration: '{duration[:60]}'")
    sign = -1 if match["sign"] else 1
    try:
        whole = {name: int(match[name] or 0) for name in ("years", "months", "weeks", "days", "hours", "minutes")}
        months = moment.month - 1 + sign * (whole["years"] * 12 + whole["months"])
        year, month = moment.year + months // 12, months % 12 + 1
        last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        shifted = moment.replace(year=year, month=month, day=min(moment.day, last_day))
        return shifted + sign * timedelta(weeks=whole["weeks"], days=whole["days"], hours=whole["hours"],
                                          minutes=whole["minutes"], seconds=float(match["seconds"] or 0))
    except (ValueError, OverflowError):
        raise EvaluationError(f"{function}(): the result is outside the dates .NET represents") from None


# ---- culture-aware string ordering ---------------------------------------------------------------
def compare_text(left: str, right: str) -> int:
    """-1, 0 or 1 as .NET's invariant-culture comparison orders two strings: letters by their base letter
    first (accents, then case deciding ties, lower case first), punctuation before digits before letters;
    hyphens and apostrophes weigh only when all else is equal (word sort). Equal keys fall back to
    ordinal order, so only equal strings compare equal."""
    left_key, right_key = _collation_key(left), _collation_key(right)
    return (left_key > right_key) - (left_key < right_key)


def _collation_key(text: str) -> tuple[Any, ...]:
    primary: list[tuple[int, str]] = []
    accents: list[str] = []
    cases: list[int] = []
    ignored: list[int] = []
    for position, char in enumerate(text):
        if char in "-'\u00ad":
            ignored.append(position)
            continue
        decomposed = unicodedata.normalize("NFD", char)
        base = decomposed[0]
        folded = base.casefold()
        primary.append((2 if base.isalpha() else 1 if base.isdigit() else 0, folded))
        accents.append(decomposed[1:])
        cases.append(1 if base != folded else 0)
    return primary, accents, cases, ignored, text


# ---- numeric and composite format strings -------------------------------------------------------
def format_composite(template: str, values: tuple[Any, ...], to_text: Any, function: str) -> str:
    """``String.Format(CultureInfo.InvariantCulture, template, values)``: ``{index[,alignment][:format]}``
    items, ``{{`` and ``}}`` for braces; ``to_text`` writes a value without a numeric format."""
    out: list[str] = []
    position = 0
    while position < len(template):
        char = template[position]
        if char == "{" and template.startswith("{{", position):
            out.append("{")
            position += 2
        elif char == "}" and template.startswith("}}", position):
            out.append("}")
            position += 2
        elif char == "}":
            raise EvaluationError(f"{function}(): unmatched '}}' at character {position}")
        elif char == "{":
            end = template.find("}", position)
            if end < 0:
                raise EvaluationError(f"{function}(): unclosed '{{' at character {position}")
            item, _, spec = template[position + 1:end].partition(":")
            index_text, _, alignment_text = item.partition(",")
            try:
                value = values[int(index_text)]
                alignment = int(alignment_text) if alignment_text.strip() else 0
            except (ValueError, IndexError):
                raise EvaluationError(f"{function}(): no argument for {{{item}}}") from None
            refuse_oversize(abs(alignment), function)
            written = format_number(value, spec, function) if spec and _is_number(value) else to_text(value)
            out.append(written.rjust(alignment) if alignment > 0 else written.ljust(-alignment))
            position = end + 1
        else:
            out.append(char)
            position += 1
    return "".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def refuse_oversize(size: int, function: str) -> None:
    """Refuse before building a value over the template size limit (see :mod:`engine.limits`)."""
    if size > MAX_VALUE_SIZE:
        raise EvaluationError(f"{function}() would build {size:,} characters or items, over the {MAX_VALUE_SIZE:,} "
                              "limit of a template")


_STANDARD_NUMBER = re.compile(r"^([A-Za-z])(\d{0,9})$")


def format_number(value: int | float, spec: str, function: str) -> str:
    """A number written with a .NET standard (``N0``, ``D8``, ``X``, ``P1`` ...) or custom (``0.00``,
    ``#,##0``) numeric format, invariant culture."""
    standard = _STANDARD_NUMBER.match(spec)
    if standard is None:
        return _custom_number(value, spec, function)
    letter, digits_text = standard[1], standard[2]
    precision = int(digits_text) if digits_text else None
    refuse_oversize(precision or 0, function)
    kind = letter.upper()
    if kind in "DX":
        if not isinstance(value, int):
            raise EvaluationError(f"{function}(): the format '{spec}' takes an integer")
        if kind == "D":
            return ("-" if value < 0 else "") + str(abs(value)).zfill(precision or 0)
        written = format(value & 0xFFFFFFFFFFFFFFFF if value < 0 else value, "x").zfill(precision or 0)
        return written.upper() if letter == "X" else written
    if kind in "FNP":
        number = Decimal(str(value)) * (100 if kind == "P" else 1)
        written = _fixed(number, 2 if precision is None else precision, grouped=kind != "F")
        return written + " %" if kind == "P" else written
    if kind == "C":
        number = Decimal(str(value))
        written = _fixed(abs(number), 2 if precision is None else precision, grouped=True)
        return f"(¤{written})" if number < 0 else f"¤{written}"
    if kind == "E":
        mantissa, exponent = f"{value:.{6 if precision is None else precision}e}".split("e")
        sign, power = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}{letter}{sign}{power.zfill(3)}"
    if kind in "GR":
        return str(value) if isinstance(value, int) else repr(value).replace("e", "E")
    raise EvaluationError(f"{function}(): '{spec}' is not a .NET numeric format")


def _fixed(number: Decimal, decimals: int, *, grouped: bool) -> str:
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{decimals}f}" if grouped else f"{rounded:.{decimals}f}"


def _custom_number(value: int | float, spec: str, function: str) -> str:
    """A custom numeric format: ``0`` and ``#`` digit placeholders, one ``.``, ``,`` grouping, ``%``,
    quoted or escaped literals around them; sections (``;``) for negative numbers and zero."""
    sections = _split_sections(spec)
    number = Decimal(str(value))
    section = sections[0]
    if number < 0 and len(sections) > 1:
        section, number = sections[1], -number
    elif number == 0 and len(sections) > 2:
        section = sections[2]
    literal_before, placeholders, literal_after = _placeholders(section)
    if "%" in section:
        number *= 100
    integer_part, _, fraction_part = placeholders.partition(".")
    minimum_integers = integer_part.count("0")
    decimals = len(fraction_part.replace(",", ""))
    minimum_decimals = len(fraction_part) - len(fraction_part.lstrip("0")) if fraction_part else 0
    try:
        rounded = abs(number).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise EvaluationError(f"{function}(): cannot write {value} with the format '{spec}'") from None
    whole, _, fraction = f"{rounded:.{decimals}f}".partition(".")
    fraction = fraction.rstrip("0").ljust(minimum_decimals, "0")
    whole = whole.lstrip("0").zfill(minimum_integers) if minimum_integers else whole.lstrip("0")
    if "," in integer_part.strip(","):
        whole = f"{int(whole or 0):,}" if whole else whole
    sign = "-" if number < 0 and rounded != 0 else ""
    return f"{sign}{literal_before}{whole}{'.' + fraction if fraction else ''}{literal_after}"


def _split_sections(spec: str) -> list[str]:
    sections, current, quote = [], [], ""
    for char in spec:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ";":
            sections.append("".join(current))
            current = []
            continue
        current.append(char)
    sections.append("".join(current))
    return sections


def _placeholders(section: str) -> tuple[str, str, str]:
    """(literal text before the digits, the digit placeholders, literal text after); quotes unquoted."""
    before: list[str] = []
    digits: list[str] = []
    after: list[str] = []
    position = 0
    while position < len(section):
        char = section[position]
        target = after if digits else before
        if char in "'\"":
            end = section.find(char, position + 1)
            end = len(section) if end < 0 else end
            target.append(section[position + 1:end])
            position = end + 1
            continue
        if char == "\\" and position + 1 < len(section):
            target.append(section[position + 1])
            position += 2
            continue
        if char in "0#.," and not after:
            digits.append(char)
        else:
            target.append(char)
        position += 1
    return "".join(before), "".join(digits), "".join(after)
