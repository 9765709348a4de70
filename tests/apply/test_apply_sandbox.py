"""apply against the sandbox: real HTTPS, real Azure SDK clients, the sandbox's ARM rules and limits."""

from __future__ import annotations

import io
import itertools
import json
import sys
import time
from collections import Counter
from pathlib import Path

from engine import ids
from engine.cli.main import main
from engine.inventory import load_snapshot
from engine.inventory.generator import write_generated_fleet
from remediation.apply import ApplyOptions, OpState, apply_plan
from remediation.plan.models import Action, DeferredValue, Operation, SecretSource

from .plans import API, POLICY_ASSIGNMENT, extension_body, fleet_plan, only_arm64

FAST = {"provisioning_seconds": 0}


def live(running, resource_id: str) -> dict | None:
    """The sandbox's own record of a resource (its state, not what apply says)."""
    with running.server.sandbox.store.lock:
        return running.server.sandbox.store.get(resource_id)


def extensions_of(running, cluster_id: str) -> list[dict]:
    with running.server.sandbox.store.lock:
        return [resource for _, resource in running.server.sandbox.store.children(
            f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions")]


def run(running, plan, tmp_path: Path, **options) -> object:
    secrets = options.pop("secrets", None)
    return apply_plan(plan, running.connection(), ApplyOptions(**options), journal_path=tmp_path / "journal.sqlite",
                      secrets=secrets)


def test_small_fleet_applies_then_a_second_apply_writes_nothing(sandbox_factory, tmp_path):
    running = sandbox_factory(arm_page_size=2, **FAST)  # ARM lists page: apply's reads follow nextLink
    fleet = load_snapshot(running.fleet_file)
    plan = fleet_plan(fleet)
    planned = [op for op in plan.operations if op.status.value in ("planned", "waiting")]
    result = run(running, plan, tmp_path)
    states = {op.id: op.state for op in result.operations}
    assert all(states[op.id] in (OpState.SUCCEEDED, OpState.WAITING) for op in planned), result.counts
    assert running.control.stats()["writes"] == len(planned) == result.writes
    for op in planned:
        assert live(running, op.resource_id) is not None
    assert result.verification is not None and result.verification.duplicate_instances == []
    touched = {ids.normalize(op.cluster_id or "") for op in planned}
    extensions = [extension for cluster in touched for extension in extensions_of(running, cluster)]
    assert max(len(extensions_of(running, cluster)) for cluster in touched) > 2  # more than one page
    assert sum(result.verification.extensions_by_state.values()) == len(extensions)  # every page was read

    again = run(running, plan, tmp_path)
    assert running.control.stats()["writes"] == len(planned)
    assert again.writes == 0
    assert all(op.state in (OpState.SATISFIED, OpState.WAITING, OpState.SKIPPED, OpState.DEFERRED)
               for op in again.operations)


def test_500_cluster_fleet_with_throttling_and_faults_ends_compliant(sandbox_factory, tmp_path):
    fleet_file = tmp_path / "fleet.json"
    from engine.inventory.generator import write_generated_fleet

    write_generated_fleet(fleet_file, 500, seed=3)
    # ARM's buckets scaled (writes: burst 40, 150/s; reads 400, 600/s) so the test takes seconds; apply paces to
    # the same limits
    running = sandbox_factory(fleet=fleet_file, write_limit="40/150", read_limit="400/600", **FAST)
    for rule in ({"status": 503, "probability": 0.03}, {"status": 500, "probability": 0.02},
                 {"status": 429, "retryAfter": 0, "probability": 0.02}, {"drop": True, "probability": 0.02}):
        running.control.inject_fault(target="arm", **rule)
    fleet = load_snapshot(fleet_file)
    plan = fleet_plan(fleet)
    by_status = Counter(op.status.value for op in plan.operations)
    assert by_status["skipped"] and by_status["deferred"] and by_status["waiting"]

    result = run(running, plan, tmp_path, parallel=48, write_burst=40, write_rate=150, read_burst=400, read_rate=600)

    states = {op.id: op.state for op in result.operations}
    for operation in plan.operations:
        expected = {"planned": OpState.SUCCEEDED, "waiting": OpState.WAITING, "skipped": OpState.SKIPPED,
                    "deferred": OpState.DEFERRED}[operation.status.value]
        assert states[operation.id] is expected, (operation.id, states[operation.id])
    assert result.counts["skipped"] and result.counts["deferred"]
    assert result.exit_status == 1  # deferred operations are not in effect yet
    # every remediable cluster now has what the policies want, and what apply wrote has settled
    for cluster in fleet.clusters():
        kinds = {e["properties"]["extensionType"].lower() for e in extensions_of(running, cluster.id)}
        if cluster.cluster.is_connected and not only_arm64(cluster):
            assert {"microsoft.policyinsights", "microsoft.flux"} <= kinds, cluster.id
        per_type = Counter(e["properties"]["extensionType"].lower() for e in extensions_of(running, cluster.id)
                           if "cluster" in (e["properties"].get("scope") or {}))
        assert max(per_type.values(), default=1) == 1, cluster.id  # no duplicate cluster-scoped instances
    for operation in plan.operations:
        if operation.status.value == "planned":
            assert live(running, operation.resource_id)["properties"]["provisioningState"] == "Succeeded"
    assert result.verification.duplicate_instances == []
    stats = running.control.stats()
    applied = sum(1 for op in plan.operations if op.status.value in ("planned", "waiting"))
    assert stats["faultsInjected"] > 0
    assert stats["writes"] == applied  # each target written once, despite faults and retries
    assert stats["throttled"] <= applied * 0.05  # pacing, not retries, keeps 429s rare

    running.control.clear_faults()
    before = running.control.stats()["writes"]
    code = main(["apply", str(_save(plan, tmp_path)), "--arm-endpoint", running.url, "--ca-bundle",
                 str(running.endpoint.ca_bundle), "--credential", "sandbox", "--write-limit", "40/150",
                 "-o", str(tmp_path / "second.json")])
    second = json.loads((tmp_path / "second.json").read_text())
    assert code == 1 and second["writes"] == 0
    assert running.control.stats()["writes"] == before
    assert set(second["counts"]) <= {"satisfied", "waiting", "skipped", "deferred"}


def _save(plan, tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.to_json()))
    return path


def _cli(running, plan_file: Path, *extra: str) -> int:
    return main(["apply", str(plan_file), "--arm-endpoint", running.url, "--ca-bundle",
                 str(running.endpoint.ca_bundle), "--credential", "sandbox", *extra])


def test_kill_9_mid_apply_then_resume_writes_each_target_exactly_once(sandbox_factory, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    # LROs stay in flight for a moment of simulated time, and writes are paced slowly enough to kill mid-way
    running = sandbox_factory(write_limit="5/25", provisioning_seconds=0.3)
    plan = fleet_plan(load_snapshot(running.fleet_file))
    applied = [op for op in plan.operations if op.status.value in ("planned", "waiting")]
    assert len(applied) >= 20
    plan_file = _save(plan, tmp_path)
    command = [sys.executable, "-m", "engine", "apply", str(plan_file), "--arm-endpoint", running.url,
               "--ca-bundle", str(running.endpoint.ca_bundle), "--credential", "sandbox",
               "--write-limit", "5/25", "--parallel", "8", "-o", str(tmp_path / "first.json")]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while running.control.stats()["writes"] < len(applied) // 2 and time.monotonic() < deadline:
            assert process.poll() is None, "apply finished before it could be killed"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    written_before_resume = running.control.stats()["writes"]
    assert 0 < written_before_resume < len(applied)
    assert not (tmp_path / "first.json").exists()  # killed: no half-written result

    code = _cli(running, plan_file, "--resume", "--write-limit", "5/25", "-o", str(tmp_path / "result.json"))
    result = json.loads((tmp_path / "result.json").read_text())
    states = {op["id"]: op["state"] for op in result["operations"]}
    assert code == (1 if "deferred" in states.values() else 0)
    assert all(states[op.id] in ("succeeded", "waiting") for op in applied), result["counts"]
    assert running.control.stats()["writes"] == len(applied)  # nothing written twice, nothing lost
    assert result["writes"] == len(applied) - written_before_resume
    for op in applied:
        assert live(running, op.resource_id) is not None
    for cluster_id in {op.cluster_id for op in applied}:
        per_type = Counter(e["properties"]["extensionType"].lower() for e in extensions_of(running, cluster_id))
        assert max(per_type.values()) == 1


def _one_cluster_plan(running, cluster_filter) -> tuple[str, object]:
    fleet = load_snapshot(running.fleet_file)
    cluster = next(c for c in fleet.clusters() if cluster_filter(c))
    plan = fleet_plan(fleet)
    plan.operations = [op for op in plan.operations if op.cluster_id == cluster.id
                       and op.status.value == "planned"]
    return cluster.id, plan


def _connected_amd64_without_policy(cluster) -> bool:
    return (ids.same(cluster.resource["type"], ids.CONNECTED_CLUSTER_TYPE) and cluster.cluster.is_connected
            and "arcpolicy.io/node-architectures" not in (cluster.resource.get("tags") or {})
            and not any(e.extension_type in ("microsoft.policyinsights", "microsoft.flux")
                        for e in cluster.typed_extensions))


def test_cluster_changed_since_the_plan_is_stale_not_written(sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    cluster_id, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    policy_op = next(op for op in plan.operations if op.resource_id.endswith("/azurepolicy"))
    flux_ops = [op for op in plan.operations if op is not policy_op]
    # someone installs the policy extension under another name; the cluster then goes offline for flux
    other = f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/policy-by-hand"
    single = plan.model_copy(update={"operations": [policy_op.model_copy(
        update={"id": "op-hand", "resource_id": other})]})
    assert run(running, single, tmp_path).operations[0].state is OpState.SUCCEEDED
    writes = running.control.stats()["writes"]

    result = run(running, plan.model_copy(update={"operations": [policy_op]}), tmp_path)
    assert result.operations[0].state is OpState.STALE
    assert "policy-by-hand" in result.operations[0].message
    running.control.set_connectivity(cluster_id, "Offline")
    result = run(running, plan.model_copy(update={"operations": flux_ops}), tmp_path)
    assert result.operations[0].state is OpState.STALE and "disconnected" in result.operations[0].message
    assert result.operations[1].state is OpState.BLOCKED
    assert running.control.stats()["writes"] == writes
    assert result.exit_status == 1


def test_deferred_values_and_protected_settings_are_derived_at_apply_time_and_never_recorded(
        sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    cluster_id, _ = _one_cluster_plan(running, _connected_amd64_without_policy)
    subscription = ids.parse_resource_id(cluster_id).subscription_id
    group = f"/subscriptions/{subscription}/resourceGroups/rg-monitoring"
    workspace = f"{group}/providers/Microsoft.OperationalInsights/workspaces/law-1"
    extension = f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/azuremonitor-containers"
    body = extension_body("microsoft.azuremonitor.containers", "kube-system",
                          {"logAnalyticsWorkspaceResourceID": workspace, "omsagent.workspaceId": "<deferred>",
                           "omsagent.label": "<deferred>"})
    body["properties"]["configurationProtectedSettings"] = {"omsagent.secret.key": "<redacted>",
                                                            "proxy.password": "<redacted>", "combined": "<redacted>"}
    reference = DeferredValue(path="properties.configurationSettings.omsagent.workspaceId", function="reference",
                              resource_id=workspace, api_version="2022-10-01", property_path="customerId",
                              expression=f"[reference('{workspace}', '2022-10-01').customerId]")
    keys = DeferredValue(path="properties.configurationProtectedSettings.omsagent.secret.key", function="listKeys",
                         resource_id=workspace, api_version="2022-10-01", property_path="primarySharedKey",
                         expression=f"[listKeys('{workspace}', '2022-10-01').primarySharedKey]")
    # computed from deferred calls: the residual expression is evaluated on the live state
    label = DeferredValue(path="properties.configurationSettings.omsagent.label", function="reference",
                          resource_id=workspace, expression="[concat(reference(variables('ws')).customerId, '-x')]",
                          residual=f"[concat(toUpper(reference('{workspace}', '2022-10-01', 'Full').name), '-', "
                                   f"reference('{workspace}', '2022-10-01').customerId)]", reads=[workspace])
    combined = DeferredValue(path="properties.configurationProtectedSettings.combined", function="listKeys",
                             resource_id=workspace, expression="[concat(listKeys(...).primarySharedKey, '|')]",
                             residual=f"[concat(listKeys('{workspace}', '2022-10-01').primarySharedKey, '|')]",
                             reads=[workspace])
    common = {"api_version": API, "subscription_id": subscription, "cluster_id": cluster_id}
    plan = fleet_plan(load_snapshot(running.fleet_file)).model_copy(update={"operations": [
        Operation(id="op-rg", action=Action.CREATE, resource_id=group, resource_type="Microsoft.Resources/"
                  "resourceGroups", body={"location": "eastus"}, **{**common, "api_version": "2022-09-01",
                                                                     "cluster_id": None}),
        Operation(id="op-law", action=Action.CREATE, resource_id=workspace, depends_on=["op-rg"],
                  resource_type="Microsoft.OperationalInsights/workspaces", body={"location": "eastus"},
                  **{**common, "api_version": "2022-10-01", "cluster_id": None}),
        Operation(id="op-ext", action=Action.CREATE, resource_id=extension, depends_on=["op-law"],
                  resource_type="Microsoft.KubernetesConfiguration/extensions", body=body,
                  deferred_values=[reference, keys, label, combined],
                  secret_sources=[SecretSource(path="properties.configurationProtectedSettings.omsagent.secret.key",
                                               kind="deferred", deferred=keys),
                                  SecretSource(path="properties.configurationProtectedSettings.combined",
                                               kind="deferred", deferred=combined),
                                  SecretSource(path="properties.configurationProtectedSettings.proxy.password",
                                               kind="parameter", parameter="proxyPassword",
                                               policy_assignment_id=POLICY_ASSIGNMENT)], **common)]})
    plan_file = _save(plan, tmp_path)

    # without the parameter: bad input, exit 2, nothing written
    assert _cli(running, plan_file, "-o", str(tmp_path / "r.json")) == 2
    assert running.control.stats()["writes"] == 0 and not (tmp_path / "r.json").exists()

    secrets_file = tmp_path / "assignment.json"
    secrets_file.write_text(json.dumps({"id": POLICY_ASSIGNMENT, "properties": {
        "parameters": {"proxyPassword": {"value": "hunter2-proxy"}}}}))
    code = _cli(running, plan_file, "--secrets", str(secrets_file), "-o", str(tmp_path / "r.json"))
    assert code == 0, (tmp_path / "r.json").read_text()
    # listKeys() is a POST ARM meters as a write: the result counts it as the sandbox does, on top of the three PUTs
    assert json.loads((tmp_path / "r.json").read_text())["writes"] == running.control.stats()["writes"] > 3
    created = live(running, extension)
    law = live(running, workspace)
    assert created["properties"]["configurationSettings"]["omsagent.workspaceId"] == law["properties"]["customerId"]
    assert created["properties"]["configurationSettings"]["omsagent.label"] == \
        f"LAW-1-{law['properties']['customerId']}"
    assert set(created["properties"]["configurationProtectedSettings"]) == {"omsagent.secret.key", "proxy.password",
                                                                            "combined"}
    journal_bytes = (tmp_path / "plan.json.journal.sqlite").read_bytes()
    result_text = (tmp_path / "r.json").read_text()
    for secret in ("hunter2-proxy", _list_keys(running, workspace)["primarySharedKey"]):
        assert secret not in result_text and secret.encode() not in journal_bytes


def _list_keys(running, resource_id: str) -> dict:
    import requests

    from engine.azure.connection import SANDBOX_TOKEN

    response = requests.post(f"{running.url}{resource_id}/listKeys", params={"api-version": "2022-10-01"},
                             headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
                             verify=str(running.endpoint.ca_bundle), timeout=10)
    response.raise_for_status()
    return response.json()


def test_failed_canary_stops_the_rollout_and_reports_what_was_not_attempted(sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    fleet = load_snapshot(running.fleet_file)
    plan = fleet_plan(fleet, canary=4)
    canary = [op for op in plan.operations if op.wave == 0]
    for operation in canary[:2]:  # two canary clusters turn out to be arm64-only: their installs fail
        running.control.set_node_architectures(operation.cluster_id, "arm64")
    policy_canaries = [op for op in canary[:2] if op.resource_id.endswith("/azurepolicy")]
    assert policy_canaries, "the canary wave should hold a policy extension install"
    result = run(running, plan, tmp_path, failure_threshold=0.1)
    states = {op.id: op for op in result.operations}
    assert result.stopped_by_failure_threshold
    assert all(states[op.id].state is OpState.FAILED for op in policy_canaries)
    assert "UnsupportedNodeArchitecture" in states[policy_canaries[0].id].message
    later = [op for op in plan.operations if op.wave == 1 and op.status.value == "planned"]
    assert later and all(states[op.id].state is OpState.NOT_ATTEMPTED for op in later)
    assert all(live(running, op.resource_id) is None for op in later)
    assert result.exit_status == 1


def test_wait_reports_the_settled_provisioning_state(sandbox_factory, tmp_path):
    running = sandbox_factory(provisioning_seconds=0.2)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    result = run(running, plan, tmp_path, wait=True)
    assert [op.state for op in result.operations] == [OpState.SUCCEEDED] * len(plan.operations)
    extension_results = [op for op in result.operations if "/extensions/" in op.resource_id]
    assert extension_results and all(op.provisioning_state == "Succeeded" for op in extension_results)


def test_bad_input_exits_2_with_one_line_and_nothing_written(sandbox_factory, tmp_path, capsys):
    running = sandbox_factory(**FAST)
    assert _cli(running, tmp_path / "missing.json") == 2
    assert "missing.json: plan file not found" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert _cli(running, broken, "-o", str(tmp_path / "out.json")) == 2
    plan_file = _save(fleet_plan(load_snapshot(running.fleet_file)), tmp_path)
    assert _cli(running, plan_file, "--failure-threshold", "1.5") == 2
    assert _cli(running, plan_file, "--write-limit", "fast") == 2
    err = capsys.readouterr().err
    assert "--write-limit" in err and "Traceback" not in err
    assert running.control.stats()["writes"] == 0 and not (tmp_path / "out.json").exists()


def test_plan_then_apply_end_to_end_with_compliance_before_and_after(sandbox_factory, tmp_path):
    builtins = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-builtins"
    policy = builtins / "ArcPolicyExtension_DINE.json"
    running = sandbox_factory(**FAST)
    plan_file = tmp_path / "plan.json"
    assert main(["plan", "--inventory", str(running.fleet_file), "--policy", str(policy), "--workers", "1",
                 "-o", str(plan_file)]) == 0
    operations = json.loads(plan_file.read_text())["operations"]
    fleet_states = {ids.normalize(r["id"]): (r.get("properties") or {}).get("provisioningState")
                    for r in load_snapshot(running.fleet_file).resources()}
    busy = [op for op in operations if fleet_states.get(ids.normalize(op["resourceId"])) in ("Creating", "Updating")]
    planned = [op for op in operations if op["status"] in ("planned", "waiting") and op not in busy]
    assert planned and busy  # the generated fleet has extensions stuck mid-operation

    code = _cli(running, plan_file, "--policy", str(policy), "-o", str(tmp_path / "result.json"))
    result = json.loads((tmp_path / "result.json").read_text())
    states = {op["id"]: op["state"] for op in result["operations"]}
    assert all(states[op["id"]] in ("succeeded", "waiting") for op in planned), result["counts"]
    # targets the fleet file holds mid-operation move on on the sandbox's clock: none fails or blocks the rollout
    assert all(states[op["id"]] in ("succeeded", "satisfied", "waiting") for op in busy), result["counts"]
    assert "failed" not in states.values() and "not-attempted" not in states.values()
    assert code == 0
    written = [op for op in result["operations"] if op["writes"]]
    assert running.control.stats()["writes"] == len(written) >= len(planned)
    rows = result["verification"]["policies"]
    assert rows and sum(row["beforeNonCompliant"] for row in rows) > sum(row["afterNonCompliant"] for row in rows)

    assert _cli(running, plan_file, "-o", str(tmp_path / "again.json")) == code
    assert json.loads((tmp_path / "again.json").read_text())["writes"] == 0
    assert running.control.stats()["writes"] == len(written)


def test_resume_re_polls_an_in_flight_lro_instead_of_writing_again(sandbox_factory, tmp_path):
    import requests

    from engine.azure.connection import SANDBOX_TOKEN
    from remediation.apply import plan_fingerprint
    from remediation.apply.journal import Journal

    running = sandbox_factory(provisioning_seconds=0.5)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    operation = plan.operations[0]
    plan.operations = [operation]
    # the first run's write reached ARM and was journaled as accepted; then the process died
    response = requests.put(f"{running.url}{operation.resource_id}", params={"api-version": API},
                            json=operation.body, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
                            verify=str(running.endpoint.ca_bundle), timeout=10)
    assert response.status_code == 201
    journal = Journal(tmp_path / "journal.sqlite", plan_fingerprint(plan))
    journal.record(operation.id, OpState.LRO_STARTED, polling_url=response.headers["Azure-AsyncOperation"], writes=1)
    journal.close()
    assert live(running, operation.resource_id)["properties"]["provisioningState"] == "Creating"

    result = run(running, plan, tmp_path, resume=True)
    assert result.operations[0].state is OpState.SUCCEEDED and result.operations[0].writes == 1
    assert result.writes == 0 and running.control.stats()["writes"] == 1
    assert live(running, operation.resource_id)["properties"]["provisioningState"] == "Succeeded"


class _TimedStream(io.StringIO):
    """A captured stderr that is not a terminal and notes when each progress line was written."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.lines.extend((time.monotonic(), line) for line in text.splitlines() if line.startswith("apply: "))
        return super().write(text)

    def isatty(self) -> bool:
        return False


def test_apply_wait_prints_a_progress_line_at_least_every_5_s_off_a_terminal(sandbox_factory, tmp_path, monkeypatch):
    running = sandbox_factory(provisioning_seconds=12)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    plan.operations = plan.operations[:1]
    plan_file = _save(plan, tmp_path)
    stream = _TimedStream()
    monkeypatch.setattr(sys, "stderr", stream)
    started = time.monotonic()
    assert _cli(running, plan_file, "--wait", "-o", str(tmp_path / "result.json")) == 0
    ended = time.monotonic()
    moments = [started, *(moment for moment, _ in stream.lines)]
    assert ended - started >= 10 and len(stream.lines) >= 2, stream.getvalue()
    assert max(later - earlier for earlier, later in itertools.pairwise(moments)) < 6.5, stream.lines
    assert stream.lines[0][1].startswith("apply: 0/1 done")


def test_a_second_apply_writes_nothing_and_expired_extensions_are_re_created_once_back(sandbox_factory, tmp_path):
    """README: a second apply writes nothing. Generated 200-cluster fleet, the shipped library, the
    real SDK clients: waiting operations on disconnected clusters and extensions whose protected
    settings expired while their cluster was away are not rewritten on every run; an expired one is
    re-created (deleted, created) once its cluster is connected again, and then left alone."""
    from policies import LIBRARY

    fleet_file = tmp_path / "fleet.json"
    write_generated_fleet(fleet_file, 200, seed=1)
    running = sandbox_factory(fleet=fleet_file, **FAST)
    plan_file = tmp_path / "plan.json"
    assert main(["plan", "-i", str(fleet_file), "-p", str(LIBRARY / "azure"), "-p", str(LIBRARY / "rego"),
                 "--workers", "1", "-o", str(plan_file)]) == 0

    def apply(name: str) -> dict:
        assert _cli(running, plan_file, "--wait", "-o", str(tmp_path / name)) == 0
        return json.loads((tmp_path / name).read_text())

    first = apply("first.json")
    assert first["writes"] == running.control.stats()["writes"] > 200
    expired = [op for op in first["operations"] if op["state"] == "waiting" and "expired" in (op.get("message") or "")]
    assert expired and all(op["writes"] == 0 for op in expired)  # the cluster is away: writing would fail again
    second = apply("second.json")
    assert second["writes"] == 0 and running.control.stats()["writes"] == first["writes"]
    assert not {"succeeded", "failed"} & set(second["counts"])

    back = expired[0]
    running.control.set_connectivity(ids.owning_cluster_id(back["resourceId"]), "Connected")
    third = apply("third.json")
    (recreated,) = [op for op in third["operations"] if op["writes"]]
    assert (recreated["id"], recreated["state"], recreated["writes"]) == (back["id"], "succeeded", 2)  # delete, create
    assert recreated["message"].startswith("re-created (deleted, then created)")
    with running.server.sandbox.store.lock:
        live = running.server.sandbox.store.get(back["resourceId"])
    assert live["properties"]["provisioningState"] == "Succeeded" and not live["properties"].get("errorInfo")
    assert apply("fourth.json")["writes"] == 0
