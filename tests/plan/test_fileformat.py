"""plan.json formatVersion 2: every reason once, shared bodies and deferred values once, one line per
operation; read back into the same Plan; version-1 plans still read; a wrong table index is one line."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from remediation.plan.builder import build_plan
from remediation.plan.io import read_plan, write_plan

from .builders import AZURE_POLICY, DEFENDER, FLUX_EXTENSION, FLUX_SSH, NOW, cluster, fleet, wanted

FLUX_CONFIG = {"configurationName": "baseline", "repositoryUrl": "https://github.com/contoso/baseline",
               "keyVaultName": "kv", "keyVaultSecretName": "ssh", "repositoryRefBranch": "main"}


@pytest.fixture(scope="module")
def plan():
    clusters = [cluster(f"c{index}", group=f"rg-{index % 3}", location=("westeurope", "eastus")[index % 2])
                for index in range(30)]
    wanted_ops = [item for each in clusters for name in (DEFENDER, AZURE_POLICY) for item in wanted(each, name)]
    wanted_ops += [*wanted(clusters[0], FLUX_EXTENSION), *wanted(clusters[0], FLUX_SSH, "ssh", FLUX_CONFIG)]
    return build_plan(wanted_ops, fleet(*clusters), created_at=NOW)


def test_each_reason_and_each_shared_value_is_written_once_and_reads_back_the_same_plan(plan, tmp_path) -> None:
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    text = path.read_text()
    data = json.loads(text)
    assert data["formatVersion"] == 2
    pairs = {(reason.policy_assignment_id, reason.policy_definition_id, reason.evaluated_resource_id)
             for operation in plan.operations for reason in operation.reasons}
    assert len(data["reasons"]) == len(pairs) == 62  # 30 clusters x 2 policies + the two flux ones
    workspace = next(operation for operation in data["operations"] if operation["resourceId"].endswith("-WEU")
                     or "workspaces/" in operation["resourceId"])
    assert len(workspace["reasons"]) > 1 and all(isinstance(index, int) for index in workspace["reasons"])
    assert data["bodies"] and data["deferredValues"]  # the extension bodies and workspace reads clusters share
    assert text.count('"evaluatedResourceId"') == len(data["reasons"])
    assert len(text.splitlines()) > len(plan.operations)  # one line per operation
    assert read_plan(path) == plan
    previous_layout = orjson.dumps(plan.to_json(), option=orjson.OPT_INDENT_2)
    assert len(text) * 3 < len(previous_layout)


def test_a_format_version_1_plan_is_still_read(plan, tmp_path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(orjson.dumps(plan.to_json()))
    assert json.loads(path.read_text())["formatVersion"] == 1 and read_plan(path) == plan


@pytest.mark.parametrize(("change", "place", "message"), [
    (lambda data: data.update(formatVersion=3), "formatVersion", "plan formatVersion 3 is not one this arcpolicy reads"),
    (lambda data: data["operations"][0].update(reasons=[10_000]), "operations[0].reasons[0]", "not an index"),
    (lambda data: data["operations"][-1].update(body=99), "operations[", "not an index into the plan's shared"),
    (lambda data: data["reasons"][0].update(policy="x"), "reasons[0].policy", "names a policy by its index"),
    (lambda data: data.update(reasons={}), "reasons", "must be a list"),
])
def test_a_wrong_table_or_version_is_one_line_naming_the_place(plan, tmp_path, change, place, message) -> None:
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as error:
        read_plan(path)
    line = error.value.one_line()
    assert line.startswith(f"{path}: {place}") and message in line


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 5) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional={name: JSON for name in (
    "policies", "reasons", "bodies", "deferredValues", "operations", "conflicts")}),
       st.lists(st.sampled_from(["reasons", "body", "deferredValues", "secretSources", "resourceId", "why"]),
                max_size=3), JSON)
def test_any_version_2_document_is_read_or_refused_in_one_line(tmp_path, document, keys, value) -> None:
    operation = {"id": "op-1", "action": "create", "resourceType": "Microsoft.Resources/resourceGroups",
                 "apiVersion": "2021-04-01", "resourceId": "/subscriptions/s/resourceGroups/rg"}
    operation.update(dict.fromkeys(keys, value))
    document = {"createdAt": "2026-11-01T00:00:00Z", "inventoryFingerprint": "f", "operations": [operation],
                **document, "formatVersion": 2}
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(document))
    try:
        read_plan(path)
    except InputError as error:
        assert "\n" not in error.one_line()
