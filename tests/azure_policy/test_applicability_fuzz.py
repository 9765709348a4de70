"""Applicability over random condition trees (Hypothesis, fixed derandomised budget).

Properties from the docs' rule ("other conditions count as true, false under not", so they never make a
resource inapplicable): building the test never fails, and a resource whose whole ``if`` holds is always
applicable, whatever the mix of type/name/kind conditions, other conditions, ``not``, allOf and anyOf.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.azure_policy.applicability import applicability_test
from engine.azure_policy.functions import RuleContext

from .builders import NOW, audit_rule, cluster, extension

EXAMPLES = int(os.environ.get("ARCPOLICY_FUZZ_EXAMPLES", "300"))
CONNECTED = "Microsoft.Kubernetes/connectedClusters"
OWNER = cluster("prod-1", tags={"env": "prod"})
RESOURCES = [OWNER, {**cluster("dev-2", distribution="eks", tags={}), "kind": "ProvisionedCluster"},
             extension(OWNER, "flux", "microsoft.flux")]

LEAVES = st.sampled_from([
    {"field": "type", "equals": CONNECTED},
    {"field": "type", "in": [CONNECTED, "Microsoft.KubernetesConfiguration/extensions"]},
    {"field": "type", "notEquals": CONNECTED},
    {"field": "name", "like": "prod-*"},
    {"field": "kind", "equals": "ProvisionedCluster"},
    {"field": "tags['env']", "exists": "true"},
    {"field": f"{CONNECTED}/distribution", "equals": "k3s"},
    {"value": "[field('name')]", "contains": "dev"},
    {"count": {"value": ["a", "b"], "name": "x", "where": {"value": "[current('x')]", "equals": "a"}}, "equals": 1},
])


def _trees(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.builds(lambda item: {"not": item}, children),
                     st.builds(lambda items: {"allOf": items}, st.lists(children, min_size=1, max_size=3)),
                     st.builds(lambda items: {"anyOf": items}, st.lists(children, min_size=1, max_size=3)))


CONDITIONS = st.recursive(LEAVES, _trees, max_leaves=8)


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONDITIONS)
def test_a_resource_whose_if_holds_is_applicable(condition: dict[str, Any]) -> None:
    policy = audit_rule(condition)
    applicable = applicability_test(policy.condition)
    for resource in RESOURCES:
        context = RuleContext(resource, NOW, {})
        holds = applicable if isinstance(applicable, bool) else applicable(context)
        if policy.condition.test(context):
            assert holds, (condition, resource["name"])
        decided = policy.evaluate(resource, {}, NOW)
        assert (decided is not None) == holds  # evaluate() applies exactly this test
