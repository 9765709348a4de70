"""Inventory stage: read every cluster and its extensions into a :class:`Fleet`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.inventory.fleet import ClusterInventory, Fleet, FleetShard, FleetSummary
from engine.inventory.lines import LineFacts
from engine.inventory.snapshot import (
    first_bad_line,
    iter_placed,
    iter_snapshot,
    numbered_snapshot,
    write_snapshot,
)
from engine.inventory.stream import FleetStream, numbered


def load_snapshot(path: str | Path) -> Fleet:
    """Read a snapshot file (any supported shape) into a Fleet; raises InputError on bad input.

    A resource id the file holds twice keeps the later resource; ``Fleet.warnings`` names both places.
    """
    fleet: Fleet | None = None
    for place, resource in iter_placed(path):
        kind, number = place.rsplit(" ", 1)  # "resource 3" or "line 7"
        if fleet is None:
            fleet = Fleet(places=f"{path}: {kind} {{}}")
        fleet.add(resource, int(number))
    return Fleet() if fleet is None else fleet


def stream_snapshot(path: str | Path, defer_lines: bool = False,
                    keep: Callable[[dict[str, Any] | LineFacts], bool] | None = None, **options: int) -> FleetStream:
    """A snapshot file read once into a :class:`FleetStream` (the fleet given back a partition at a time);
    ``keep``: which resources to keep (a shard's, :class:`engine.inventory.shard.Shard`), each keeping its place
    in the file; ``options``: the stream's ``budget``. Raises InputError on bad input, before any partition is read.

    ``defer_lines`` (a scan): plain NDJSON lines are routed unparsed and checked where they are parsed; one that
    fails makes :meth:`FleetStream.raise_bad_line` read the file again and report its first bad line."""
    kind, resources = numbered_snapshot(path, defer_lines)
    if keep is not None:
        resources = (item for item in resources if keep(item[1]))
    try:
        fleet = FleetStream(resources, f"{path}: {kind} {{}}", size=Path(path).stat().st_size, **options)
    except InputError:
        if defer_lines:
            first_bad_line(path)  # a line routed unparsed before this one may be bad
        raise
    if defer_lines:
        fleet.first_bad_line = lambda: first_bad_line(path)
    return fleet


__all__ = ["ClusterInventory", "Fleet", "FleetShard", "FleetStream", "FleetSummary", "iter_snapshot",
           "load_snapshot", "numbered", "stream_snapshot", "write_snapshot"]
