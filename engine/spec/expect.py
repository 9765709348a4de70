"""Expectations with messages a policy author can act on: what was expected, what happened, why."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from engine import ids


class SpecFailure(AssertionError):
    """A spec expectation that did not hold; the message is the whole story."""


class _Run(Protocol):
    status: int

    def describe(self) -> str: ...


# "the inventory counts 2 clusters of distribution "k3s"" -> the summary key it reads
INVENTORY_DIMENSIONS = {
    "clusters of distribution": "byDistribution",
    "clusters of type": "byClusterType",
    "clusters with connectivity": "byConnectivity",
    "extensions of type": "byExtensionType",
    "extensions in state": "byExtensionState",
}


def succeeded(result: _Run, allowed: tuple[int, ...] = (0,)) -> None:
    """A command a step relies on ran (status in ``allowed``); otherwise say how it failed."""
    if result.status not in allowed:
        raise SpecFailure(result.describe())


def equal(what: str, actual: Any, expected: Any) -> None:
    if actual != expected:
        raise SpecFailure(f"expected {what} to be {expected!r}, but it is {actual!r}")


def absent(path: Path) -> None:
    if path.exists():
        raise SpecFailure(f"expected {path.name} not to be written, but it exists")


def file_contains(path: Path, text: str) -> None:
    if not path.is_file():
        raise SpecFailure(f"expected {path.name} to be written, but there is no such file")
    content = path.read_text(encoding="utf-8", errors="replace")
    if text not in content:
        shown = content if len(content) <= 1500 else content[:1500] + " ..."
        raise SpecFailure(f'expected {path.name} to contain "{text}", but it reads:\n  ' + shown.replace("\n", "\n  "))


def inventory_count(summary: dict[str, Any], dimension: str, value: str, count: int) -> None:
    key = INVENTORY_DIMENSIONS.get(dimension)
    if key is None:
        raise SpecFailure(f'unknown inventory count "{dimension}" (use one of: {", ".join(INVENTORY_DIMENSIONS)})')
    counts = summary.get(key, {})
    if counts.get(value, 0) != count:
        raise SpecFailure(f'expected {count} {dimension} "{value}", but the inventory counts '
                          f"{counts.get(value, 0)} (all {dimension.split()[0]} by {key[2:].lower()}: {counts})")


def same_fleet(saved: Path, fleet: Path) -> None:
    """A snapshot written by ``--save`` holds exactly the fleet's resources, each as served, and the
    subscriptions and resource groups they live in (a tenant has them; Resource Graph lists them)."""
    from engine.inventory import iter_snapshot

    if not saved.is_file():
        raise SpecFailure(f"expected {saved.name} to be written, but there is no such file")
    read = {ids.normalize(str(resource["id"])): resource for resource in iter_snapshot(saved)}
    served = {ids.normalize(str(resource["id"])): resource for resource in iter_snapshot(fleet)}
    containers = {ids.normalize(scope) for key in served
                  for scope in (f"/subscriptions/{ids.parse_resource_id(key).subscription_id}",
                                ids.resource_group_id(key)) if scope}
    problems = [f"missing: {served[key]['id']}" for key in served.keys() - read.keys()]
    problems += [f"not in the fleet: {read[key]['id']}" for key in read.keys() - served.keys() - containers]
    for key in served.keys() & read.keys():
        changed = sorted(field for field in served[key] if served[key][field] != read[key].get(field))
        if changed:
            problems.append(f"{served[key]['id']}: {', '.join(changed)} differ")
    if problems:
        raise SpecFailure(f"expected {saved.name} to hold the fleet that was served, but:\n  "
                          + "\n  ".join(sorted(problems)))
