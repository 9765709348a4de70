"""Deferred values (``reference()``, ``list*()`` and expressions of them) from live state.

A bare call is read directly: ``reference(id).path`` is the resource's ``properties`` at path,
``listKeys(id).path`` the action's answer at path. A computed value carries its ``residual``
expression (only common functions and ``reference`` / ``list*`` calls of literal ids: the plan
substituted everything else), evaluated here with :data:`LIVE_FUNCTIONS`, whose ``reference`` and
``list*`` read ARM as the deployment engine does.
"""

from __future__ import annotations

from typing import Any

from engine.expressions import (
    COMMON_FUNCTIONS,
    EvaluationError,
    ExpressionSyntaxError,
    compile_expression,
)
from remediation.apply.arm import ArmGateway
from remediation.apply.compare import get_path
from remediation.plan.models import DeferredValue

LIVE_FUNCTIONS = COMMON_FUNCTIONS.extend()


class LiveStateMissing(Exception):
    """A deferred value cannot be resolved: its resource is gone, or its residual does not evaluate."""


class _Live:
    """The evaluation context of a residual: ARM, for one deferred value."""

    def __init__(self, arm: ArmGateway, deferred: DeferredValue):
        self.arm = arm
        self.deferred = deferred

    def api_version(self, resource_id: str, given: Any) -> str:
        return str(given) if given is not None else self.arm.latest_api_version(resource_id)

    def reference(self, resource_id: str, api_version: Any, full: bool) -> Any:
        live = self.arm.read(resource_id, self.api_version(resource_id, api_version))
        if live is None:
            raise LiveStateMissing(f"{self.deferred.expression}: {resource_id} does not exist")
        return live if full else live.get("properties") or {}

    def list_action(self, resource_id: str, action: str, api_version: Any, body: Any) -> Any:
        return self.arm.list_action(resource_id, action, self.api_version(resource_id, api_version), body)


@LIVE_FUNCTIONS.function("reference", 1, 3, uses_context=True)
def _reference(live: _Live, resource_id: Any, api_version: Any = None, full: Any = None) -> Any:
    return live.reference(str(resource_id), api_version, str(full or "").lower() == "full")


@LIVE_FUNCTIONS.family("list", 2, 3, uses_context=True)
def _list(function: str, live: _Live, resource_id: Any, api_version: Any, body: Any = None) -> Any:
    return live.list_action(str(resource_id), function, api_version, body)


def resolve_deferred(deferred: DeferredValue, arm: ArmGateway) -> Any:
    """The value of ``deferred`` now; raises LiveStateMissing when it has none."""
    live = _Live(arm, deferred)
    if deferred.residual is None:
        if deferred.function == "reference":
            return get_path(live.reference(deferred.resource_id, deferred.api_version, False), deferred.property_path)
        return get_path(live.list_action(deferred.resource_id, deferred.function, deferred.api_version, None),
                        deferred.property_path)
    try:
        return compile_expression(deferred.residual, LIVE_FUNCTIONS)(live)
    except (ExpressionSyntaxError, EvaluationError):  # the error may quote live values (keys): name none
        raise LiveStateMissing(f"{deferred.expression} does not evaluate on the live state of "
                               f"{', '.join(deferred.reads or [deferred.resource_id])}") from None
