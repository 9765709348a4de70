"""apply when things go wrong: bad input, deadlines, a failing verification, an operation that breaks.

Against the sandbox, through the real Azure SDK clients.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from engine import ids
from engine.azure.connection import SANDBOX_TOKEN
from engine.errors import InputError
from engine.inventory import load_snapshot
from remediation.apply import ApplyOptions, OpState, apply_plan, plan_fingerprint
from remediation.apply.journal import Journal
from remediation.plan.models import Operation, Plan, Reason, SecretSource

from .plans import API, POLICY_ASSIGNMENT, extension_body
from .test_apply_sandbox import _cli, _connected_amd64_without_policy, _one_cluster_plan, _save, live

FAST = {"provisioning_seconds": 0}
SLOW = {"provisioning_seconds": 3600}  # an extension stays Creating for the whole test
PROXY_PASSWORD = "properties.configurationProtectedSettings.proxy.password"


def _one_operation(running) -> Plan:
    """The plan of one connected cluster, cut to its first planned operation (an extension install)."""
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    return plan.model_copy(update={"operations": plan.operations[:1]})


def _put(running, operation: Operation) -> requests.Response:
    """The operation's write, sent straight to the sandbox (as a previous run or someone else did)."""
    response = requests.put(f"{running.url}{operation.resource_id}", params={"api-version": API},
                            json=operation.body, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
                            verify=str(running.endpoint.ca_bundle), timeout=10)
    response.raise_for_status()
    return response


def test_bad_input_leaves_the_journal_as_it_was(sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    plan = _one_operation(running)
    needs_secret = plan.model_copy(update={"operations": [plan.operations[0].model_copy(update={
        "secret_sources": [SecretSource(path=PROXY_PASSWORD, kind="parameter", parameter="proxyPassword",
                                        policy_assignment_id=POLICY_ASSIGNMENT)]})]})
    plan_file = _save(needs_secret, tmp_path)
    journal_file = tmp_path / "plan.json.journal.sqlite"

    assert _cli(running, plan_file, "-o", str(tmp_path / "result.json")) == 2  # no --secrets
    assert not journal_file.exists() and not (tmp_path / "result.json").exists()

    # a previous run's record survives bad input, with or without --resume
    journal = Journal(journal_file, plan_fingerprint(needs_secret))
    journal.record(needs_secret.operations[0].id, OpState.FAILED, message="from the previous run")
    journal.close()
    for extra in ((), ("--resume",)):
        assert _cli(running, plan_file, *extra) == 2
        entries = Journal.read(journal_file, plan_fingerprint(needs_secret))
        assert entries[needs_secret.operations[0].id].message == "from the previous run"
    with pytest.raises(InputError, match="proxyPassword"):
        apply_plan(needs_secret, running.connection(), ApplyOptions(), journal_path=tmp_path / "library.sqlite")
    assert not (tmp_path / "library.sqlite").exists()

    # a plan whose operations depend on each other in a circle: one line naming it, nothing written
    first, = plan.operations
    second = first.model_copy(update={"id": "op-second", "depends_on": [first.id],
                                      "resource_id": first.resource_id + "-2"})
    circular = plan.model_copy(update={"operations": [first.model_copy(update={"depends_on": ["op-second"]}),
                                                      second]})
    (tmp_path / "circular").mkdir()
    circular_file = _save(circular, tmp_path / "circular")
    assert _cli(running, circular_file) == 2
    assert running.control.stats()["writes"] == 0
    assert not (tmp_path / "circular" / "plan.json.journal.sqlite").exists()


def test_plan_or_secrets_that_are_directories_are_bad_input(sandbox_factory, tmp_path, capsys):
    running = sandbox_factory(**FAST)
    assert _cli(running, tmp_path) == 2
    assert f"{tmp_path}: is a directory, expected a plan file" in capsys.readouterr().err
    (tmp_path / "p").mkdir()
    plan_file = _save(_one_operation(running), tmp_path / "p")
    assert _cli(running, plan_file, "--secrets", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and "Traceback" not in err
    assert running.control.stats()["writes"] == 0


def test_a_target_found_creating_as_planned_is_waiting_neither_waited_for_nor_failed(sandbox_factory, tmp_path):
    running = sandbox_factory(**SLOW)
    plan = _one_operation(running)
    operation = plan.operations[0]
    _put(running, operation)  # written by someone else (or an earlier run), still provisioning
    started = time.monotonic()
    result = apply_plan(plan, running.connection(), ApplyOptions(wait=True, timeout=30),
                        journal_path=tmp_path / "journal.sqlite")
    outcome, = result.operations
    assert outcome.state is OpState.WAITING and outcome.provisioning_state == "Creating"
    assert outcome.message == "found Creating: an operation this apply did not start; not waited for"
    assert result.exit_status == 0 and result.writes == 0
    assert time.monotonic() - started < 25  # not waited for (--timeout is 30 s)


def test_a_target_busy_with_other_properties_waits_for_that_operation_then_is_judged_again(sandbox_factory,
                                                                                            tmp_path):
    running = sandbox_factory(provisioning_seconds=1)
    plan = _one_operation(running)
    operation = plan.operations[0]
    other = {**operation.body, "properties": {**operation.body["properties"], "releaseTrain": "Preview"}}
    _put(running, operation.model_copy(update={"body": other}))  # someone else's create, still provisioning
    unwaited = apply_plan(plan, running.connection(), ApplyOptions(), journal_path=tmp_path / "journal.sqlite")
    assert [(op.state, op.writes) for op in unwaited.operations] == [(OpState.WAITING, 0)]
    assert "not written: the target is Creating" in unwaited.operations[0].message
    waited = apply_plan(plan, running.connection(), ApplyOptions(wait=True, timeout=30),
                        journal_path=tmp_path / "journal.sqlite")
    # once that create is done the target exists with other properties: stale, never a 409 or a failure
    assert [(op.state, op.writes) for op in waited.operations] == [(OpState.STALE, 0)]
    assert waited.operations[0].message == "the target was created with other properties since the plan"


def test_a_poll_timeout_is_journaled_as_accepted_so_resume_keeps_polling(sandbox_factory, tmp_path):
    running = sandbox_factory(**SLOW)
    plan = _one_operation(running)
    operation = plan.operations[0]
    journal_file = tmp_path / "journal.sqlite"
    result = apply_plan(plan, running.connection(), ApplyOptions(timeout=0.3), journal_path=journal_file)
    outcome, = result.operations
    assert outcome.state is OpState.FAILED and outcome.writes == 1
    assert outcome.message == "still running after 0.3s; re-run with --resume to keep polling"
    entry = Journal.read(journal_file, plan_fingerprint(plan))[operation.id]
    assert entry.state is OpState.LRO_STARTED and entry.polling_url and entry.writes == 1

    running.control.advance_clock(3600)  # the extension finishes provisioning meanwhile
    resumed = apply_plan(plan, running.connection(), ApplyOptions(resume=True, timeout=30), journal_path=journal_file)
    outcome, = resumed.operations
    assert outcome.state is OpState.SUCCEEDED and outcome.writes == 1  # polled, not written again
    assert resumed.writes == 0 and running.control.stats()["writes"] == 1
    assert live(running, operation.resource_id)["properties"]["provisioningState"] == "Succeeded"


def test_a_failing_verification_is_reported_in_the_result_and_the_apply_outcome_stands(sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    finished: list[str] = []

    def on_result(result) -> None:
        finished.append(result.id)
        if len(finished) == len(plan.operations):  # every write is done: ARM now keeps failing
            running.control.inject_fault(target="arm", status=503, retryAfter=0)

    result = apply_plan(plan, running.connection(), ApplyOptions(), journal_path=tmp_path / "journal.sqlite",
                        on_result=on_result)
    running.control.clear_faults()
    assert [operation.state for operation in result.operations] == [OpState.SUCCEEDED] * len(plan.operations)
    assert result.exit_status == 0
    assert result.verification is not None and result.verification.clusters == 1
    assert result.verification.error is not None
    assert result.verification.error.startswith("re-reading the touched clusters failed: HTTP 503")
    assert "verification" in result.to_json() and result.to_json()["verification"]["error"]


def test_an_unexpected_error_in_one_operation_fails_that_operation_only(sandbox_factory, tmp_path, caplog):
    running = sandbox_factory(**FAST)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    group = ids.resource_group_id(plan.operations[0].cluster_id)
    # an extension id with no cluster above it: the extensions client cannot even address it
    orphan = plan.operations[0].model_copy(update={
        "id": "op-orphan", "resource_id": f"{group}/providers/Microsoft.KubernetesConfiguration/extensions/orphan",
        "cluster_id": None})
    result = apply_plan(plan.model_copy(update={"operations": [orphan, *plan.operations]}), running.connection(),
                        ApplyOptions(failure_threshold=1), journal_path=tmp_path / "journal.sqlite")
    states = {operation.id: operation for operation in result.operations}
    assert states["op-orphan"].state is OpState.FAILED
    assert states["op-orphan"].message.startswith("internal error (ResourceIdError)")
    assert all(states[operation.id].state is OpState.SUCCEEDED for operation in plan.operations)
    assert result.exit_status == 1
    assert "op-orphan: internal error" in caplog.text
    assert Journal.read(tmp_path / "journal.sqlite", plan_fingerprint(
        plan.model_copy(update={"operations": [orphan, *plan.operations]})))["op-orphan"].state is OpState.FAILED


def test_a_secret_written_literally_in_a_rego_remediation_fails_that_operation_not_the_apply(
        sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    fleet = load_snapshot(running.fleet_file)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    operation = plan.operations[0]
    cluster = fleet.cluster(operation.cluster_id)
    body = extension_body("contoso.agent", "contoso")
    body["properties"]["configurationProtectedSettings"] = {"apiKey": "<redacted>"}
    rego = operation.model_copy(update={
        "id": "op-rego", "resource_id": f"{cluster.id}/providers/Microsoft.KubernetesConfiguration/extensions/agent",
        "body": body, "reasons": [Reason(policy_assignment_id="/providers/Microsoft.Authorization/"
                                         "policyAssignments/k8s-agent", policy_definition_id="rego:k8s.agent",
                                         evaluated_resource_id=cluster.id)],
        "secret_sources": [SecretSource(path="properties.configurationProtectedSettings.apiKey", kind="template")]})
    plan_file = _save(plan.model_copy(update={"operations": [rego, operation]}), tmp_path)
    assert _cli(running, plan_file, "--failure-threshold", "1", "-o", str(tmp_path / "result.json")) == 1
    states = {entry["id"]: entry for entry in json.loads((tmp_path / "result.json").read_text())["operations"]}
    assert states["op-rego"]["state"] == "failed" and states["op-rego"]["writes"] == 0
    assert "secrets written literally in a Rego remediation (rego:k8s.agent) are not supported" in \
        states["op-rego"]["message"]
    assert states[operation.id]["state"] == "succeeded"
    assert running.control.stats()["writes"] == 1

