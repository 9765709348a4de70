"""Plans and apply results in a spec's words: "the plan creates the extension flux on store-1".

Operations are found by the cluster and the extension's instance name; a failure lists what the
plan (or the apply) actually holds for that cluster, so the author sees the difference at once.
"""

from __future__ import annotations

from typing import Any

from engine import ids
from engine.spec.expect import SpecFailure

EXTENSIONS = "/providers/Microsoft.KubernetesConfiguration/extensions/"
ACTION_WORDS = {"creates": "create", "updates": "update", "deletes": "delete"}


def extension_id(cluster_id: str, name: str) -> str:
    return f"{cluster_id}{EXTENSIONS}{name}"


def operations_on(operations: list[dict[str, Any]], cluster_id: str) -> list[dict[str, Any]]:
    """The operations that write the cluster itself or one of its child resources."""
    key = ids.normalize(cluster_id)
    return [operation for operation in operations
            if ids.normalize(str(operation["resourceId"])) == key
            or ids.normalize(ids.owning_cluster_id(str(operation["resourceId"])) or "") == key]


def _why(operation: dict[str, Any]) -> str:
    reasons = [reason.get("why") for reason in operation.get("reasons") or [] if reason.get("why")]
    return "; ".join([*reasons, *([operation["message"]] if operation.get("message") else [])])


def describe(operations: list[dict[str, Any]], cluster: str) -> str:
    """The operations on one cluster, one line each."""
    if not operations:
        return f'nothing at all for "{cluster}"'
    lines = []
    for operation in operations:
        name = str(operation["resourceId"]).rsplit("/", 1)[-1]
        state = operation.get("status") or operation.get("state")
        why = _why(operation)
        lines.append(f"  - {operation.get('action')} {name}: {state}" + (f" ({why})" if why else ""))
    return "\n".join(lines)


def find(operations: list[dict[str, Any]], cluster: str, cluster_id: str, name: str, what: str) -> dict[str, Any]:
    """The operation on the extension ``name`` of the cluster; a failure when there is none."""
    wanted = ids.normalize(extension_id(cluster_id, name))
    mine = operations_on(operations, cluster_id)
    for operation in mine:
        if ids.normalize(str(operation["resourceId"])) == wanted:
            return operation
    raise SpecFailure(f'expected {what} the extension "{name}" on "{cluster}", but it holds:\n{describe(mine, cluster)}')


def expect_operation(plan: dict[str, Any], cluster: str, cluster_id: str, name: str, action: str,
                     status: str = "planned") -> None:
    """The plan has ``action`` on the extension, in ``status`` (planned by default)."""
    operations = plan["operations"]
    operation = find(operations, cluster, cluster_id, name, f"the plan to {action}")
    if operation["action"] != action or operation.get("status", "planned") != status:
        raise SpecFailure(f'expected the plan to {action} the extension "{name}" on "{cluster}" ({status}), but '
                          f"it holds:\n{describe(operations_on(operations, cluster_id), cluster)}")


def expect_held(plan: dict[str, Any], cluster: str, cluster_id: str, name: str, status: str, because: str) -> None:
    """The plan's operation on the extension is skipped / deferred / waiting, for a reason mentioning ``because``."""
    operations = plan["operations"]
    operation = find(operations, cluster, cluster_id, name, f"the plan to hold as {status}")
    if operation.get("status") != status or because.lower() not in _why(operation).lower():
        raise SpecFailure(f'expected the extension "{name}" on "{cluster}" to be {status} because "{because}", '
                          f"but the plan holds:\n{describe(operations_on(operations, cluster_id), cluster)}")


def expect_untouched(operations: list[dict[str, Any]], cluster: str, cluster_id: str, what: str) -> None:
    mine = operations_on(operations, cluster_id)
    if mine:
        raise SpecFailure(f'expected {what} to leave "{cluster}" alone, but it holds:\n{describe(mine, cluster)}')


def expect_state(result: dict[str, Any], cluster: str, cluster_id: str, name: str, state: str) -> None:
    """The apply result's operation on the extension ended in ``state`` (succeeded, failed, satisfied ...)."""
    operations = result["operations"]
    operation = find(operations, cluster, cluster_id, name, "the apply to have")
    if operation["state"] != state:
        raise SpecFailure(f'expected the apply to leave the extension "{name}" on "{cluster}" {state}, but it is '
                          f"{operation['state']}:\n{describe(operations_on(operations, cluster_id), cluster)}")
