"""Each stored scan keeps its inventory, content-addressed per cluster: round trips, churn, pruning, migration,
and ``--from-store`` as the inventory source of ``inventory``, ``scan`` and ``plan`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from output.records import fleet_states
from sqlalchemy import create_engine, func, insert, select

from engine.cli.connection_options import FleetSource
from engine.cli.main import main
from engine.errors import InputError
from engine.evaluate.scan import fleet_containers
from engine.history import HistoryStore, ScanMetadata
from engine.history.inventory import insert_new_blobs
from engine.history.schema import (
    MIGRATIONS,
    inventory_blobs,
    migrate,
    policy_states,
    scan_inventories,
    scans,
    series_values,
)
from engine.history.store import database_url, record_key
from engine.ids import normalize
from engine.inventory import Fleet, write_snapshot
from engine.inventory.generator import generate_fleet
from engine.models.results import PolicyState
from engine.output.redact import blank_secrets, redact_state
from engine.output.summary import ResourceCounts, policy_key

POLICIES = Path(__file__).resolve().parents[2] / "policies"
DAY0 = datetime(2025, 5, 1, 6, 0, tzinfo=UTC)
SECRET = "hunter2-do-not-store"


def generated(clusters: int = 12, seed: int = 5) -> list[dict[str, Any]]:
    """A generated fleet with a protected setting carrying a real-looking secret value."""
    resources = list(generate_fleet(clusters, seed))
    extension = next(resource for resource in resources if resource["type"].lower().endswith("/extensions"))
    extension["properties"]["configurationProtectedSettings"] = {"logAnalytics.key": SECRET, "empty": ""}
    return resources


def by_id(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {resource["id"].lower(): resource for resource in resources}


def record(store: HistoryStore, scan_id: str, day: int, resources: list[dict[str, Any]]) -> None:
    store.record_scan(ScanMetadata(scan_id=scan_id, started_at=DAY0 + timedelta(days=day)), fleet_states(),
                      Fleet(resources))


def blob_contents(store: HistoryStore) -> list[bytes]:
    """Every blob's group; new blobs are Zstandard frames."""
    with store.engine.connect() as connection:
        contents = list(connection.scalars(select(inventory_blobs.c.content)))
    assert all(content.startswith(b"\x28\xb5\x2f\xfd") for content in contents)
    return [zstandard.ZstdDecompressor().decompress(content) for content in contents]


def test_blobs_written_by_zlib_before_read_back_the_same(store_url):
    """Stores written before blobs were Zstandard frames hold zlib streams: they read as they did, next to new
    blobs."""
    resources = generated()
    with HistoryStore(store_url) as store:
        record(store, "a", 0, resources)
        expected = by_id(list(store.inventory("a").resources()))
        with store.engine.begin() as connection:
            rows = connection.execute(select(inventory_blobs.c.digest, inventory_blobs.c.content)).all()
            for digest, content in rows[::2]:
                connection.execute(inventory_blobs.update().where(inventory_blobs.c.digest == digest).values(
                    content=zlib.compress(zstandard.ZstdDecompressor().decompress(content), 6)))
        assert by_id(list(store.inventory("a").resources())) == expected


def test_stored_inventory_round_trips_with_secrets_blanked(store_url, tmp_path: Path, capsys):
    resources = generated()
    resources[0]["tags"] = {**(resources[0].get("tags") or {}), "note": f"copied from {SECRET}"}
    snapshot = tmp_path / "fleet.json"
    write_snapshot(snapshot, resources)
    assert main(["scan", "-i", str(snapshot), "-p", str(POLICIES), "--store", store_url, "-o",
                 str(tmp_path / "states.json")]) in (0, 1)
    back = tmp_path / "back.json"
    assert main(["inventory", "--from-store", store_url, "--scan", "latest", "--save", str(back)]) == 0
    restored = by_id(json.loads(back.read_text()))
    expected = by_id(blank_secrets(resources))
    copied = next(iter(expected.values()))
    copied["tags"]["note"] = "copied from ***"  # the protected value is secret by origin, wherever it sits
    assert restored == expected
    protected = [resource["properties"]["configurationProtectedSettings"] for resource in restored.values()
                 if "configurationProtectedSettings" in resource.get("properties", {})]
    assert {"logAnalytics.key": "***", "empty": ""} in protected  # keys kept, the value blanked
    assert SECRET not in back.read_text()
    with HistoryStore(store_url) as store:
        assert not any(SECRET.encode() in content for content in blob_contents(store))
    capsys.readouterr()


def test_store_grows_with_churn_and_prune_drops_unreferenced_blobs(store_url):
    first = generated(clusters=20)
    second = json.loads(json.dumps(first))
    changed = next(resource for resource in second if resource["type"].lower().endswith("connectedclusters"))
    changed["tags"] = {**(changed.get("tags") or {}), "owner": "team-b"}
    groups = len(list(Fleet(first).groups()))
    with HistoryStore(store_url) as store:
        record(store, "day-0", 0, first)
        record(store, "day-1", 1, second)
        record(store, "day-2", 2, second)
        assert len(blob_contents(store)) == groups + 1  # one changed cluster: one new blob
        assert by_id(list(store.inventory("day-0").resources())) == by_id(blank_secrets(first))
        assert by_id(list(store.inventory("day-1").resources())) == by_id(blank_secrets(second))
        assert store.prune(timedelta(days=1), now=DAY0 + timedelta(days=2)) == ["day-0"]
        assert len(blob_contents(store)) == groups  # the blob only day-0 used is gone
        assert by_id(list(store.inventory("day-2").resources())) == by_id(blank_secrets(second))
        assert store.prune(timedelta(days=0), now=DAY0 + timedelta(days=3)) == ["day-1", "day-2"]
        assert blob_contents(store) == []


def test_identical_blobs_from_two_writers_are_kept_once(store_url):
    resources = generated(clusters=5)
    with HistoryStore(store_url) as one, HistoryStore(store_url) as other:
        record(one, "a", 0, resources)
        record(other, "b", 1, resources)
        assert len(blob_contents(one)) == len(list(Fleet(resources).groups()))


def test_damaged_inventory_is_named(tmp_path: Path):
    path = str(tmp_path / "history.db")
    with HistoryStore(path) as store:
        record(store, "a", 0, generated(clusters=3))
        with store.engine.begin() as connection:
            digest = connection.scalars(select(inventory_blobs.c.digest)).first()
            connection.execute(inventory_blobs.update().where(inventory_blobs.c.digest == digest)
                               .values(content=zlib.compress(b"[]")))
        with pytest.raises(InputError, match=f"inventory of scan a is damaged: blob {digest} does not match"):
            store.inventory("a")
        with store.engine.begin() as connection:  # not even zlib data
            connection.execute(inventory_blobs.update().where(inventory_blobs.c.digest == digest)
                               .values(content=b"\x00garbage"))
        with pytest.raises(InputError, match=f"blob {digest} does not match its digest"):
            store.inventory("a")
        with store.engine.begin() as connection:
            connection.execute(inventory_blobs.delete().where(inventory_blobs.c.digest == digest))
        with pytest.raises(InputError, match=f"blob {digest} is missing"):
            store.inventory("a")


def version_2_row(scan_id: str, state: PolicyState) -> dict[str, Any]:
    """A record as schema versions 2 and 3 kept it: its JSON (secrets masked) and the columns read without it."""
    safe = redact_state(state)
    return {"scan_id": scan_id, "record_key": record_key(safe), "resource_key": normalize(safe.resource_id),
            "subscription_id": safe.subscription_id, "policy": policy_key(safe),
            "compliance_state": safe.compliance_state.value, "record": json.dumps(safe.to_json()),
            **series_values(safe.to_json())}


def test_old_store_migrates_and_keeps_its_scans(store_url, capsys):
    """A store written before inventories were kept (schema version 2) upgrades in place: its scans still
    list and diff, say they have no inventory, and name their assignments through their records."""
    engine = create_engine(database_url(store_url))
    with engine.begin() as connection:
        assert migrate(connection, MIGRATIONS[:2]) == 2
        connection.execute(insert(scans).values(
            scan_id="old", started_at=DAY0.replace(tzinfo=None), duration_seconds=1.0, inventory_source="fleet.json",
            policy_fingerprint="sha256:x", tool_version="0.1", compliant=8, non_compliant=2, exempt=1, error=1))
        connection.execute(insert(policy_states), [version_2_row("old", state) for state in fleet_states()])
    engine.dispose()
    with HistoryStore(store_url) as store:
        assert store.schema_version == MIGRATIONS[-1].version
        assert [scan.scan_id for scan in store.scans()] == ["old"]
        # counted on upgrade from the records: 4 clusters and their flux extensions; edge-2 and edge-3 lack
        # Defender, edge-1's extension is an Error record
        assert store.scans()[0].resource_counts == ResourceCounts(resources=8, non_compliant_resources=3)
        assert store.states("old") == fleet_states()
        with pytest.raises(InputError, match="recorded without its inventory"):
            store.inventory("old")
        named = store.assignments("old")
        assert {assignment.assignment_name for assignment in named} == {
            state.policy_assignment_name for state in fleet_states()}
        record(store, "new", 1, generated(clusters=4))
        assert len(store.inventory("new")) == 4
        with store.engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(scan_inventories)) == 1
    assert main(["inventory", "--from-store", store_url, "--scan", "old"]) == 2
    error = capsys.readouterr().err.strip()
    assert "recorded without its inventory" in error and len(error.splitlines()) == 1


def test_scan_from_store_reproduces_the_past_scan(tmp_path: Path, capsys):
    store = str(tmp_path / "history.db")
    snapshot = tmp_path / "fleet.json"
    write_snapshot(snapshot, generated(clusters=30))
    first, again = tmp_path / "first.json", tmp_path / "again.json"
    assert main(["scan", "-i", str(snapshot), "-p", str(POLICIES), "--store", store, "-o", str(first)]) == 1
    assert main(["scan", "--from-store", store, "-p", str(POLICIES), "--store", store, "-o", str(again)]) == 1

    def verdicts(path: Path) -> list[tuple[str, ...]]:
        return sorted((state["resourceId"], state["policyAssignmentId"], state["complianceState"],
                       orjson.dumps(state["reasons"]).decode()) for state in json.loads(path.read_text())["value"])

    assert verdicts(again) == verdicts(first)
    with HistoryStore(store) as history:
        latest, original = history.scans()
        assert latest.inventory_source == f"store {history.shown_url} scan {original.scan_id}"  # pinned, not latest
        assert len(history.inventory(latest.scan_id)) == 30
        assert len(blob_contents(history)) == len(list(Fleet(json.loads(snapshot.read_text())).groups()))
    capsys.readouterr()


def test_plan_reads_a_stored_inventory(tmp_path: Path, capsys):
    store = str(tmp_path / "history.db")
    snapshot = tmp_path / "fleet.json"
    write_snapshot(snapshot, generated(clusters=10))
    assert main(["scan", "-i", str(snapshot), "-p", str(POLICIES), "--store", store, "-o",
                 str(tmp_path / "s.json")]) == 1
    from_file, from_store = tmp_path / "file-plan.json", tmp_path / "store-plan.json"
    assert main(["plan", "-i", str(snapshot), "-p", str(POLICIES / "rego"), "-o", str(from_file)]) == 0
    assert main(["plan", "--from-store", store, "--scan", "latest", "-p", str(POLICIES / "rego"), "-o",
                 str(from_store)]) == 0
    operations = [json.loads(path.read_text())["operations"] for path in (from_file, from_store)]
    assert operations[0] and [op["id"] for op in operations[0]] == [op["id"] for op in operations[1]]
    capsys.readouterr()


@pytest.mark.parametrize(("arguments", "message"), [
    (["--inventory", "fleet.json", "--from-store", "history.db"], "not --inventory FILE and --from-store URL"),
    (["--from-store", "missing.db"], "no history store there"),
    (["--from-store", "history.db", "--scan", "latest~5"], "the store holds only 1 scan "),
    (["--from-store", "history.db", "--scan", "nope"], "no scan with this id"),
])
def test_bad_from_store_is_one_line_and_writes_nothing(tmp_path: Path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    write_snapshot(tmp_path / "fleet.json", generated(clusters=2))
    with HistoryStore("history.db") as store:
        record(store, "only", 0, generated(clusters=2))
    assert main(["inventory", *arguments, "--save", "out.json"]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out.json").exists()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(content=st.binary(max_size=200) | st.builds(zlib.compress, st.binary(max_size=200))
       | st.builds(lambda data, size: zstandard.ZstdCompressor().compress(data)[:size], st.binary(max_size=200),
                   st.integers(0, 220)))
def test_any_stored_blob_reads_back_or_is_named_damaged(content: bytes):
    """Whatever bytes a blob holds, reading the inventory gives the fleet or one InputError, never a crash."""
    with HistoryStore("sqlite://") as store:
        record(store, "a", 0, generated(clusters=1))
        with store.engine.begin() as connection:
            digest = connection.scalars(select(inventory_blobs.c.digest)).first()
            connection.execute(inventory_blobs.update().where(inventory_blobs.c.digest == digest)
                               .values(content=content))
        with pytest.raises(InputError, match="is damaged"):
            store.inventory("a")


def test_a_blob_whose_frame_claims_another_size_is_damaged_before_any_allocation():
    """A Zstandard frame's header says how large its content is, and decompressing allocates that much: a damaged
    header claiming a terabyte is named damaged (the blob's recorded size disagrees), not a MemoryError."""
    with HistoryStore("sqlite://") as store:
        record(store, "a", 0, generated(clusters=1))
        with store.engine.begin() as connection:
            digest, content = connection.execute(select(inventory_blobs.c.digest, inventory_blobs.c.content)).first()
            header = content[4]
            assert header & 0x23 == 0x20  # a single segment, no dictionary: the size follows (1, 2, 4 or 8 bytes)
            size_bytes = (1, 2, 4, 8)[header >> 6]
            lying = (content[:4] + bytes([0xE0 | (header & 0x1F)]) + (2**40).to_bytes(8, "little")
                     + content[5 + size_bytes:])
            assert zstandard.frame_content_size(lying) == 2**40
            connection.execute(inventory_blobs.update().where(inventory_blobs.c.digest == digest)
                               .values(content=lying))
        with pytest.raises(InputError, match=f"blob {digest} does not match its digest"):
            store.inventory("a")


def test_a_stored_inventory_source_never_shows_the_store_password():
    source = FleetSource(from_store="postgresql+psycopg://arcpolicy:topsecret@db.example/history", store_scan="s-1")
    assert source.inventory_source == "store postgresql+psycopg://arcpolicy:***@db.example/history scan s-1"


def test_a_blob_another_writer_stored_meanwhile_is_left_alone(store_url):
    """Two scans recording at once may both find a blob missing and both insert it: the second insert is a
    no-op (ON CONFLICT DO NOTHING on SQLite and PostgreSQL), not an integrity error that loses the scan."""
    with HistoryStore(store_url) as store:
        record(store, "a", 0, generated(clusters=2))
        with store.engine.begin() as connection:
            row = connection.execute(select(inventory_blobs)).mappings().first()
            connection.execute(insert_new_blobs(connection), [{**row, "content": b"late"}])
            assert connection.scalar(select(inventory_blobs.c.content).where(
                inventory_blobs.c.digest == row["digest"])) == row["content"]
        assert len(store.inventory("a")) == 2


def containers_and_strays(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subscription and resource group of the fleet's first cluster, a workspace (another resource, not a
    container) and an extension whose cluster the fleet lacks."""
    cluster_id = resources[0]["id"]
    subscription = "/".join(cluster_id.split("/")[:3])
    group = "/".join(cluster_id.split("/")[:5])
    return [{"id": subscription, "type": "Microsoft.Resources/subscriptions", "name": cluster_id.split("/")[2],
             "tags": {"costCenter": "42"}},
            {"id": group, "type": "Microsoft.Resources/subscriptions/resourceGroups", "name": group.split("/")[-1],
             "location": "West Europe", "tags": {"env": "prod"}},
            {"id": f"{group}/providers/Microsoft.OperationalInsights/workspaces/logs",
             "type": "Microsoft.OperationalInsights/workspaces", "name": "logs", "location": "westeurope"},
            {"id": f"{group}/providers/Microsoft.Kubernetes/connectedClusters/gone/providers/"
                   "Microsoft.KubernetesConfiguration/extensions/flux",
             "type": "Microsoft.KubernetesConfiguration/extensions", "name": "flux",
             "properties": {"extensionType": "microsoft.flux"}}]


def test_a_stored_fleet_reads_back_as_the_fleet_evaluated_it(store_url, monkeypatch):
    """What-if evaluates a stored fleet as it reads it: its resource containers first (read from the end of the
    scan's groups, where a fleet keeps its other resources), then its clusters a batch at a time, each what
    Fleet.clusters gives (children whose cluster is missing left out). Batches of 2 groups here, so that reading
    crosses batch boundaries."""
    monkeypatch.setattr("engine.history.inventory.BATCH", 2)
    resources = [*generated(clusters=7), *containers_and_strays(generated(clusters=7))]
    fleet = Fleet(blank_secrets(resources))
    with HistoryStore(store_url) as store:
        record(store, "a", 0, resources)
        with store.stored_fleet("a") as stored:
            assert stored.containers == fleet_containers(fleet)
            assert [cluster.model_dump() for batch in stored.clusters for cluster in batch] == [
                cluster.model_dump() for cluster in fleet.clusters()]
        # A damaged list (a resource container before a cluster) is named, not evaluated without it.
        with store.engine.begin() as connection:
            digests = connection.scalar(select(scan_inventories.c.digests))
            connection.execute(scan_inventories.update().values(digests=digests[-32:] + digests[:-32]))
        with pytest.raises(InputError, match="inventory of scan a is damaged: a resource that is not a cluster's is "
                                             "kept before a cluster"), store.stored_fleet("a") as stored:
            list(stored.clusters)
