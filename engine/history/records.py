"""Policy states as the store keeps them: parts kept once, and per scan a compact list of its records.

A record is three parts: its resource (id, type, location, resource group, subscription), its policy
(assignment, definition, reference id, action) and its verdict (state, reasons, exemption, details,
remediation, error). Each part is kept once in its table, secrets masked, keyed by a digest of its canonical
JSON, however many records and scans share it: a fleet's records share a few policies and a few hundred
verdicts, and a resource's part is the same from one scan to the next. A scan keeps its records in order as
chunks of three columns of part ids and an index into the chunk's timestamps, delta-coded and compressed.
So a scan of a fleet that barely changed adds a few kilobytes and the parts that changed (as Azure Policy
keeps state-change events), and recording computes each distinct part's stored form once.
"""

from __future__ import annotations

import hashlib
import sys
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from itertools import accumulate, chain, pairwise
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Table, delete, insert, select

from engine.evaluate.records import Row
from engine.history.schema import (
    scan_series,
    scan_states,
    scans,
    state_policies,
    state_resources,
    state_verdicts,
)
from engine.history.sql import BATCH, batched, insert_returning_ids
from engine.ids import normalize
from engine.inventory.fleet import compact_json
from engine.models.results import ComplianceState, PolicyState
from engine.output.summary import NOT_COMPLIANT_STATES, ResourceCounter, ResourceCounts, StateCounts
from engine.secret_values import scrub, scrub_data

CHUNK = 65536  # records per stored chunk: what recording and reading hold at once, besides the parts
CACHE = 50_000  # raw parts remembered while recording, per table (records come sorted by resource: recent ones repeat)
TEXTS = 8192  # parts' texts remembered while recording, per table (a text met again is not parsed again)
NOT_COMPLIANT_VALUES = frozenset(state.value for state in NOT_COMPLIANT_STATES)  # a resource's rollup
# compliance % as Azure counts it: compliant, exempt and unknown (Manual, not attested) over all records
COMPLIANT_VALUES = frozenset(state.value for state in (ComplianceState.COMPLIANT, ComplianceState.EXEMPT,
                                                       ComplianceState.UNKNOWN))
# A record's JSON document (PolicyState.to_json, secrets masked): the keys of each part.
RESOURCE_KEYS = ("resourceId", "resourceType", "resourceLocation", "resourceGroup", "subscriptionId")
POLICY_KEYS = ("policyAssignmentId", "policyAssignmentName", "policyAssignmentScope", "policyDefinitionId",
               "policyDefinitionName", "policyDefinitionDisplayName", "policySetDefinitionId",
               "policyDefinitionReferenceId", "policyDefinitionAction")
VERDICT_KEYS = ("complianceState", "isCompliant", "reasons", "exemptionId", "exemptionCategory", "details",
                "remediation", "error")
RESOURCE_COLUMNS = ("resource_id", "resource_type", "resource_location", "resource_group", "subscription_id")
POLICY_COLUMNS = ("assignment_id", "assignment_name", "assignment_scope", "definition_id", "definition_name",
                  "display_name", "set_definition_id", "reference_id", "action")


def digest(canonical: bytes) -> bytes:
    return hashlib.blake2b(canonical, digest_size=16).digest()


class _Parts:
    """One part table while a scan is recorded: the id of each part met, by its raw key; new parts are looked
    up by digest and inserted in batches."""

    def __init__(self, connection: Connection, table: Table, stored: Callable[[Any], dict[str, Any]]):
        self.connection, self.table, self.stored = connection, table, stored
        self.ids: dict[Hashable, int] = {}
        self.pending: dict[Hashable, Any] = {}  # raw key -> what its stored row is made from

    def forget_if_full(self) -> bool:
        """Bound the memory a scan of any size holds (before a batch: its records need their parts' ids); whether
        it forgot them."""
        if len(self.ids) > CACHE:
            self.ids.clear()
            return True
        return False

    def resolve(self) -> None:
        """Give every pending part its id: inserted, its id returned, unless the store holds it already (a part
        of an earlier scan, or of one recorded meanwhile): then looked up by digest."""
        for batch in batched(self.pending.items(), BATCH):
            stored = [(key, self.stored(source)) for key, source in batch]
            rows = {row["digest"]: row for _, row in stored}  # raw keys written differently may share a part
            known = {bytes(value): part_id for value, part_id in insert_returning_ids(
                self.connection, self.table, "digest", list(rows.values()))}
            if len(known) < len(rows):
                known.update(self._lookup([value for value in rows if value not in known]))
            for key, row in stored:
                self.ids[key] = known[row["digest"]]
        self.pending.clear()

    def _lookup(self, digests: Sequence[bytes]) -> Iterator[tuple[bytes, int]]:
        rows = self.connection.execute(select(self.table.c.digest, self.table.c.id)
                                       .where(self.table.c.digest.in_(digests)))
        return ((bytes(row.digest), row.id) for row in rows)


def _part_row(columns: Sequence[str]) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    def row(fields: tuple[Any, ...]) -> dict[str, Any]:
        return {"digest": digest(orjson.dumps(fields)), **dict(zip(columns, fields, strict=True))}

    return row


def _verdict_key(record: dict[str, Any]) -> bytes:
    """A verdict's raw key: its values in order (what is absent, null), exact-size (the cache holds up to
    :data:`CACHE` of them: orjson's own buffers would each keep a few KiB of slack)."""
    return compact_json(tuple(map(record.get, VERDICT_KEYS)))


def _verdict_key_of_content(row: tuple[str]) -> bytes:
    """The raw key of a stored verdict (its content holds the values that are not null, as recorded)."""
    return _verdict_key(orjson.loads(row[0]))


def _verdict_row(record: dict[str, Any]) -> dict[str, Any]:
    verdict = {key: value for key in VERDICT_KEYS if (value := record.get(key)) is not None}
    return {"digest": digest(orjson.dumps(verdict, option=orjson.OPT_SORT_KEYS)),
            "compliance_state": verdict["complianceState"], "content": orjson.dumps(verdict).decode()}


# A record's text, as every format gets it (engine.evaluate.record_json): its resource's members, then its
# policy's, then the verdict's with the timestamp among them; where each begins.
POLICY_BEGINS = b'"policyAssignmentId":'
VERDICT_BEGINS = b'"complianceState":'
VERDICT_TEXT_KEYS = (*VERDICT_KEYS, "timestamp")
_ALLOWED = {keys: frozenset(keys) for keys in (RESOURCE_KEYS, POLICY_KEYS, VERDICT_TEXT_KEYS)}


def split_record(encoded: bytes) -> tuple[bytes, bytes, bytes] | None:
    """A record's JSON text cut where its policy's members and its verdict's begin (None when it cannot be).

    A key's quoted name followed by a colon is a key (a string holding it escapes its quotes); each cut is checked
    where it matters, when a text is first met (:func:`_members`): each piece must hold only its part's members,
    whole, so that equal texts are equal parts."""
    policy = encoded.find(POLICY_BEGINS)
    verdict = encoded.find(VERDICT_BEGINS, policy)
    if policy < 0 or verdict < 0:
        return None
    return encoded[:policy], encoded[policy:verdict], encoded[verdict:]


def _members(text: bytes, opening: bytes, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """A piece of a record's text as an object (``opening`` before it, the comma after it dropped, closed when
    open), or None unless it is whole members of ``keys`` only (a cut inside a value does not parse)."""
    body = opening + text.rstrip()
    if body.endswith(b","):
        body = body[:-1] + b"}"
    elif not body.endswith(b"}"):
        body += b"}"
    try:
        members = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return members if isinstance(members, dict) and _ALLOWED[keys].issuperset(members) else None


class StatesWriter:
    """Records a scan's records as they come (any number of :meth:`add` calls), in one transaction.

    A shard of a scan (:class:`engine.inventory.shard.Shard`) numbers its chunks from ``first_chunk`` and may keep
    its parts through another connection (``parts``, committing each batch): the shards of one scan share most
    parts, and a part another shard's transaction inserted would hold this one until that shard commits."""

    def __init__(self, connection: Connection, scan_id: str, first_chunk: int = 0, parts: Connection | None = None):
        self.connection, self.scan_id = connection, scan_id
        parts = parts or connection
        self.resources = _Parts(parts, state_resources, _part_row(RESOURCE_COLUMNS))
        self.policies = _Parts(parts, state_policies, _part_row(POLICY_COLUMNS))
        self.verdicts = _Parts(parts, state_verdicts, _verdict_row)
        self.states: Counter[str] = Counter()
        self.rolled_up = ResourceCounter()  # records come a resource at a time: only the current one is held
        # (policy id, subscription, counts as compliant) -> records: the scan's trend figures
        self.figures: Counter[tuple[int, str | None, bool]] = Counter()
        self.first_chunk = self.chunks = first_chunk
        self._chunk: list[array[int]] = [array("q") for _ in range(4)]
        self._timestamps: dict[str, int] = {}
        # per part (resource, policy, verdict): its text in a record (split_record) -> its raw key (the verdict's
        # with the record's state and timestamp), at most TEXTS of each
        self._texts: tuple[dict[bytes, Any], dict[bytes, Any], dict[bytes, Any]] = ({}, {}, {})
        self._know_latest_scan()

    def _know_latest_scan(self) -> None:
        """The parts of the latest recorded scan, by their raw values: a scan mostly repeats them, and those it
        repeats are neither hashed nor looked up again (read in one range per table, when they fit the cache)."""
        latest = self.connection.scalar(select(scans.c.scan_id).where(
            scans.c.scan_id.in_(select(scan_states.c.scan_id)), scans.c.scan_id != self.scan_id)
            .order_by(scans.c.started_at.desc()).limit(1))
        if latest is None:
            return
        used: list[set[int]] = [set(), set(), set()]
        for count, entries in self.connection.execute(select(scan_states.c.records, scan_states.c.entries)
                                                      .where(scan_states.c.scan_id == latest)):
            for kept, column in zip(used, _decode(bytes(entries), count)[:3], strict=True):
                kept.update(column)
        for parts, columns, wanted, raw in ((self.resources, RESOURCE_COLUMNS, used[0], tuple),
                                            (self.policies, POLICY_COLUMNS, used[1], tuple),
                                            (self.verdicts, ("content",), used[2], _verdict_key_of_content)):
            if not wanted or len(wanted) > CACHE:
                continue
            table = parts.table
            rows = self.connection.execute(select(table.c.id, *(table.c[name] for name in columns)).where(
                table.c.id.between(min(wanted), max(wanted))))
            parts.ids.update((raw(row[1:]), row[0]) for row in rows if row[0] in wanted)

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Records as JSON documents (:meth:`PolicyState.to_json`), secrets already masked (as every output
        gets them): each part's stored form is the document's own values."""
        self._store([self._keyed(record) for record in self._batch_begun(records)])

    def add_encoded(self, records: Iterable[bytes]) -> None:
        """Records as the JSON text every output got (:class:`engine.output.registry.OutputRecord`), secrets masked:
        each part is told by its own text (:func:`split_record`), a text met before in this scan is not parsed
        again; a record not split so is parsed whole."""
        resources, policies, verdicts = self._texts
        keyed = []
        for encoded in self._batch_begun(records):
            split = split_record(encoded)
            if split is not None:
                known = resources.get(split[0]), policies.get(split[1]), verdicts.get(split[2])
                if None in known:
                    known = self._known_texts(split, known)
                if known is not None:
                    keyed.append((known[0], known[1], *known[2]))
                    continue
            keyed.append(self._keyed(orjson.loads(encoded)))
        self._store(keyed)

    def _batch_begun(self, records: Iterable[Any]) -> Iterable[Any]:
        for parts, texts in zip((self.resources, self.policies, self.verdicts), self._texts, strict=True):
            # a text remembered stands for a part whose id is known: forgetting the ids forgets the texts too
            if parts.forget_if_full() or len(texts) > TEXTS:
                texts.clear()
        return records

    def _keyed(self, record: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...], bytes, str, str]:
        """A record's parts by their raw values (most are met before, in this scan), pending when new."""
        get = record.get
        resource = tuple(map(get, RESOURCE_KEYS))
        policy = tuple(map(get, POLICY_KEYS))
        verdict = _verdict_key(record)
        self._pend(resource, policy, verdict, record)
        return resource, policy, verdict, record["complianceState"], record["timestamp"]

    def _known_texts(self, texts: tuple[bytes, bytes, bytes],
                     known: tuple[Any, Any, Any]) -> tuple[Any, Any, Any] | None:
        """A record's parts from their texts (:func:`split_record`), those not met before parsed: the resource's and
        the policy's raw values, the verdict's raw key with the record's state and timestamp; each text remembered
        and each new part pending. None when a text holds other members than its part's."""
        resource, policy, verdict = known
        if resource is None:
            members = _members(texts[0], b"", RESOURCE_KEYS)
            resource = None if members is None else tuple(map(members.get, RESOURCE_KEYS))
        if policy is None:
            members = _members(texts[1], b"{", POLICY_KEYS)
            policy = None if members is None else tuple(map(members.get, POLICY_KEYS))
        record = None
        if verdict is None:
            record = _members(texts[2], b"{", VERDICT_TEXT_KEYS)
            if record is not None and "complianceState" in record and "timestamp" in record:
                verdict = (_verdict_key(record), record["complianceState"], record["timestamp"])
        if resource is None or policy is None or verdict is None:
            return None
        for text, raw, cache in zip(texts, (resource, policy, verdict), self._texts, strict=True):
            cache[text] = raw
        self._pend(resource, policy, verdict[0], record)
        return resource, policy, verdict

    def _pend(self, resource: tuple[Any, ...], policy: tuple[Any, ...], verdict: bytes,
              record: dict[str, Any] | None) -> None:
        """Each part whose id is not known pending (a verdict only with its document: ``record``)."""
        if resource not in self.resources.ids:
            self.resources.pending[resource] = resource
        if policy not in self.policies.ids:
            self.policies.pending[policy] = policy
        if record is not None and verdict not in self.verdicts.ids:
            self.verdicts.pending[verdict] = record

    def _store(self, keyed: list[tuple[tuple[Any, ...], tuple[Any, ...], bytes, str, str]]) -> None:
        """Give the new parts their ids, then append the records to the scan's chunk and count them."""
        resources, policies, verdicts = self.resources, self.policies, self.verdicts
        for parts in (resources, policies, verdicts):
            parts.resolve()
        resource_ids, policy_ids, verdict_ids = resources.ids, policies.ids, verdicts.ids
        states, figures, timestamps, counter = self.states, self.figures, self._timestamps, self.rolled_up
        resource_column, policy_column, verdict_column, timestamp_column = self._chunk
        for resource, policy, verdict, state, timestamp in keyed:
            policy_id = policy_ids[policy]
            index = timestamps.get(timestamp)
            if index is None:
                index = timestamps[timestamp] = len(timestamps)
            resource_column.append(resource_ids[resource])
            policy_column.append(policy_id)
            verdict_column.append(verdict_ids[verdict])
            timestamp_column.append(index)
            states[state] += 1
            figures[policy_id, resource[4], state in COMPLIANT_VALUES] += 1
            counter.add_resource(resource[0].lower(), state in NOT_COMPLIANT_VALUES)
            if len(resource_column) >= CHUNK:
                self._write_chunk()
                (resource_column, policy_column, verdict_column, timestamp_column), timestamps = (self._chunk,
                                                                                                   self._timestamps)

    def _write_chunk(self) -> None:
        count = len(self._chunk[0])
        if not count and self.chunks > self.first_chunk:
            return
        self.connection.execute(insert(scan_states).values(
            scan_id=self.scan_id, chunk=self.chunks, records=count, timestamps=orjson.dumps(list(self._timestamps)).decode(),
            entries=_encode(self._chunk)))
        self.chunks += 1
        self._chunk = [array("q") for _ in range(4)]
        self._timestamps = {}

    def resource_counts(self) -> ResourceCounts:
        """Azure's overall resource compliance of the records added (:class:`ResourceCounts`), when they came in the
        scan's order (a resource's records together)."""
        return self.rolled_up.counts()

    def finish(self, figures: bool = True) -> StateCounts:
        """Write the last chunk and (unless told not to) the scan's trend figures; the scan's counts by state."""
        self._write_chunk()
        counts = StateCounts.of(ComplianceState(state) for state in self.states.elements())
        if figures:
            rows = self.series_rows()
            if rows:
                self.connection.execute(insert(scan_series), rows)
        return counts

    def series_rows(self) -> list[dict[str, Any]]:
        """The scan's trend figures (its ``scan_series`` rows): compliance per policy and per subscription."""
        policies = _policy_rows(self.connection, {policy_id for policy_id, _, _ in self.figures})
        rows: dict[tuple[str, str | None], dict[str, Any]] = {}
        for (policy_id, subscription, compliant), count in self.figures.items():
            policy = policies[policy_id]
            key = f"{normalize(policy.assignment_id)}|{(policy.reference_id or '').lower()}"
            line = rows.setdefault(("policy", key), {"group_key": key, "title": [], "assignment_name": [],
                                                       "reference_id": [], "compliant": 0, "total": 0})
            line["title"].append(policy.display_name or policy.definition_name)
            line["assignment_name"].append(policy.assignment_name)
            line["reference_id"].append(policy.reference_id)
            place = rows.setdefault(("subscription", subscription), {
                "group_key": subscription, "title": [subscription], "assignment_name": [], "reference_id": [],
                "compliant": 0, "total": 0})
            for row in (line, place):
                row["compliant"] += count if compliant else 0
                row["total"] += count
        return [{**row, "scan_id": self.scan_id, "kind": kind,
                 **{name: largest(row[name]) for name in ("title", "assignment_name", "reference_id")}}
                for (kind, _), row in rows.items()]


def largest(values: list[str | None]) -> str | None:
    """SQL's max(): the largest value, nulls left out."""
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _encode(columns: list[array[int]]) -> bytes:
    """Each column as its differences from the previous value (runs of 0 and 1 in a sorted scan), compressed."""
    encoded = []
    for column in columns:
        deltas = array("q", [current - previous for previous, current in pairwise(chain((0,), column))])
        if sys.byteorder == "big":
            deltas.byteswap()
        encoded.append(deltas.tobytes())
    return zlib.compress(b"".join(encoded), 6)


def _decode(entries: bytes, count: int) -> list[list[int]]:
    if not count:  # a scan without records keeps one empty chunk
        return [[], [], [], []]
    raw = zlib.decompress(entries)
    width = count * 8
    columns = []
    for start in range(0, 4 * width, width):
        deltas = array("q")
        deltas.frombytes(raw[start:start + width])
        if sys.byteorder == "big":
            deltas.byteswap()
        columns.append(list(accumulate(deltas)))
    return columns


class ResourcePart(NamedTuple):
    resource_id: str
    resource_type: str
    resource_location: str | None
    resource_group: str | None
    subscription_id: str | None


class PolicyPart(NamedTuple):
    assignment_id: str
    assignment_name: str
    assignment_scope: str | None
    definition_id: str
    definition_name: str
    display_name: str | None
    set_definition_id: str | None
    reference_id: str | None
    action: str


class VerdictPart(NamedTuple):
    compliance_state: ComplianceState
    content: dict[str, Any]


class RecordView(NamedTuple):
    """What diff and what-if compare of a record, from a stored scan or a fresh evaluation alike."""

    record_key: str  # resource, assignment and reference id, case-insensitive: a record's identity across scans
    resource_id: str
    assignment_key: str  # the assignment id, case-insensitive
    assignment_id: str
    assignment_name: str
    policy: str  # the definition, and its reference id inside an initiative (engine.output.summary.policy_key)
    title: str  # the definition's display name, else its name
    state: ComplianceState
    reasons: tuple[str, ...]  # the reasons' messages

    @classmethod
    def of(cls, state: PolicyState) -> RecordView:
        """The view of a fresh record as the store would keep it: the texts a view holds with values secret by
        their origin masked (none of them sits under a secret-looking key, the other part of a record's
        masking)."""
        return _view(scrub(state.resource_id), scrub(state.policy_assignment_id), scrub(state.policy_assignment_name),
                     scrub(state.policy_definition_name), scrub_data(state.policy_definition_display_name),
                     scrub_data(state.policy_definition_reference_id), state.compliance_state,
                     tuple(scrub(reason.message) for reason in state.reasons))


    @classmethod
    def of_row(cls, row: Row) -> RecordView:
        """:meth:`of` for a row of an evaluation (:mod:`engine.evaluate.records`), its PolicyState never built."""
        policy = row[5]
        return _view(scrub(row[0]), scrub(policy[0]), scrub(policy[1]), scrub(policy[4]), scrub_data(policy[5]),
                     scrub_data(policy[7]), row[6], tuple(scrub(reason[0]) for reason in row[7]))


def _view(resource_id: str, assignment_id: str, assignment_name: str, definition_name: str,
          display_name: str | None, reference_id: str | None, state: ComplianceState,
          reasons: tuple[str, ...]) -> RecordView:
    assignment_key = normalize(assignment_id)
    return RecordView(f"{normalize(resource_id)}|{assignment_key}|{(reference_id or '').lower()}", resource_id,
                      assignment_key, assignment_id, assignment_name,
                      f"{definition_name} [{reference_id}]" if reference_id else definition_name,
                      display_name or definition_name, state, reasons)


class StoredRecord(NamedTuple):
    """One stored record as its parts."""

    resource: ResourcePart
    policy: PolicyPart
    verdict: VerdictPart
    timestamp: str

    def view(self) -> RecordView:
        policy = self.policy
        return _view(self.resource.resource_id, policy.assignment_id, policy.assignment_name, policy.definition_name,
                     policy.display_name, policy.reference_id, self.verdict.compliance_state,
                     tuple(reason["message"] for reason in self.verdict.content.get("reasons", [])))

    def document(self) -> dict[str, Any]:
        """The record's JSON document, as recorded."""
        document = {key: value for key, value in (*zip(RESOURCE_KEYS, self.resource, strict=True),
                                                  *zip(POLICY_KEYS, self.policy, strict=True)) if value is not None}
        document.update(self.verdict.content)
        document["timestamp"] = self.timestamp
        return document

    def policy_state(self) -> PolicyState:
        return PolicyState.model_validate(self.document())


def _policy_rows(connection: Connection, wanted: set[int]) -> dict[int, PolicyPart]:
    return {part_id: PolicyPart(*fields) for part_id, fields in _rows(connection, state_policies, POLICY_COLUMNS,
                                                                       wanted)}


def _rows(connection: Connection, table: Table, columns: Sequence[str],
          wanted: Iterable[int]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    selected = [table.c[name] for name in columns]
    for batch in batched(sorted(wanted), BATCH):
        for row in connection.execute(select(table.c.id, *selected).where(table.c.id.in_(batch))):
            yield row[0], tuple(row[1:])


def stored_records(connection: Connection, scan_id: str) -> Iterator[StoredRecord]:
    """The records of ``scan_id`` in the order they were recorded, a chunk at a time."""
    chunks = connection.execute(select(scan_states.c.records, scan_states.c.timestamps, scan_states.c.entries)
                                .where(scan_states.c.scan_id == scan_id).order_by(scan_states.c.chunk))
    for count, timestamps, entries in chunks:
        resource_ids, policy_ids, verdict_ids, stamps = _decode(bytes(entries), count)
        resources = {part_id: ResourcePart(*fields) for part_id, fields in
                     _rows(connection, state_resources, RESOURCE_COLUMNS, set(resource_ids))}
        policies = _policy_rows(connection, set(policy_ids))
        verdicts = {part_id: VerdictPart(ComplianceState(state), orjson.loads(content)) for part_id, (state, content)
                    in _rows(connection, state_verdicts, ("compliance_state", "content"), set(verdict_ids))}
        moments = orjson.loads(timestamps)
        for resource_id, policy_id, verdict_id, stamp in zip(resource_ids, policy_ids, verdict_ids, stamps,
                                                               strict=True):
            yield StoredRecord(resources[resource_id], policies[policy_id], verdicts[verdict_id], moments[stamp])


class AssignmentRecords(NamedTuple):
    """What what-if needs of one assignment's stored records that it does not compare one by one."""

    non_compliant: int
    titles: frozenset[str]


def records_to_compare(connection: Connection, scan_id: str,
                       compared: Callable[[str], bool]) -> tuple[list[RecordView], dict[str, AssignmentRecords]]:
    """The stored records of the assignments ``compared`` accepts (by lower-cased assignment id), as views; and
    per assignment (all of them), its non-compliant records and titles. Only the parts those records use are
    read: the other assignments' records are counted from their part ids."""
    views: list[RecordView] = []
    non_compliant: Counter[str] = Counter()
    titles: dict[str, set[str]] = {}
    chunks = connection.execute(select(scan_states.c.records, scan_states.c.entries)
                                .where(scan_states.c.scan_id == scan_id).order_by(scan_states.c.chunk))
    for count, entries in chunks:
        resource_ids, policy_ids, verdict_ids, _ = _decode(bytes(entries), count)
        policies = _policy_rows(connection, set(policy_ids))
        keys = {part_id: normalize(policy.assignment_id) for part_id, policy in policies.items()}
        for part_id, policy in policies.items():
            titles.setdefault(keys[part_id], set()).add(policy.display_name or policy.definition_name)
        states = {part_id: ComplianceState(state) for part_id, (state,) in
                  _rows(connection, state_verdicts, ("compliance_state",), set(verdict_ids))}
        wanted = [position for position, policy_id in enumerate(policy_ids) if compared(keys[policy_id])]
        resources = {part_id: resource_id for part_id, (resource_id,) in _rows(
            connection, state_resources, ("resource_id",), {resource_ids[position] for position in wanted})}
        reasons = {part_id: tuple(reason["message"] for reason in orjson.loads(content).get("reasons", []))
                   for part_id, (content,) in _rows(connection, state_verdicts, ("content",),
                                                    {verdict_ids[position] for position in wanted})}
        for policy_id, verdict_id in zip(policy_ids, verdict_ids, strict=True):
            if states[verdict_id] is ComplianceState.NON_COMPLIANT:
                non_compliant[keys[policy_id]] += 1
        for position in wanted:
            policy, verdict_id = policies[policy_ids[position]], verdict_ids[position]
            views.append(_view(resources[resource_ids[position]], policy.assignment_id, policy.assignment_name,
                               policy.definition_name, policy.display_name, policy.reference_id, states[verdict_id],
                               reasons[verdict_id]))
    return views, {key: AssignmentRecords(non_compliant[key], frozenset(names)) for key, names in titles.items()}


def prune_parts(connection: Connection, being_recorded: Callable[[], bool] = lambda: False) -> int:
    """Delete the parts no stored scan refers to any more; returns how many. Nothing while ``being_recorded()``
    (a shard keeps its parts before its scan's list refers to them): asked after the parts are listed, so that
    a part kept later is never among them."""
    tables = (state_resources, state_policies, state_verdicts)
    listed = [list(connection.scalars(select(table.c.id))) for table in tables]
    if being_recorded():
        return 0
    referenced: list[set[int]] = [set(), set(), set()]
    for count, entries in connection.execute(select(scan_states.c.records, scan_states.c.entries)):
        for kept, column in zip(referenced, _decode(bytes(entries), count)[:3], strict=True):
            kept.update(column)
    deleted = 0
    for table, kept, ids in zip(tables, referenced, listed, strict=True):
        unreferenced = [part_id for part_id in ids if part_id not in kept]
        for batch in batched(unreferenced, BATCH):
            connection.execute(delete(table).where(table.c.id.in_(batch)))
        deleted += len(unreferenced)
    return deleted
