"""Merging what several policies want written to one target, field by field.

Like Kubernetes server-side apply merging the intents of several field managers, each policy owns
the fields its body sets: the operation writes the union of those fields over the live resource
(an update is a PATCH, so fields nobody sets keep their live values). Objects merge key by key
(ARM property names are case-insensitive); anything else (strings, numbers, lists: atomic, as
server-side apply treats lists without merge keys) is one field. Strings equal ignoring case agree,
as Azure compares them (and as apply's comparison with the live state does). A conflict is only
two different values for the same field path, and it names the path, both values and both policies.

Deferred values and secret sources are fields too, keyed by their body path: two policies agree
on one when they read the same resource property or re-derive the secret from the same source.
Existence is a field of its own: a create wants the target to exist, a delete wants it gone; an
update only shapes a target that already exists, so a delete of the same target makes it moot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from remediation.plan.models import Action, DeferredValue, Reason, SecretSource

EXISTENCE_PATH = "(existence)"
Pathed = TypeVar("Pathed", DeferredValue, SecretSource)


@dataclass(frozen=True, slots=True)
class FieldClash:
    """One field two policies want different values for; ``owner`` set the value already merged."""

    path: str
    merged: Any
    wanted: Any
    owner: Reason


def same_key(mapping: dict[str, Any], key: str) -> str | None:
    if key in mapping:
        return key
    lowered = key.lower()
    return next((candidate for candidate in mapping if candidate.lower() == lowered), None)


def agree(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right) and type(left) is type(right)


def leaf_paths(body: Any, prefix: str = "") -> Iterator[str]:
    """Every field path ``body`` sets (an empty object is a field of its own)."""
    if isinstance(body, dict) and body:
        for key, value in body.items():
            yield from leaf_paths(value, f"{prefix}.{key}" if prefix else key)
    elif prefix:
        yield prefix


def merge_body(merged: dict[str, Any], wanted: dict[str, Any], owners: dict[str, Reason], reason: Reason,
               prefix: str = "") -> list[FieldClash]:
    """Add ``wanted``'s fields to ``merged`` in place; ``owners`` (lower-case path -> reason) records who
    set each field. Returns the fields whose values differ (``merged`` keeps its value there)."""
    clashes: list[FieldClash] = []
    for key, value in wanted.items():
        path = f"{prefix}.{key}" if prefix else key
        existing_key = same_key(merged, key)
        if existing_key is None:
            merged[key] = value
            for leaf in leaf_paths(value, path):
                owners.setdefault(leaf.lower(), reason)
            continue
        current = merged[existing_key]
        if isinstance(current, dict) and isinstance(value, dict) and current and value:
            clashes.extend(merge_body(current, value, owners, reason, f"{prefix}.{existing_key}" if prefix
                                      else existing_key))
        elif not agree(current, value):
            owner = owners.get(path.lower()) or next(
                (owners[leaf.lower()] for leaf in leaf_paths(current, path) if leaf.lower() in owners), reason)
            clashes.append(FieldClash(path, current, value, owner))
    return clashes


def merge_by_path(merged: list[Pathed], wanted: list[Pathed], owners: dict[str, Reason], reason: Reason,
                  describe: str) -> list[FieldClash]:
    """Deferred values or secret sources, one per body path: equal ones agree, others clash."""
    by_path = {item.path.lower(): item for item in merged}
    clashes = []
    for item in wanted:
        current = by_path.get(item.path.lower())
        if current is None:
            merged.append(item)
            by_path[item.path.lower()] = item
            owners.setdefault(f"{describe}:{item.path.lower()}", reason)
        elif current != item:
            owner = owners.get(f"{describe}:{item.path.lower()}", reason)
            clashes.append(FieldClash(item.path, _describe(current, describe), _describe(item, describe), owner))
    return clashes


def _describe(item: DeferredValue | SecretSource, describe: str) -> str:
    """What a reviewer needs to tell two deferred values or secret sources apart (never a secret)."""
    if isinstance(item, DeferredValue):
        return f"{describe} {item.residual or item.expression} reading {item.resource_id}"
    where = item.parameter or item.secret_name or (item.deferred.expression if item.deferred else None)
    return f"{describe} from {item.kind}" + (f" {where}" if where else "") + (
        f" of {item.policy_assignment_id}" if item.policy_assignment_id else "")


def merge_actions(current: Action, current_creates: bool, wanted: Action, wanted_creates: bool) -> Action | None:
    """The action both intents allow, or None when one wants the target and the other wants it gone.

    ``*_creates``: the intent asserts the target exists (a create, even one planned as an update of
    a target that already exists)."""
    if current is wanted:
        return current
    if Action.DELETE in (current, wanted):
        return None if (current_creates or wanted_creates) else Action.DELETE
    return Action.CREATE if Action.CREATE in (current, wanted) else Action.UPDATE
