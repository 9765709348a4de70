"""The shipped Rego policies and their Azure Policy JSON twins give identical states on a fleet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.azure_policy.kind import AzurePolicyKind
from engine.evaluate.kinds import ClusterEvaluator
from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet
from engine.rego.kind import RegoKind
from policies import LIBRARY

TWINS = sorted((LIBRARY / "azure").glob("*.json"))
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _states(evaluator: ClusterEvaluator, fleet: Fleet) -> dict[str, bool | None]:
    """Cluster id -> compliant (None when not applicable) for a single-assignment evaluator."""
    states: dict[str, bool | None] = {}
    for cluster in fleet.clusters():
        verdicts = evaluator.evaluate(cluster, lambda *_: True, NOW).verdicts
        on_cluster = [verdict for verdict in verdicts if verdict.resource["id"] == cluster.id]
        assert len(on_cluster) <= 1
        states[cluster.id] = on_cluster[0].compliant if on_cluster else None
    return states


def test_three_policies_have_azure_twins() -> None:
    assert [path.stem for path in TWINS] == ["defender_required_non_aks", "flux_auto_upgrade", "monitoring_required"]


@pytest.mark.parametrize("twin", TWINS, ids=lambda path: path.stem)
def test_rego_and_azure_policy_forms_agree_on_a_generated_fleet(twin: Path) -> None:
    fleet = Fleet(generate_fleet(150, seed=7))
    package = json.loads(twin.read_text())["properties"]["metadata"]["regoTwin"].removeprefix("rego:")

    azure_kind = AzurePolicyKind()
    azure_library = azure_kind.load([twin])
    azure_assignments, _ = azure_kind.default_assignments(azure_library)
    azure_states = _states(azure_kind.compile(azure_library, azure_assignments), fleet)

    rego_kind = RegoKind()
    rego_library = rego_kind.load([LIBRARY / "rego" / f"{package.split('.')[-1]}.rego",
                                   LIBRARY / "rego" / "lib" / "extensions.rego"])
    rego_assignments, problems = rego_kind.default_assignments(rego_library)
    assert problems == []
    rego_states = _states(rego_kind.compile(rego_library, rego_assignments), fleet)

    assert rego_states == azure_states
    # the fleet exercises every outcome, so agreement is not vacuous
    assert {True, False, None} <= set(rego_states.values())
