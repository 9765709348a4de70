"""Pieces of apply that need no ARM: pacing, comparison, paths, journal, secrets, scheduling, plan input."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from engine.errors import InputError
from remediation.apply import OpState, Secrets, load_plan
from remediation.apply.compare import get_path, matches, satisfies, set_path
from remediation.apply.journal import Journal
from remediation.apply.models import ApplyResult, OperationResult
from remediation.apply.pacing import TokenBucket, WritePacer
from remediation.apply.scheduler import Schedule, Scheduler
from remediation.plan.models import Action, Operation, OperationStatus


class FakeClock:
    """Simulated time: sleeping advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_allows_the_burst_then_the_refill_rate():
    bucket = TokenBucket(burst=5, rate=10, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.try_take(0.0) == pytest.approx(0.1)
    assert bucket.try_take(0.1) == 0.0
    assert bucket.try_take(0.1) > 0


def test_pacer_sustains_exactly_the_limit_on_a_simulated_clock():
    clock = FakeClock()
    pacer = WritePacer(burst=20, rate=10, clock=clock, sleep=clock.sleep)
    for _ in range(120):
        pacer.take("sub-a")
    # 20 from the burst, then 100 more at 10/s
    assert clock.now == pytest.approx(10.0, abs=0.05)
    started = clock.now
    pacer.take("sub-b")  # another subscription has its own full bucket
    assert clock.now == started


def test_pacer_follows_arms_remaining_count_and_retry_after():
    clock = FakeClock()
    pacer = WritePacer(burst=200, rate=10, clock=clock, sleep=clock.sleep)
    pacer.observe("s", {"x-ms-ratelimit-remaining-subscription-writes": "0"})
    assert pacer.try_take("s") == pytest.approx(0.1)
    pacer.hold("s", 7)
    assert pacer.try_take("s") == pytest.approx(7)
    clock.now += 7
    assert pacer.try_take("s") == 0.0


def test_matching_is_case_insensitive_and_ignores_read_only_and_secrets():
    live = {"properties": {"ExtensionType": "Microsoft.PolicyInsights", "provisioningState": "Succeeded",
                           "configurationSettings": {"a.b": "TRUE"}, "configurationProtectedSettings": {"k": ""},
                           "currentVersion": "1.2"}, "systemData": {"createdBy": "x"}}
    body = {"properties": {"extensionType": "microsoft.policyinsights", "configurationSettings": {"a.b": "true"},
                           "configurationProtectedSettings": {"k": "s3cret"}, "provisioningState": "Creating"}}
    assert matches(live, body) and satisfies(live, body)
    assert not matches(live, {"properties": {"releaseTrain": "Stable"}})
    assert not matches(live, {"properties": {"configurationSettings": {"a.b": "false"}}})
    failed = {"properties": {**live["properties"], "provisioningState": "Failed"}}
    assert not satisfies(failed, body)
    assert not satisfies(None, body)
    assert not matches({"x": 1}, {"x": True})


def test_paths_treat_dotted_setting_names_as_one_key():
    body = {"properties": {"configurationSettings": {"amalogs.useAADAuth": "true"}}}
    set_path(body, "properties.configurationSettings.logAnalytics.workspaceId", "w-1")
    set_path(body, "properties.configurationProtectedSettings.omsagent.secret.key", "k")
    set_path(body, "properties.Scope.cluster.releaseNamespace", "kube-system")
    assert body["properties"]["configurationSettings"] == {"amalogs.useAADAuth": "true",
                                                           "logAnalytics.workspaceId": "w-1"}
    assert body["properties"]["configurationProtectedSettings"] == {"omsagent.secret.key": "k"}
    assert body["properties"]["Scope"] == {"cluster": {"releaseNamespace": "kube-system"}}
    assert get_path(body, "properties.configurationSettings.AMALOGS.useAADAuth") == "true"
    assert get_path({"keys": {"primarySharedKey": "p"}}, "keys.primarySharedKey") == "p"
    assert get_path(body, "properties.missing.deeper") is None


def test_journal_is_durable_and_keyed_by_plan(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "plan-a")
    journal.record("op-1", OpState.STARTED, writes=1)
    journal.record("op-1", OpState.LRO_STARTED, polling_url="https://x/op", writes=1)
    journal.record("op-2", OpState.SUCCEEDED)
    journal.close()
    reopened = Journal(path, "plan-a")
    entries = reopened.entries()
    assert entries["op-1"].state is OpState.LRO_STARTED and entries["op-1"].polling_url == "https://x/op"
    assert entries["op-2"].state is OpState.SUCCEEDED
    assert Journal(path, "plan-b").entries() == {}
    assert reopened._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reopened._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    reopened.reset()
    assert reopened.entries() == {}


def test_secrets_come_from_assignments_or_parameter_files_and_never_print(tmp_path):
    assignment = {"id": "/providers/Microsoft.Authorization/policyAssignments/a1",
                  "properties": {"parameters": {"sshPrivateKey": {"value": "PRIVATE-KEY-1"}}}}
    (tmp_path / "a.json").write_text(json.dumps(assignment))
    (tmp_path / "p.json").write_text(json.dumps({"parameters": {"token": {"value": "tok-123"}}}))
    secrets = Secrets.load([tmp_path / "a.json", tmp_path / "p.json"])
    found = secrets.value("/providers/microsoft.authorization/policyassignments/A1", "SSHPRIVATEKEY")
    assert found is not None and found.reveal() == "PRIVATE-KEY-1"
    assert repr(found) == str(found) == "<redacted>"
    assert secrets.value(None, "token").reveal() == "tok-123"
    assert secrets.value(None, "absent") is None
    assert secrets.scrub("bad key PRIVATE-KEY-1 and tok-123") == "bad key <redacted> and <redacted>"
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match=r"bad\.json"):
        Secrets.load([tmp_path / "bad.json"])


def test_a_parameter_is_never_taken_from_another_assignment(tmp_path):
    one, other = "/providers/Microsoft.Authorization/policyAssignments/a1", \
        "/providers/Microsoft.Authorization/policyAssignments/a2"
    (tmp_path / "a1.json").write_text(json.dumps({"id": one, "properties": {"parameters": {
        "sshPrivateKey": {"value": "KEY-OF-A1"}}}}))
    secrets = Secrets.load([tmp_path / "a1.json"])
    assert secrets.value(one, "sshPrivateKey").reveal() == "KEY-OF-A1"
    assert secrets.value(other, "sshPrivateKey") is None  # a2's clusters never get a1's key
    assert secrets.value(None, "sshPrivateKey") is None
    # a secrets file naming no assignment (parameters file, {name: value}) serves any assignment
    (tmp_path / "any.json").write_text(json.dumps({"parameters": {"sshPrivateKey": {"value": "SHARED-KEY"}}}))
    secrets = Secrets.load([tmp_path / "a1.json", tmp_path / "any.json"])
    assert secrets.value(one, "sshPrivateKey").reveal() == "KEY-OF-A1"
    assert secrets.value(other, "sshPrivateKey").reveal() == "SHARED-KEY"


def test_scrub_reaches_inside_secure_objects_and_leaves_very_short_values(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"proxy": {"user": "svc-proxy", "password": "hunter2!",
                                                           "ports": [8443, "pin-0042"], "tls": True},
                                                 "pin": "42"}))
    secrets = Secrets.load([tmp_path / "p.json"])
    secrets.remember({"primarySharedKey": "sk-live-123", "secondarySharedKey": "sk-live-1234"})
    text = "login svc-proxy/hunter2! on 8443 pin-0042 keys sk-live-1234 sk-live-123 answer 42"
    assert secrets.scrub(text) == ("login <redacted>/<redacted> on <redacted> <redacted> keys <redacted> <redacted> "
                                   "answer 42")  # below SCRUB_MIN_LENGTH characters a value is left as is


def _operation(op_id: str, depends_on: list[str] | None = None, wave: int = 0, subscription: str = "s1",
               status: OperationStatus = OperationStatus.PLANNED) -> Operation:
    cluster = f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c"
    return Operation(id=op_id, action=Action.CREATE,
                     resource_id=f"{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/{op_id}",
                     resource_type="Microsoft.KubernetesConfiguration/extensions", api_version="2023-05-01",
                     depends_on=depends_on or [], wave=wave, subscription_id=subscription, status=status)


def _result(operation: Operation, state: OpState) -> OperationResult:
    return OperationResult(id=operation.id, action="create", resource_id=operation.resource_id, state=state)


def test_scheduler_orders_by_dependencies_and_blocks_dependents_of_failures():
    operations = [_operation("a"), _operation("b", ["a"]), _operation("c", ["b"]), _operation("d"),
                  _operation("e", ["d"]), _operation("f", ["e"])]
    started: list[str] = []
    lock = threading.Lock()

    def execute(operation: Operation) -> OperationResult:
        with lock:
            started.append(operation.id)
        return _result(operation, OpState.FAILED if operation.id == "d" else OpState.SUCCEEDED)

    results = {r.id: r for r in Scheduler(Schedule(operations), execute, parallel=4, failure_threshold=1.0).run()}
    assert started.index("a") < started.index("b") < started.index("c")
    assert "e" not in started and "f" not in started
    assert results["e"].state is OpState.BLOCKED and "d is failed" in results["e"].message
    assert results["f"].state is OpState.BLOCKED
    assert [results[x].state for x in "abc"] == [OpState.SUCCEEDED] * 3


def test_scheduler_runs_waves_in_order_and_stops_over_the_failure_threshold():
    canary = [_operation(f"c{i}", wave=0) for i in range(4)]
    rest = [_operation(f"r{i}", wave=1) for i in range(20)]
    order: list[str] = []

    def execute(operation: Operation) -> OperationResult:
        order.append(operation.id)
        return _result(operation, OpState.FAILED if operation.id in ("c0", "c1") else OpState.SUCCEEDED)

    scheduler = Scheduler(Schedule(canary + rest), execute, parallel=2, failure_threshold=0.1)
    results = {r.id: r for r in scheduler.run()}
    assert scheduler.stopped
    assert set(order) == {op.id for op in canary}  # the canary's 50% failures stop the next wave
    assert all(results[op.id].state is OpState.NOT_ATTEMPTED for op in rest)
    assert "failure threshold" in results["r0"].message


def test_scheduler_below_threshold_runs_everything_and_moves_dependents_after_their_prerequisites_wave():
    operations = [_operation("late", wave=2), _operation("early", ["late"], wave=0), _operation("x", wave=1)]
    order: list[str] = []

    def execute(operation: Operation) -> OperationResult:
        order.append(operation.id)
        return _result(operation, OpState.SUCCEEDED)

    results = Scheduler(Schedule(operations), execute, parallel=3, failure_threshold=0.1).run()
    assert order == ["x", "late", "early"]
    assert all(result.state is OpState.SUCCEEDED for result in results)


def test_known_results_are_not_run_again_and_skipped_ones_block_dependents():
    operations = [_operation("a"), _operation("b", ["a"]), _operation("c")]
    known = {"a": _result(operations[0], OpState.SKIPPED), "c": _result(operations[2], OpState.SUCCEEDED)}
    ran: list[str] = []
    results = Scheduler(Schedule(operations, known), lambda op: ran.append(op.id) or _result(op, OpState.SUCCEEDED),
                        parallel=2, failure_threshold=0.1).run()
    assert ran == []
    assert [r.state for r in results] == [OpState.SKIPPED, OpState.BLOCKED, OpState.SUCCEEDED]


def test_load_plan_reports_the_file_and_place(tmp_path):
    with pytest.raises(InputError, match="plan file not found"):
        load_plan(tmp_path / "missing.json")
    bad = tmp_path / "plan.json"
    bad.write_text('{"createdAt": "2026-11-01T00:00:00Z", "inventoryFingerprint": "f", "operations": [{"id": 1}]}')
    with pytest.raises(InputError) as error:
        load_plan(bad)
    assert "plan.json: operations.0" in error.value.one_line()
    duplicate = {"createdAt": "2026-11-01T00:00:00Z", "inventoryFingerprint": "f",
                 "operations": [{**_operation("a").to_json(), "body": {"properties": {}}}] * 2}
    bad.write_text(json.dumps(duplicate))
    with pytest.raises(InputError, match="duplicate operation id"):
        load_plan(bad)


def test_progress_prints_plain_lines_with_counts_rate_and_eta_off_a_terminal():
    import io

    from remediation.apply.progress import ApplyProgress

    clock = FakeClock()
    stream = io.StringIO()
    operations = [_operation(f"op-{index}") for index in range(10)]
    with ApplyProgress(operations, stream, clock) as progress:
        progress.started(0)
        for index, operation in enumerate(operations[:5]):
            clock.now = 2.0 * (index + 1)
            progress(_result(operation, OpState.FAILED if index == 0 else OpState.SUCCEEDED))
    lines = stream.getvalue().splitlines()
    # 5 done in 10 s: 0.5/s, 5 left
    assert lines[-1] == "apply: 5/10 done (failed 1, succeeded 4) 0.5/s ETA 10s"


def test_a_resumed_apply_measures_its_rate_on_what_it_finishes_not_on_the_journal():
    """An apply resumed with 90 of 100 operations settled in the journal: those arrive at once and must not
    make the rate (and so the time left) look 90 times better than it is."""
    import io

    from remediation.apply.progress import ApplyProgress

    clock = FakeClock()
    stream = io.StringIO()
    operations = [_operation(f"op-{index}") for index in range(100)]
    with ApplyProgress(operations, stream, clock) as progress:
        for operation in operations[:90]:  # the scheduler reports the journal's outcomes first
            progress(_result(operation, OpState.SUCCEEDED))
        clock.now = 1.0
        progress.started(90)
        clock.now = 3.0
        assert progress.line() == "apply: 90/100 done (succeeded 90)"  # no rate measured yet: no guess
        for index, operation in enumerate(operations[90:95]):
            clock.now = 1.0 + 10.0 * (index + 1)
            progress(_result(operation, OpState.SUCCEEDED))
        # 5 done in 50 s by this run: 0.1/s, 5 left
        assert progress.line() == "apply: 95/100 done (succeeded 95) 0.1/s ETA 50s"


def test_the_eta_is_never_below_what_the_write_pacing_allows():
    import io

    from remediation.apply.progress import ApplyProgress

    clock = FakeClock()
    stream = io.StringIO()
    operations = [_operation(f"op-{index}", subscription="s1" if index < 400 else "s2") for index in range(500)]
    with ApplyProgress(operations, stream, clock, write_rate=10.0, write_burst=200) as progress:
        progress.started(0)
        # s1 has 400 writes to go: 200 from its bucket, then 200 at 10/s
        assert progress.line() == "apply: 0/500 done ETA >= 20s"
        for index, operation in enumerate(operations[400:]):  # s2's operations finish fast
            clock.now = 0.01 * (index + 1)
            progress(_result(operation, OpState.SATISFIED))
        assert progress.line().endswith("ETA 20s")


def test_a_progress_line_before_anything_finished_has_no_empty_state_list() -> None:
    import io

    from remediation.apply.progress import ApplyProgress

    clock = FakeClock()
    stream = io.StringIO()
    with ApplyProgress([_operation(f"op-{index}") for index in range(4)], stream, clock, interval=5.0) as progress:
        clock.now = 6.0
        progress._line_if_due()  # what the ticker does while nothing finishes (--wait, long polls)
    assert stream.getvalue().splitlines()[0] == "apply: 0/4 done"


@pytest.mark.parametrize(("properties", "connected"), [
    ({"connectivityStatus": "Connected"}, True), ({"connectivityStatus": "Offline"}, False),
    ({"connectivityStatus": "Expired"}, False), ({}, True), ({"connectivityStatus": None}, True)])
def test_a_cluster_is_stale_only_when_known_to_be_disconnected(properties, connected) -> None:
    from remediation.apply.execute import _connected

    cluster = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c",
               "type": "Microsoft.Kubernetes/connectedClusters", "properties": properties}
    assert _connected(cluster) is connected


@pytest.mark.parametrize(("states", "status"), [
    ((OpState.SUCCEEDED, OpState.SATISFIED, OpState.WAITING, OpState.SKIPPED), 0),  # waiting takes effect by itself
    ((OpState.SUCCEEDED, OpState.DEFERRED), 1), ((OpState.SUCCEEDED, OpState.STALE), 1),
    ((OpState.WAITING, OpState.NOT_ATTEMPTED), 1)])
def test_the_exit_status_is_what_the_readme_says(states: tuple[OpState, ...], status: int) -> None:
    now = datetime.now(UTC)
    result = ApplyResult(plan_fingerprint="sha256:x", started_at=now, finished_at=now, counts={}, writes=0,
                         throttled=0, operations=[_result(_operation(str(index)), state)
                                                  for index, state in enumerate(states)])
    assert result.exit_status == status
