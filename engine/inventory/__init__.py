"""Inventory stage: read every cluster and its extensions into a :class:`Fleet`."""

from __future__ import annotations

from pathlib import Path

from engine.inventory.fleet import ClusterInventory, Fleet, FleetShard, FleetSummary
from engine.inventory.snapshot import iter_placed, iter_snapshot, write_snapshot


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


__all__ = ["ClusterInventory", "Fleet", "FleetShard", "FleetSummary", "iter_snapshot", "load_snapshot",
           "write_snapshot"]
