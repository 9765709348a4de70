"""Masking secrets by origin (``engine.secret_values``): what remembering many distinct secrets and
scrubbing text with them costs.

Apply remembers one value per secret it writes (thousands when a secret is derived per cluster,
interleaved with scrubs); a snapshot carrying protected settings remembers its values at once; every
output record is scrubbed. Figures: seconds to remember N values (interleaved with a scrub each, and
in bulk then one scrub), microseconds to scrub a 500-character text, and to scrub one output record.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable, Iterable
from typing import Any

from engine.secret_values import SecretValues

COUNTS = (100, 1_000, 10_000)
TEXT = "x" * 200 + " reason: field is not equals '***' (actual '***')" * 6
RECORD = {"resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1",
          "reasons": [{"message": "extensionType is not equals 'microsoft.flux' (actual 'x')"}] * 3, "count": 5}


def _values(count: int) -> list[str]:
    generator = random.Random(count)
    alphabet = string.ascii_letters + string.digits + "-_/+"
    return [f"s{number}-" + "".join(generator.choices(alphabet, k=24)) for number in range(count)]


REPEATS = 2_000


def _seconds(step: Callable[[Any], object], items: Iterable[Any]) -> float:
    started = time.perf_counter()
    for item in items:
        step(item)
    return time.perf_counter() - started


def _remember_and_scrub(values: SecretValues, value: str) -> None:
    values.remember(value)
    values.scrub("x")


def _figures(count: int) -> dict[str, float]:
    values = _values(count)
    interleaved, bulk = SecretValues(), SecretValues()
    remembered_interleaved = _seconds(lambda value: _remember_and_scrub(interleaved, value), values)
    remembered_bulk = _seconds(bulk.remember, values) + _seconds(bulk.scrub, ["x"])
    text_us = _seconds(bulk.scrub, [TEXT] * REPEATS) / REPEATS * 1e6
    record_us = _seconds(bulk.scrub_data, [RECORD] * REPEATS) / REPEATS * 1e6
    return {f"remember {count:,}, a scrub after each (s)": round(remembered_interleaved, 2),
            f"remember {count:,} at once, then one scrub (s)": round(remembered_bulk, 2),
            f"scrub a 500-character text, {count:,} values (us)": round(text_us, 1),
            f"scrub one output record, {count:,} values (us)": round(record_us, 1)}


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for count in COUNTS:
        figures.update(_figures(count))
    return figures
