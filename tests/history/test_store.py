"""The history store on SQLite and on a real PostgreSQL server: record, list, resolve, prune, trend data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from output.records import SUBSCRIPTIONS, fleet_states
from sqlalchemy import func, select

from engine.errors import InputError, ServiceError
from engine.history import HistoryStore, ScanMetadata
from engine.history.records import split_record
from engine.history.schema import (
    MIGRATIONS,
    migrations_table,
    state_policies,
    state_resources,
    state_verdicts,
)
from engine.models.results import ComplianceState
from engine.output.registry import OutputRecord

DAY0 = datetime(2025, 5, 1, 6, 0, tzinfo=UTC)


def assignment_key(subscription: str, policy: str, reference_id: str = "") -> str:
    return f"/subscriptions/{subscription}/providers/microsoft.authorization/policyassignments/a-{policy}|{reference_id}"


def scan(store: HistoryStore, day: int, non_compliant: frozenset[str] = frozenset({"edge-2", "edge-3"})) -> str:
    metadata = ScanMetadata(scan_id=f"scan-{day:02d}", started_at=DAY0 + timedelta(days=day), duration_seconds=1.5,
                            inventory_source="fleet.json", policy_fingerprint="ab" * 32)
    return store.record_scan(metadata, fleet_states(non_compliant))


def test_records_scans_and_reads_them_back(store_url):
    with HistoryStore(store_url) as store:
        states = fleet_states()
        assert scan(store, 0) == "scan-00"
        scan(store, 1, frozenset())
        listed = store.scans()
        assert [record.scan_id for record in listed] == ["scan-01", "scan-00"]
        first = listed[1]
        assert first.started_at == DAY0
        assert (first.compliant, first.non_compliant, first.exempt, first.error, first.total) == (8, 2, 1, 1, 12)
        assert first.inventory_source == "fleet.json" and first.policy_fingerprint == "ab" * 32
        assert store.states("scan-00") == states
        json_row = first.model_dump(by_alias=True, mode="json")
        assert json_row["scanId"] == "scan-00" and json_row["compliancePercentage"] == 75.0


def test_resolves_ids_prefixes_and_latest(store_url):
    with HistoryStore(store_url) as store:
        for day in (0, 1, 12):
            scan(store, day)
        assert store.resolve("latest").scan_id == "scan-12"
        assert store.resolve("latest~2").scan_id == "scan-00"
        assert store.resolve("scan-1").scan_id == "scan-12"  # unique prefix
        assert store.resolve("scan-01").scan_id == "scan-01"
        with pytest.raises(InputError, match="ambiguous"):
            store.resolve("scan-0")
        with pytest.raises(InputError, match="no scan"):
            store.resolve("scan_%")
        with pytest.raises(InputError, match="only 3 scans"):
            store.resolve("latest~3")


def test_retention_deletes_old_scans_and_their_states(store_url):
    with HistoryStore(store_url) as store:
        for day in (0, 9, 95, 100):
            scan(store, day)
        removed = store.prune(timedelta(days=90), now=DAY0 + timedelta(days=100))
        assert sorted(removed) == ["scan-00", "scan-09"]
        assert [record.scan_id for record in store.scans()] == ["scan-100", "scan-95"]
        assert store.states("scan-00") == []
        assert len(store.states("scan-95")) == 12
        assert store.prune(timedelta(days=90), now=DAY0 + timedelta(days=100)) == []


def test_compliance_by_policy_and_subscription(store_url):
    with HistoryStore(store_url) as store:
        scan(store, 0)
        scan(store, 1, frozenset())
        points = store.compliance_by("policy")
        by_policy = {(point.scan_id, point.group): (point.compliant, point.total) for point in points}
        # A policy is an assignment (each subscription has its own here) and a reference id.
        defender = [assignment_key(subscription, "require-defender") for subscription in SUBSCRIPTIONS]
        assert by_policy[("scan-00", defender[0])] == (1, 2)  # edge-3 lacks Defender
        assert by_policy[("scan-00", defender[1])] == (1, 2)  # edge-2 lacks Defender
        assert by_policy[("scan-01", defender[0])] == (2, 2)
        flux = assignment_key(SUBSCRIPTIONS[1], "require-flux", "flux-ref")
        assert by_policy[("scan-00", flux)] == (2, 2)  # exempt counts as compliant
        assert len(by_policy) == 2 * 3 * len(SUBSCRIPTIONS)
        flux_point = next(point for point in points if point.group == flux)
        assert (flux_point.title, flux_point.assignment_name, flux_point.reference_id) == (
            "Require flux", "a-require-flux", "flux-ref")
        by_subscription = {(point.scan_id, point.group): (point.compliant, point.total)
                           for point in store.compliance_by("subscription", last=1)}
        assert set(by_subscription) == {("scan-01", SUBSCRIPTIONS[0]), ("scan-01", SUBSCRIPTIONS[1])}
        assert by_subscription[("scan-01", SUBSCRIPTIONS[0])] == (5, 6)  # edge-1's Error record


def test_reopening_applies_no_migration_twice(store_url):
    HistoryStore(store_url).close()
    with HistoryStore(store_url) as store:
        scan(store, 0)
        with store.engine.connect() as connection:
            versions = list(connection.scalars(select(migrations_table.c.version)))
        assert versions == [migration.version for migration in MIGRATIONS]
        assert store.schema_version == MIGRATIONS[-1].version


def test_duplicate_scan_id_leaves_the_store_unchanged(store_url):
    with HistoryStore(store_url) as store:
        scan(store, 0)
        with pytest.raises(InputError, match="already recorded"):
            scan(store, 0)
        assert len(store.states("scan-00")) == 12


def test_stored_records_have_secrets_masked(store_url):
    states = fleet_states()
    states[0].details = [{"configurationProtectedSettings": {"key": "hunter2"}}]
    with HistoryStore(store_url) as store:
        store.record_scan(ScanMetadata(scan_id="s"), states)
        stored = store.states("s")
    assert stored[0].details == [{"configurationProtectedSettings": "***"}]
    assert stored[0].compliance_state is ComplianceState.COMPLIANT


def test_bad_store_urls_are_bad_input_and_hide_the_password(postgres_server_url):
    with pytest.raises(InputError, match="not a database URL"):
        HistoryStore("nosuchdriver://user:pw@host/db")
    unreachable = "postgresql+psycopg://arcpolicy:topsecret@127.0.0.1:1/nope"
    with pytest.raises(ServiceError) as caught:  # the server is down: not bad input (exit 4)
        HistoryStore(unreachable)
    assert "topsecret" not in str(caught.value)
    assert "arcpolicy:***@127.0.0.1:1" in str(caught.value)


def test_a_scan_recorded_in_batches_is_stored_only_when_finished(store_url):
    """The streaming scan's way: records and inventory in batches, the transaction from the first batch to
    ``finish``; a recording left without finishing stores nothing."""
    states = [state.to_json() for state in fleet_states()]
    with HistoryStore(store_url) as store:
        with store.recording(ScanMetadata(scan_id="left", started_at=DAY0)) as recording:
            recording.add_records(states[:5])
        metadata = ScanMetadata(scan_id="done", started_at=DAY0)
        with store.recording(metadata) as recording:
            recording.add_records(states[:5])
            recording.add_records(states[5:])
            metadata.duration_seconds = 4.5  # known when the scan ends: stored as it is then
            recording.finish()
        assert [scan.scan_id for scan in store.scans()] == ["done"]
        assert store.scans()[0].duration_seconds == 4.5 and recording.counts.total == len(states)
        assert store.states("done") == fleet_states() and store.states("left") == []


def _reordered(document: dict) -> bytes:
    """A record's text with its verdict's members first: not cut into parts, parsed whole."""
    verdict = {key: value for key, value in document.items() if key in ("complianceState", "reasons")}
    return orjson.dumps({**verdict, **document})


def _resource_key_last(document: dict) -> bytes:
    """A record's text with its resource group after its verdict: the resource's piece holds only resource members,
    but not all of them: the cut is refused, the record parsed whole."""
    return orjson.dumps({**{key: value for key, value in document.items() if key != "resourceGroup"},
                         "resourceGroup": document["resourceGroup"]})


@pytest.mark.parametrize("encode", [lambda document: orjson.dumps(document, option=orjson.OPT_INDENT_2),
                                    orjson.dumps, _reordered, _resource_key_last],
                         ids=["indented", "compact", "verdict-first", "resource-member-last"])
def test_records_recorded_from_their_text_read_back_as_from_their_documents(store_url, encode):
    """The streamed scan hands the store each record's text as the outputs got it: its parts are told by their
    text, parsed once each; whatever the text's layout, what is stored is what the documents store, and the
    parts are the same rows (a second scan from the documents adds none)."""
    documents = [state.to_json() for state in fleet_states()]
    details = {**documents[0], "details": {"complianceState": "nested", "policyAssignmentId": "not a key here"}}
    documents.append({**details, "resourceId": documents[0]["resourceId"] + "/x"})
    texts = [encode(document) for document in documents]
    assert (split_record(texts[0]) is None) == (encode is _reordered)
    with HistoryStore(store_url) as store:
        with store.recording(ScanMetadata(scan_id="texts", started_at=DAY0)) as recording:
            for text in [*texts, *texts[:3]]:  # texts met before are not parsed again
                recording.add(OutputRecord(text))
            recording.finish()
        with store.engine.connect() as connection:
            parts = [connection.scalar(select(func.count()).select_from(table))
                     for table in (state_resources, state_policies, state_verdicts)]
        with store.recording(ScanMetadata(scan_id="documents", started_at=DAY0)) as recording:
            recording.add_records([*documents, *documents[:3]])
            recording.finish()
        with store.engine.connect() as connection:
            assert [connection.scalar(select(func.count()).select_from(table))
                    for table in (state_resources, state_policies, state_verdicts)] == parts
        assert [record.document() for record in store.records("texts")] == [
            record.document() for record in store.records("documents")]
        assert store.records("texts")[-4].document()["details"] == details["details"]
        stored = {scan.scan_id: scan for scan in store.scans()}
        assert stored["texts"].resource_counts == stored["documents"].resource_counts
        assert (stored["texts"].compliant, stored["texts"].total) == (stored["documents"].compliant,
                                                                      stored["documents"].total)


def test_records_recorded_from_their_text_after_the_parts_ids_were_forgotten(store_url, monkeypatch):
    """A scan holding more parts than the recording remembers forgets their ids between batches (at 40,000
    clusters the verdicts did): a text met before must then not stand for a part whose id is gone (it was a
    KeyError, exit 3); what is stored is what the documents store."""
    import engine.history.records as records_module
    import engine.history.store as store_module

    monkeypatch.setattr(records_module, "CACHE", 2)
    monkeypatch.setattr(store_module, "INSERT_BATCH", 3)
    documents = [state.to_json() for state in fleet_states()]
    texts = [orjson.dumps(document) for document in documents]
    with HistoryStore(store_url) as store:
        with store.recording(ScanMetadata(scan_id="texts", started_at=DAY0)) as recording:
            for text in [*texts, *texts, *texts]:  # every part met again after its id was forgotten
                recording.add(OutputRecord(text))
            recording.finish()
        with store.recording(ScanMetadata(scan_id="documents", started_at=DAY0)) as recording:
            recording.add_records([*documents, *documents, *documents])
            recording.finish()
        assert [record.document() for record in store.records("texts")] == [
            record.document() for record in store.records("documents")]


def test_a_scan_without_records_reads_back_empty_and_is_pruned(store_url):
    with HistoryStore(store_url) as store:
        store.record_scan(ScanMetadata(scan_id="empty", started_at=DAY0), [])
        scan(store, 1)
        assert store.states("empty") == [] and len(store.states("scan-01")) == 12
        assert store.prune(timedelta(days=1), now=DAY0 + timedelta(days=1, hours=1)) == ["empty"]
