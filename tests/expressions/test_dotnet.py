""".NET semantics ARM expressions inherit, against .NET's own documentation.

Date and time: "Standard date and time format strings" and "Custom date and time format strings"
(learn.microsoft.com/dotnet/standard/base-types/), their examples with the invariant culture
(the culture ARM formats with: template-functions-date's ``utcNow('d')`` is ``03/05/2019``).
Numbers: "Standard numeric format strings", "Custom numeric format strings", "Composite formatting".
String order: culture-aware, as template-functions-comparison's examples show (``greater('A', 'a')``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.expressions import EvaluationError
from engine.expressions.dotnet import (
    add_duration,
    compare_text,
    format_composite,
    format_datetime,
    format_number,
    parse_datetime,
)

# The .NET docs' examples use 29 August 2008 19:27:15.018 and 15 June 2009 13:45:30.617.
AUGUST = datetime(2008, 8, 29, 19, 27, 15, 18000, tzinfo=UTC)
JUNE = datetime(2009, 6, 15, 13, 45, 30, 617000, tzinfo=UTC)


@pytest.mark.parametrize(("format_", "expected"), [
    ("d", "08/29/2008"), ("D", "Friday, 29 August 2008"), ("f", "Friday, 29 August 2008 19:27"),
    ("F", "Friday, 29 August 2008 19:27:15"), ("g", "08/29/2008 19:27"), ("G", "08/29/2008 19:27:15"),
    ("M", "August 29"), ("m", "August 29"), ("O", "2008-08-29T19:27:15.0180000Z"), ("o", "2008-08-29T19:27:15.0180000Z"),
    ("R", "Fri, 29 Aug 2008 19:27:15 GMT"), ("r", "Fri, 29 Aug 2008 19:27:15 GMT"), ("s", "2008-08-29T19:27:15"),
    ("t", "19:27"), ("T", "19:27:15"), ("u", "2008-08-29 19:27:15Z"), ("U", "Friday, 29 August 2008 19:27:15"),
    ("Y", "2008 August"), ("y", "2008 August"),
])
def test_standard_date_and_time_formats_of_the_invariant_culture(format_: str, expected: str) -> None:
    assert format_datetime(AUGUST, format_, "test") == expected


@pytest.mark.parametrize(("format_", "expected"), [
    ("hh:mm:ss.f", "07:27:15.0"), ("hh:mm:ss.F", "07:27:15"), ("hh:mm:ss.ff", "07:27:15.01"),
    ("hh:mm:ss.FF", "07:27:15.01"), ("hh:mm:ss.fff", "07:27:15.018"), ("hh:mm:ss.FFF", "07:27:15.018"),
    ("%d", "29"), ("dd", "29"), ("ddd", "Fri"), ("dddd", "Friday"), ("%M", "8"), ("MM", "08"), ("MMM", "Aug"),
    ("MMMM", "August"), ("%y", "8"), ("yy", "08"), ("yyy", "2008"), ("yyyy", "2008"), ("yyyyy", "02008"),
    ("%h", "7"), ("hh", "07"), ("%H", "19"), ("HH", "19"), ("%m", "27"), ("%s", "15"), ("%t", "P"), ("tt", "PM"),
    ("%g", "A.D."), ("%K", "Z"), ("%z", "+0"), ("zz", "+00"), ("zzz", "+00:00"),
    ("M d", "8 29"), ("yyyy-MM-dd", "2008-08-29"), ("yyyyMMddTHHmmssZ", "20080829T192715Z"),
    ("dd/MM/yyyy HH:mm", "29/08/2008 19:27"),
    ("'Day' d", "Day 29"), ('"Year" yyyy', "Year 2008"), ("\\h\\h hh", "hh 07"), ("h 'o''clock'", "7 oclock"),
])
def test_custom_date_and_time_specifiers(format_: str, expected: str) -> None:
    assert format_datetime(AUGUST, format_, "test") == expected


def test_fractions_trim_and_drop_their_point_and_hours_cycle() -> None:
    assert format_datetime(JUNE, "ss.fff", "test") == "30.617" and format_datetime(JUNE, "fffffff", "test") == "6170000"
    assert format_datetime(JUNE, "FFFFFFF", "test") == "617"
    midnight = datetime(2009, 6, 15, 0, 5, tzinfo=UTC)
    assert format_datetime(midnight, "h:mm tt", "test") == "12:05 AM"
    assert format_datetime(midnight, "HH:mm:ss.FFF", "test") == "00:05:00"
    offset = datetime(2009, 6, 15, 13, 45, tzinfo=timezone(timedelta(hours=-7)))
    assert format_datetime(offset, "zzz K", "test") == "-07:00 -07:00"
    assert format_datetime(datetime(2009, 6, 15), "%K", "test") == ""  # unspecified kind


@pytest.mark.parametrize("format_", ["q", "fffffffff", "'unterminated", "dd\\", "%", "%%", ""])
def test_formats_dotnet_refuses_are_errors(format_: str) -> None:
    with pytest.raises(EvaluationError):
        format_datetime(AUGUST, format_, "test")


@pytest.mark.parametrize(("text", "moment", "same_format"), [
    ("2020-04-07 14:53:14Z", datetime(2020, 4, 7, 14, 53, 14, tzinfo=UTC), "2020-04-07 14:53:14Z"),
    ("2020-04-07T14:53:14.5Z", datetime(2020, 4, 7, 14, 53, 14, 500000, tzinfo=UTC), "2020-04-07T14:53:14.5Z"),
    ("20200407T145314Z", datetime(2020, 4, 7, 14, 53, 14, tzinfo=UTC), "20200407T145314Z"),
    ("2020-04-07", datetime(2020, 4, 7), "2020-04-07"),
    ("2020-04-07T14:53:14+02:00", datetime(2020, 4, 7, 14, 53, 14, tzinfo=timezone(timedelta(hours=2))),
     "2020-04-07T14:53:14+02:00"),
])
def test_iso_dates_are_read_and_written_back_the_same_way(text: str, moment: datetime, same_format: str) -> None:
    written = parse_datetime(text, "test")
    assert written.moment == moment and format_datetime(written.moment, written.format, "test") == same_format


@pytest.mark.parametrize("text", ["04/07/2020", "2020-13-01", "2020-04-07T25:00:00Z", "now", ""])
def test_what_is_not_an_iso_date_is_an_error(text: str) -> None:
    with pytest.raises(EvaluationError):
        parse_datetime(text, "test")


@pytest.mark.parametrize(("duration", "expected"), [
    ("P3Y", datetime(2023, 4, 7, 14, 53, 14)), ("-P9D", datetime(2020, 3, 29, 14, 53, 14)),
    ("PT1H", datetime(2020, 4, 7, 15, 53, 14)), ("P1M", datetime(2020, 5, 7, 14, 53, 14)),
    ("P1DT2H30M", datetime(2020, 4, 8, 17, 23, 14)), ("PT0.5S", datetime(2020, 4, 7, 14, 53, 14, 500000)),
    ("P2W", datetime(2020, 4, 21, 14, 53, 14)),
])
def test_iso_durations(duration: str, expected: datetime) -> None:
    assert add_duration(datetime(2020, 4, 7, 14, 53, 14), duration, "test") == expected


def test_months_clamp_to_the_last_day_and_bad_durations_are_errors() -> None:
    assert add_duration(datetime(2024, 1, 31), "P1M", "test") == datetime(2024, 2, 29)
    for bad in ("P", "PT", "1D", "P1H", "P99999999999Y"):
        with pytest.raises(EvaluationError):
            add_duration(datetime(2024, 1, 31), bad, "test")


@pytest.mark.parametrize(("left", "right", "order"), [
    ("A", "a", 1),  # template-functions-comparison: greater('A', 'a') is true, less('A', 'a') false
    ("a", "B", -1), ("apple", "Zebra", -1), ("abc", "abc", 0), ("1", "a", -1), ("!", "1", -1),
    ("e", "é", -1), ("é", "f", -1), ("résumé", "resume", 1), ("Éclair", "eclair", 1), ("straße", "strasse", 1),
    ("co-op", "coop", 1), ("coop", "cop", -1),
])
def test_strings_are_ordered_as_the_invariant_culture_orders_them(left: str, right: str, order: int) -> None:
    assert compare_text(left, right) == order and compare_text(right, left) == -order


@pytest.mark.parametrize(("spec", "value", "expected"), [
    ("N0", 8175133, "8,175,133"), ("N2", 1234.5, "1,234.50"), ("N", 1234, "1,234.00"), ("D8", 255, "00000255"),
    ("D", -42, "-42"), ("X", 255, "FF"), ("x4", 255, "00ff"), ("F3", 1234.5, "1234.500"), ("P1", 0.125, "12.5 %"),
    ("E", 1234.5, "1.234500E+003"), ("C", 1234.5, "¤1,234.50"), ("G", 12, "12"),
    ("0.00", 1234.5, "1234.50"), ("#,##0", 1234.5, "1,235"), ("000", 7, "007"), ("0.#", 2.25, "2.3"),
    ("#%", 0.5, "50%"), ("0.0;(0.0)", -2.5, "(2.5)"),
])
def test_numeric_formats(spec: str, value: int | float, expected: str) -> None:
    assert format_number(value, spec, "test") == expected


def test_composite_formatting() -> None:
    assert format_composite("{0}, {1}. Formatted number: {2:N0}", ("Hello", "User", 8175133), str, "format") == \
        "Hello, User. Formatted number: 8,175,133"  # template-functions-string#format
    assert format_composite("[{0,5}|{0,-5}] {{x}}", (12,), str, "format") == "[   12|12   ] {x}"
    for bad in ("{0", "{1}", "x}", "{a}"):
        with pytest.raises(EvaluationError):
            format_composite(bad, (1,), str, "format")
    with pytest.raises(EvaluationError, match="takes an integer"):
        format_number(1.5, "D", "format")
