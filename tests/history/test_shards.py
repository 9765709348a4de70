"""Sharded scans as an Indexed Job runs them (``scan --shard I/N --scan-group ID``, one process each) into one
PostgreSQL store: while a shard is missing (killed here) the scan is incomplete and nothing reads it as a whole
fleet; once the shard runs again the N parts make one scan with exactly the records, counts and inventory of a
full scan of the same fleet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.errors import InputError
from engine.history.store import HistoryStore
from engine.inventory.shard import Shard
from engine.models.results import PolicyState

ARCPOLICY = Path(sys.executable).parent / "arcpolicy"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 clusters in 12 subscriptions (six generated fleets of two subscriptions each), so every shard count
    tried splits them."""
    folder = tmp_path_factory.mktemp("fleet")
    resources = []
    for seed in range(6):
        part = folder / f"part{seed}.json"
        assert main(["sandbox", "generate", "--clusters", "8", "--seed", str(seed), "-o", str(part)]) == 0
        resources += json.loads(part.read_text())
    path = folder / "fleet.json"
    path.write_text(json.dumps(resources))
    return path


def scan(fleet: Path, store: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(ARCPOLICY), "scan", "-i", str(fleet), "-p", "builtin:", "--store", store,
                             "--fail-on", "never", "--workers", "1", "--log-format", "json", *options],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})


def finished(process: subprocess.Popen[str]) -> None:
    _, errors = process.communicate(timeout=600)
    assert process.returncode == 0, errors


def killed_once_started(process: subprocess.Popen[str]) -> None:
    """SIGKILL (as a pod evicted mid-run) once the shard has joined its scan in the store."""
    assert process.stderr is not None
    for line in process.stderr:
        if "recording shard" in line:
            break
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


def comparable(states: list[PolicyState]) -> list[str]:
    """The records without their evaluation time (each process stamps its own), in a stable order."""
    return sorted(json.dumps(state.model_dump(mode="json", exclude={"timestamp"}), sort_keys=True)
                  for state in states)


def trend_figures(store: HistoryStore, scan_id: str) -> dict[str, list[tuple[object, ...]]]:
    """What the trend charts of a scan, per policy and per subscription."""
    return {kind: sorted((point.group, point.title, point.assignment_name, point.reference_id, point.compliant,
                          point.total) for point in store.compliance_by(kind) if point.scan_id == scan_id)
            for kind in ("policy", "subscription")}


def resource_ids(store: HistoryStore, scan_id: str) -> list[str]:
    return sorted(resource["id"].lower() for resource in store.inventory(scan_id).resources())


@pytest.mark.parametrize("count", [1, 3, 8])
def test_shards_make_one_scan_and_a_killed_one_leaves_it_incomplete(fleet: Path, postgres_url: str, count: int,
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    finished(scan(fleet, postgres_url))  # the full scan the shards must add up to
    group = f"job-{count}"
    lost = count - 1
    shards = {index: scan(fleet, postgres_url, "--shard", f"{index}/{count}", "--scan-group", group)
              for index in range(count)}
    killed_once_started(shards.pop(lost))
    for process in shards.values():
        finished(process)

    with HistoryStore(postgres_url, create=False) as store:
        [full] = [record for record in store.scans() if record.scan_id != group]
        [partial] = [record for record in store.scans() if record.scan_id == group]
        assert not partial.complete and (partial.shard_count, partial.shards_recorded) == (count, count - 1)
        assert store.resolve("latest").scan_id == full.scan_id  # the newer, incomplete scan is passed by
        with pytest.raises(InputError, match=rf"incomplete: {count - 1} of {count} shards recorded "
                                             rf"\(missing {lost}/{count}\)"):
            store.resolve(group)
    capsys.readouterr()
    assert main(["diff", full.scan_id, group, "--store", postgres_url]) == 2
    assert f"scan {group} is incomplete" in capsys.readouterr().err
    assert main(["inventory", "--from-store", postgres_url, "--scan", group]) == 2
    assert main(["plan", "--from-store", postgres_url, "--scan", group, "-p", "builtin:", "-o",
                 str(tmp_path / "plan.json")]) == 2
    assert main(["whatif", "--store", postgres_url, "-p", "builtin:", "--baseline", group]) == 2
    assert main(["scan", "--from-store", postgres_url, "--scan", group, "-p", "builtin:"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("arcpolicy: error:")]
    assert len(errors) == 4 and all(f"scan {group} is incomplete" in line for line in errors), errors
    assert not (tmp_path / "plan.json").exists()
    assert main(["whatif", "--store", postgres_url, "-p", "builtin:", "--format", "json"]) == 0  # latest: the full
    assert json.loads(capsys.readouterr().out)["baselineScanId"] == full.scan_id
    assert main(["trend", "--store", postgres_url, "--format", "json"]) == 0
    assert [point["scanId"] for point in json.loads(capsys.readouterr().out)["scans"]] == [full.scan_id]
    assert main(["history", "--store", postgres_url, "--format", "json"]) == 0
    listed = {entry["scanId"]: entry for entry in json.loads(capsys.readouterr().out)["value"]}
    assert listed[group]["complete"] is False and listed[full.scan_id]["complete"] is True

    finished(scan(fleet, postgres_url, "--shard", f"{lost}/{count}", "--scan-group", group))  # the Job's retry
    with HistoryStore(postgres_url, create=False) as store:
        whole = store.resolve(group)
        assert whole.complete and whole.shards_recorded == count
        assert comparable(store.states(group)) == comparable(store.states(full.scan_id))
        assert resource_ids(store, group) == resource_ids(store, full.scan_id)
        assert [getattr(whole, name) for name in ("compliant", "non_compliant", "exempt", "error", "resources",
                                                  "non_compliant_resources")] == [
            getattr(full, name) for name in ("compliant", "non_compliant", "exempt", "error", "resources",
                                             "non_compliant_resources")]
        assert [assignment.assignment_id for assignment in store.assignments(group)] == [
            assignment.assignment_id for assignment in store.assignments(full.scan_id)]
        assert trend_figures(store, group) == trend_figures(store, full.scan_id)
        assert store.resolve("latest").scan_id == group
    assert main(["diff", full.scan_id, group, "--store", postgres_url]) == 0
    # a shard is recorded once: running it again changes nothing
    again = scan(fleet, postgres_url, "--shard", f"{lost}/{count}", "--scan-group", group)
    _, errors = again.communicate(timeout=600)
    assert again.returncode == 2 and f"shard {lost}/{count} of scan {group} is already recorded" in errors


def test_shards_into_a_new_store_all_at_once(fleet: Path, postgres_url: str) -> None:
    """Shards starting together on a store that holds none of their parts yet: each keeps the same new policies and
    verdicts, and none waits on another's transaction to do so (nor deadlocks)."""
    HistoryStore(postgres_url).close()  # the schema: a store's first uses at once are the store's own test
    shards = [scan(fleet, postgres_url, "--shard", f"{index}/4", "--scan-group", "first") for index in range(4)]
    for process in shards:
        finished(process)
    with HistoryStore(postgres_url, create=False) as store:
        recorded = store.resolve("first")
        assert recorded.complete and recorded.total == len(store.states("first")) > 0


def test_subscriptions_split_by_a_stable_hash(fleet: Path) -> None:
    resources = json.loads(fleet.read_text())
    subscriptions = {resource["id"].split("/")[2] for resource in resources}
    for count in (1, 3, 8):
        shards = [Shard(index, count) for index in range(count)]
        for resource in resources:  # each resource in exactly one shard, with its subscription
            assert [shard.index for shard in shards if shard.holds(resource)] == [
                shards[0].of_subscription(resource["id"].split("/")[2])]
        assert {shards[0].of_subscription(subscription.upper()) for subscription in subscriptions} == {
            shards[0].of_subscription(subscription) for subscription in subscriptions}  # case-insensitive
    # the same subscription falls to the same shard in every process (Python's own hash is salted per process)
    program = f"from engine.inventory.shard import Shard; print([Shard(0, 8).of_subscription(s) for s in {sorted(subscriptions)}])"
    placed = {subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert placed == {f"{[Shard(0, 8).of_subscription(subscription) for subscription in sorted(subscriptions)]}\n"}


def test_shard_options_are_checked_before_anything_runs(fleet: Path, tmp_path: Path, monkeypatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "history.db")
    base = ["scan", "-i", str(fleet), "-p", "builtin:"]
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    monkeypatch.delenv("ARCPOLICY_SCAN_GROUP", raising=False)
    for shard, message in (("3/3", "I must be 0 to N-1"), ("a/3", "expected I/N"),
                           ("3", "JOB_COMPLETION_INDEX is not set")):
        assert main([*base, "--shard", shard]) == 2
        assert message in capsys.readouterr().err
    assert main([*base, "--shard", "0/2", "--store", store]) == 2
    assert "give the id the shards of this scan share" in capsys.readouterr().err
    assert main([*base, "--scan-group", "g", "--store", store]) == 2
    assert "only with --shard" in capsys.readouterr().err
    assert not Path(store).exists()
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "1")
    assert Shard.parse("4") == Shard(1, 4)


def test_shards_one_after_another_into_sqlite(fleet: Path, tmp_path: Path) -> None:
    """SQLite has one writer at a time: shards recorded in turn make the same one scan, figures and all."""
    store = str(tmp_path / "history.db")
    base = ["scan", "-i", str(fleet), "-p", "builtin:", "--store", store, "--fail-on", "never", "--workers", "1"]
    assert main(base) == 0
    for index in (1, 0):
        assert main([*base, "--shard", f"{index}/2", "--scan-group", "pair"]) == 0
    with HistoryStore(store, create=False) as history:
        [full] = [scan for scan in history.scans() if scan.scan_id != "pair"]
        assert history.resolve("pair").complete
        assert comparable(history.states("pair")) == comparable(history.states(full.scan_id))
        assert trend_figures(history, "pair") == trend_figures(history, full.scan_id)
        assert resource_ids(history, "pair") == resource_ids(history, full.scan_id)


def test_shards_read_resource_graph_each_its_own_subscriptions(sandbox, tmp_path: Path) -> None:
    """Through Resource Graph (the sandbox): with the subscriptions listed each shard asks about its own only,
    without them each reads the tenant and keeps its own; either way the shards make a whole scan."""
    subscriptions = sorted({resource["id"].split("/")[2] for resource in json.loads(sandbox.fleet_file.read_text())})
    count = next(count for count in range(2, 9) if len({Shard(0, count).of_subscription(subscription)
                                                        for subscription in subscriptions}) > 1)
    store = str(tmp_path / "history.db")
    base = ["scan", "--resource-graph", "--arm-endpoint", sandbox.url, "--ca-bundle", str(sandbox.endpoint.ca_bundle),
            "--credential", "sandbox", "-p", "builtin:", "--store", store, "--fail-on", "never", "--workers", "1"]
    listed = [word for subscription in subscriptions for word in ("--subscription", subscription)]
    assert main(base) == 0
    for index in range(count):
        assert main([*base, "--shard", f"{index}/{count}", "--scan-group", "tenant"]) == 0
        assert main([*base, *listed, "--shard", f"{index}/{count}", "--scan-group", "listed"]) == 0
    with HistoryStore(store, create=False) as history:
        [whole] = [scan for scan in history.scans() if scan.scan_id not in ("tenant", "listed")]
        assert whole.total > 0
        for group in ("tenant", "listed"):
            assert history.resolve(group).complete
            assert comparable(history.states(group)) == comparable(history.states(whole.scan_id))
            assert resource_ids(history, group) == resource_ids(history, whole.scan_id)
