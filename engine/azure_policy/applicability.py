"""Which resources a policy applies to, as the Azure Policy docs' "What is applicability in Azure
Policy?" page (learn.microsoft.com/azure/governance/policy/concepts/policy-applicability) says.

- AuditIfNotExists / DeployIfNotExists: the whole ``if``; false means not applicable.
- Every other effect: only the ``type``, ``name`` and ``kind`` conditions of ``if`` are evaluated,
  every other condition counts as true (false when negated, so that it never makes the rule fail);
  an applicable resource whose whole ``if`` is false is Compliant. The page's special cases:

  | the ``if`` holds                        | applicability considers           |
  |-----------------------------------------|-----------------------------------|
  | an invalid alias                        | nothing: not applicable           |
  | only ``kind`` conditions                | nothing: applicable to everything |
  | only ``name`` conditions                | nothing: applicable to everything |
  | only ``type`` and ``kind`` conditions   | the ``type`` conditions           |
  | only ``type`` and ``name`` conditions   | the ``type`` conditions           |
  | ``type``, ``kind`` and other conditions | the ``type`` and ``kind`` ones     |
  | ``type``, ``name`` and other conditions | the ``type`` and ``name`` ones     |
  | a ``location`` condition anywhere (also | not applicable to subscriptions   |
  | in deployment parameters)               |                                   |

The invalid-alias row is :func:`engine.azure_policy.policy.compile_policy`'s, the location row
:func:`mentions_location`'s; the rest is :func:`applicability_test`. The modify page adds one more: a Modify
adding or replacing ``identity.type`` applies to virtual machines and scale sets only (:func:`restricted_to`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from engine import ids
from engine.azure_policy.compiler import AllOf, AnyOf, Condition, Node, Not
from engine.azure_policy.functions import RuleContext

APPLICABILITY_FIELDS = frozenset({"type", "name", "kind"})
SUBSCRIPTION_TYPE = ids.SUBSCRIPTION_TYPE
_LOCATION_FIELD = re.compile(r"""("field"\s*:\s*"location")|(field\(\s*'location'\s*\))""", re.IGNORECASE)

Test = Callable[[RuleContext], bool]


def _leaves(node: Node) -> list[Condition]:
    if isinstance(node, Condition):
        return [node]
    if isinstance(node, Not):
        return _leaves(node.child)
    if isinstance(node, AllOf | AnyOf):
        return [leaf for child in node.children for leaf in _leaves(child)]
    return []


def _field_name(leaf: Condition) -> str | None:
    """``type``, ``name`` or ``kind`` when ``leaf`` is a field condition on one of them."""
    subject = leaf.subject.lower()
    return subject if subject in APPLICABILITY_FIELDS and leaf.read is not None else None


def considered_fields(condition: Node) -> frozenset[str]:
    """The fields whose conditions decide applicability, after the docs' special cases."""
    fields = frozenset(name for name in map(_field_name, _leaves(condition)) if name is not None)
    others = any(_field_name(leaf) is None for leaf in _leaves(condition))
    if not others and fields in ({"kind"}, {"name"}):
        return frozenset()  # only kind, or only name, conditions: applicable to every resource
    if not others and fields in ({"type", "kind"}, {"type", "name"}):
        return frozenset({"type"})  # only type and kind (or name) conditions: the type ones
    return fields


def _build(node: Node, considered: frozenset[str], negated: bool) -> Test | bool:
    """``node`` with every condition outside ``considered`` folded to the value that lets the rule hold."""
    if isinstance(node, Condition):
        return node.test if _field_name(node) in considered else not negated
    if isinstance(node, Not):
        inner = _build(node.child, considered, not negated)
        if isinstance(inner, bool):
            return not inner
        return lambda context: not inner(context)
    assert isinstance(node, AllOf | AnyOf)
    deciding = isinstance(node, AnyOf)  # the constant that decides the whole operator
    tests: list[Test] = []
    for child in node.children:
        built = _build(child, considered, negated)
        if isinstance(built, bool):
            if built is deciding:
                return deciding
            continue
        tests.append(built)
    if not tests:
        return not deciding
    if deciding:
        return lambda context: any(test(context) for test in tests)
    return lambda context: all(test(context) for test in tests)


def applicability_test(condition: Node) -> Test | bool:
    """For effects other than AuditIfNotExists/DeployIfNotExists: whether a resource is applicable, or a
    constant when that does not depend on the resource."""
    return _build(condition, considered_fields(condition), False)


def restricted_to(test: Test | bool, type_keys: frozenset[str]) -> Test | bool:
    """``test``, and a resource of one of ``type_keys`` (lower-case): applicability narrowed to those types."""
    if test is False:
        return False

    def applicable(context: RuleContext) -> bool:
        return ids.normalize(str(context.resource.get("type", ""))) in type_keys and (test is True or test(context))

    return applicable


def mentions_location(policy_rule: dict[str, Any]) -> bool:
    """Whether the ``if`` or the deployment's parameters hold a ``location`` condition (or ``field('location')``)."""
    parts = {key.lower(): value for key, value in policy_rule.items()}
    if_part, then = parts.get("if"), parts.get("then")
    details = then.get("details") if isinstance(then, dict) else None
    deployment = details.get("deployment") if isinstance(details, dict) else None
    properties = deployment.get("properties") if isinstance(deployment, dict) else None
    parameters = properties.get("parameters") if isinstance(properties, dict) else None
    return any(_LOCATION_FIELD.search(json.dumps(part)) for part in (if_part, parameters) if part)
