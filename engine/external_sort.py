"""Sorting more items than memory should hold: sorted runs spilled to a temporary file, merged when read.

A scan writes its records in one fixed order (resource, assignment, reference id) whatever order the fleet
was read and evaluated in, and a snapshot is saved in the order it was read although it is evaluated a
partition at a time; holding everything to sort it would make memory grow with the fleet. Items
``(key, payload)`` are kept in memory up to a budget, then sorted and appended to an unnamed temporary file
as one run; reading merges the runs (and what is still in memory). Equal keys keep the order they were added
in, so the result is the same for any budget. Below the budget nothing touches the disk.
"""

from __future__ import annotations

import heapq
import os
import pickle
import tempfile
from collections.abc import Iterator
from operator import itemgetter
from typing import IO, Any

DEFAULT_BUDGET = 64 * 1024 * 1024  # bytes of payload (and keys, roughly) held before a run is spilled
ITEM_OVERHEAD = 120  # bytes Python spends on an item's tuple, its key and its payload object
BLOCK_BYTES = 256 * 1024  # payload pickled together: merging holds one block per run, so runs x this

Item = tuple[Any, bytes]
_key = itemgetter(0)


class ExternalSort:
    """Collects ``(key, payload)`` items, then gives them back sorted by key, once (stable for equal keys)."""

    def __init__(self, budget: int | None = None):
        self.budget = DEFAULT_BUDGET if budget is None else budget
        self._items: list[Item] = []
        self._held = 0
        self._file: IO[bytes] | None = None
        self._runs: list[list[tuple[int, int]]] = []  # each run's blocks: (offset, length) in the file
        self.count = 0

    def add(self, key: Any, payload: bytes) -> None:
        self._items.append((key, payload))
        self._held += len(payload) + ITEM_OVERHEAD
        self.count += 1
        if self._held > self.budget:
            self._spill()

    def _spill(self) -> None:
        self._items.sort(key=_key)
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="arcpolicy-sort-")  # noqa: SIM115  (closed by close())
        blocks: list[tuple[int, int]] = []
        start, size = 0, 0
        for end, (_, payload) in enumerate(self._items, start=1):
            size += len(payload) + ITEM_OVERHEAD
            if size >= BLOCK_BYTES or end == len(self._items):
                encoded = pickle.dumps(self._items[start:end], protocol=pickle.HIGHEST_PROTOCOL)
                blocks.append((self._file.seek(0, os.SEEK_END), len(encoded)))
                self._file.write(encoded)
                start, size = end, 0
        self._file.flush()
        self._runs.append(blocks)
        self._items, self._held = [], 0

    def __iter__(self) -> Iterator[Item]:
        """The items sorted by key; the temporary file goes when the last one has been read."""
        self._items.sort(key=_key)
        if not self._runs:
            items, self._items = self._items, []
            yield from items
            return
        assert self._file is not None
        try:
            runs = [self._read_run(blocks) for blocks in self._runs]
            yield from heapq.merge(*runs, iter(self._items), key=_key)
        finally:
            self.close()

    def _read_run(self, blocks: list[tuple[int, int]]) -> Iterator[Item]:
        assert self._file is not None
        descriptor = self._file.fileno()
        for offset, length in blocks:
            yield from pickle.loads(os.pread(descriptor, length, offset))

    def close(self) -> None:
        """Drop what is held (the temporary file included)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._items, self._runs = [], []

    def __enter__(self) -> ExternalSort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
