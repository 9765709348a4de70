"""The history store: every scan's metadata and policy states, in SQLite or PostgreSQL.

``HistoryStore(url)`` takes a SQLAlchemy URL (``postgresql+psycopg://...``, ``sqlite:///file``)
or a plain file path (a SQLite file). Passwords in URLs never appear in messages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.alias_generators import to_camel
from sqlalchemy import (
    Connection,
    Engine,
    Transaction,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from engine.errors import InputError, ServiceError
from engine.history.inventory import (
    InventoryWriter,
    StoredFleet,
    latest_digests,
    load_inventory,
    prune_blobs,
    stored_fleet,
)
from engine.history.records import (
    RecordView,
    StatesWriter,
    StoredRecord,
    largest,
    prune_parts,
    stored_records,
)
from engine.history.schema import (
    MIGRATIONS,
    applied_version,
    migrate,
    migration_lock,
    scan_assignments,
    scan_inventories,
    scan_series,
    scan_shards,
    scan_states,
    scans,
)
from engine.history.sql import batched, insert_ignoring_duplicates
from engine.history.urls import database_url, safe_url
from engine.ids import normalize
from engine.inventory import Fleet
from engine.models.results import PolicyState
from engine.output import OutputRecord
from engine.output.context import ScanMetadata
from engine.output.redact import redact_state
from engine.output.summary import ResourceCounts, StateCounts
from engine.sqlite_files import claim_sqlite_file, own_sqlite_file

if TYPE_CHECKING:
    from engine.inventory.shard import Shard

INSERT_BATCH = 5000
STORE_TABLES = frozenset(("schema_migrations", "scans"))  # what tells a history store from other SQLite files
LOCK_WAIT_SECONDS = 60  # how long a writer waits for another's transaction on a SQLite store
MIGRATION_ATTEMPTS = 5  # a new store's schema, created by concurrent first uses: the later ones see it done
CHUNKS_PER_SHARD = 2**20  # shard I numbers its chunks of records from I * this (MAX_SHARDS of them fit)
# a scan recorded whole, or with every shard
COMPLETE = or_(scans.c.shard_count.is_(None), scans.c.shards_recorded >= scans.c.shard_count)
RELATIVE_REF = re.compile(r"latest(?:~(\d+))?", re.IGNORECASE)


def _utc(moment: datetime) -> datetime:
    """Stored times are naive UTC (portable across SQLite and PostgreSQL); users get aware UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive_utc(moment: datetime) -> datetime:
    return _utc(moment).replace(tzinfo=None)


class ScanRecord(BaseModel):
    """One stored scan, as ``arcpolicy history`` lists it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    scan_id: str
    started_at: datetime
    duration_seconds: float
    inventory_source: str
    policy_fingerprint: str
    tool_version: str
    compliant: int
    non_compliant: int
    exempt: int
    error: int
    resources: int | None = None  # distinct resources evaluated (None: recorded before they were counted)
    non_compliant_resources: int | None = None
    shard_count: int | None = None  # a scan recorded in shards: N (None: recorded whole)
    shards_recorded: int | None = None

    @computed_field
    @property
    def complete(self) -> bool:
        """False while a sharded scan lacks a shard (missing, failed or still running): not a whole fleet."""
        return self.shard_count is None or (self.shards_recorded or 0) >= self.shard_count

    @computed_field
    @property
    def total(self) -> int:
        return self.compliant + self.non_compliant + self.exempt + self.error

    @computed_field
    @property
    def compliance_percentage(self) -> float:
        """Policy states (records) compliant, exempt or unknown, over all records."""
        counts = StateCounts(compliant=self.compliant, non_compliant=self.non_compliant, exempt=self.exempt,
                             error=self.error)
        return counts.percentage

    @computed_field
    @property
    def resource_compliance_percentage(self) -> float | None:
        """Azure's overall resource compliance: resources compliant with every assignment, over all resources."""
        return None if self.resource_counts is None else self.resource_counts.percentage

    @property
    def resource_counts(self) -> ResourceCounts | None:
        if self.resources is None:
            return None
        return ResourceCounts(resources=self.resources, non_compliant_resources=self.non_compliant_resources or 0)


class AssignedDefinition(BaseModel):
    """One assignment a scan evaluated and the definition (or initiative) it assigns."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    assignment_id: str
    assignment_name: str
    definition_id: str
    display_name: str | None = None
    # Kept by the store, not shown: the assignment as written (None for a default one, made without assignment
    # files) and a digest of everything its verdicts depend on.
    document: dict[str, Any] | None = Field(None, exclude=True)
    fingerprint: str | None = Field(None, exclude=True)


class GroupPoint(BaseModel):
    """Compliance of one group (a policy or a subscription) in one scan.

    A policy is an assignment and, inside an initiative, a reference id (``group`` is their lower-cased
    key); its ``title`` is the definition's display name (else its name), and ``assignment_name`` and
    ``reference_id`` tell policies of one title apart. A subscription's title is its id.
    """

    scan_id: str
    started_at: datetime
    group: str
    title: str
    assignment_name: str | None = None
    reference_id: str | None = None
    compliant: int  # compliant or exempt
    total: int


class HistoryStore:
    """Records scans and reads them back; migrates the schema when it opens the database."""

    def __init__(self, url: str, create: bool = True):
        """Open (and migrate) the store; ``create=False`` is for readers: a missing SQLite file is an
        error, not a new empty store (a typo in ``--store`` must not look like "no scans")."""
        self.url = database_url(url)
        self.shown_url = safe_url(url)
        sqlite_file = None
        try:
            sqlite_file = make_url(self.url).database if self.url.startswith("sqlite") else None
            if sqlite_file and sqlite_file != ":memory:":
                self._claim_sqlite_file(Path(sqlite_file), create)
            # SQLite: a writer waits up to LOCK_WAIT_SECONDS for another one's transaction (its default is 5 s)
            self.engine: Engine = create_engine(self.url, **({"connect_args": {"timeout": LOCK_WAIT_SECONDS}}
                                                             if sqlite_file else {}))
            self.schema_version = self._migrate() if create else self._read_version()
            if not create:
                self._check_readable()
            event.listen(self.engine, "handle_error", self._told)
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise InputError("--store", "not a database URL (sqlite:///FILE, postgresql+psycopg://... or a file)",
                             value=self.shown_url) from None
        except OperationalError as error:
            reason = str(error.orig or error).splitlines()[0]
            message = f"cannot open the history store {self.shown_url}: {reason}"
            if "locked" in reason:
                message += f" (another writer held it for {LOCK_WAIT_SECONDS} s)"
            if sqlite_file:
                raise InputError("--store", message) from None
            raise ServiceError(message) from None  # a database server that is down is not bad input
        except DatabaseError as error:  # a file that is not a SQLite database, a server that is not PostgreSQL ...
            reason = str(error.orig or error).splitlines()[0]
            raise InputError("--store", f"not a history store: {reason}", value=self.shown_url) from None

    def _told(self, context: ExceptionContext) -> None:
        """Once the store is open, a database error is the line a user reads, never SQLAlchemy's statement and
        parameters: a SQLite file's (a disk full, damaged pages) is the ``--store`` path's, exit 2; a server's
        (gone mid-scan) the environment's, exit 4."""
        error = context.original_exception
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        if self.url.startswith("sqlite"):
            raise InputError("--store", f"cannot use the history store: {reason}", value=self.shown_url)
        raise ServiceError(f"the history store {self.shown_url} failed: {reason}")

    def _read_version(self) -> int:
        with self.engine.connect() as connection:
            return applied_version(connection)

    def _migrate(self) -> int:
        """Bring the schema up to date. Writers opening a store at once that it needs migrating (a new store, an
        older version's) take turns: the first migrates in one transaction, holding the database's write lock
        (SQLite) or an advisory lock (PostgreSQL), and the others then find it done. Should two still race (a
        new PostgreSQL database's first table), the one that commits second fails and tries again."""
        latest = MIGRATIONS[-1].version
        if self._read_version() == latest:
            return latest  # the common case takes no lock: a recording in progress does not hold it up
        attempt = 0
        while True:
            try:
                with self.engine.begin() as connection:
                    migration_lock(connection)
                    return migrate(connection)
            except (IntegrityError, OperationalError, ProgrammingError) as error:
                attempt += 1
                if attempt == MIGRATION_ATTEMPTS or "locked" in str(error.orig):
                    raise
                time.sleep(0.05 * attempt)

    def _check_readable(self) -> None:
        """Readers (history, diff, trend, whatif, inventory --from-store) never create nor upgrade a store."""
        latest = MIGRATIONS[-1].version
        if not self.schema_version:
            raise InputError("--store", "no history store there (record a scan with 'arcpolicy scan --store')",
                             value=self.shown_url)
        if self.schema_version < latest:
            raise InputError("--store", f"the store's schema is version {self.schema_version}, this arcpolicy's is "
                                        f"{latest}, and reading never upgrades it: record a scan into it "
                                        "('arcpolicy scan --store') to upgrade it", value=self.shown_url)

    def _claim_sqlite_file(self, path: Path, create: bool) -> None:
        """A store's SQLite file is never opened through a link, nor another program's database written into; a
        new one is its owner's only (records may name sensitive settings). Readers never create one."""
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)  # as outputs' folders are
            claim_sqlite_file(path, "history store", required=STORE_TABLES, option="--store")
        elif not own_sqlite_file(path, "history store", required=STORE_TABLES, option="--store") \
                or not path.stat().st_size:
            raise InputError("--store", "no history store there (record a scan with 'arcpolicy scan --store')",
                             value=self.shown_url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record_scan(self, metadata: ScanMetadata, states: Sequence[PolicyState], fleet: Fleet | None = None,
                    assignments: Sequence[AssignedDefinition] = ()) -> str:
        """Store one scan, all its records and (when given) the fleet it evaluated and its assignments, in
        one transaction; returns the scan id."""
        with self.recording(metadata, assignments) as recording:
            for batch in batched(states, INSERT_BATCH):
                recording.add_records(redact_state(state).to_json() for state in batch)
            if fleet is not None:
                recording.add_inventory(fleet.encoded_groups())
            recording.finish(ResourceCounts.of(states))
        return metadata.scan_id

    def recording(self, metadata: ScanMetadata, assignments: Sequence[AssignedDefinition] = (),
                  shard: Shard | None = None) -> ScanRecording:
        """A scan to record as its records and inventory stream by (``with``: :meth:`ScanRecording.add_records`
        and :meth:`ScanRecording.add_inventory` in batches, then :meth:`ScanRecording.finish`); InputError when a
        scan with its id is already recorded. With a ``shard``, one shard of the scan ``metadata.scan_id``, joined
        to the shards recorded under that id by other processes (InputError when that shard is already recorded,
        or the scan was recorded whole or with another shard count)."""
        if shard is None:
            if self._exists(metadata.scan_id):
                raise InputError(self.shown_url, "a scan with this id is already recorded", value=metadata.scan_id)
            return ScanRecording(self, metadata, assignments)
        self._check_shard(metadata.scan_id, shard)
        # the scan's row, committed at once by whichever shard comes first (none waits on another's transaction):
        # from now on the scan is listed, as incomplete until every shard has added its part
        with self.engine.begin() as connection:
            connection.execute(insert_ignoring_duplicates(connection, scans, "scan_id").values(
                {**_scan_row(metadata, {}), "resources": 0, "non_compliant_resources": 0,
                 "shard_count": shard.count, "shards_recorded": 0}))
        self._check_shard(metadata.scan_id, shard)  # the row another shard made first may say otherwise
        return ScanRecording(self, metadata, assignments, shard)

    def _check_shard(self, scan_id: str, shard: Shard) -> None:
        with self.engine.connect() as connection:
            row = connection.execute(select(scans.c.shard_count).where(scans.c.scan_id == scan_id)).first()
            recorded = connection.scalar(select(func.count()).where(
                scan_shards.c.scan_id == scan_id, scan_shards.c.shard_index == shard.index))
        if row is not None and row.shard_count != shard.count:
            held = "was recorded whole" if row.shard_count is None else f"has {row.shard_count} shards"
            raise InputError(self.shown_url, f"scan {scan_id} {held}, not {shard.count}", value=str(shard))
        if recorded:
            raise InputError(self.shown_url, f"shard {shard} of scan {scan_id} is already recorded", value=str(shard))

    def inventory(self, scan_id: str) -> Fleet:
        """The fleet a stored scan evaluated, secrets masked (InputError when it was recorded without one)."""
        with self.engine.connect() as connection:
            fleet = load_inventory(connection, scan_id, self.shown_url)
        if fleet is None:
            raise self._without_inventory(scan_id)
        return fleet

    @contextmanager
    def stored_fleet(self, scan_id: str) -> Iterator[StoredFleet]:
        """The fleet a stored scan evaluated as it is read back, to evaluate again (``with``: the store is read
        while its clusters are taken)."""
        with self.engine.connect() as connection:
            fleet = stored_fleet(connection, scan_id, self.shown_url)
            if fleet is None:
                raise self._without_inventory(scan_id)
            yield fleet

    def _without_inventory(self, scan_id: str) -> InputError:
        return InputError(self.shown_url, "this scan was recorded without its inventory (by an arcpolicy that did not "
                                          "keep inventories)", value=scan_id)

    def assignments(self, scan_id: str) -> list[AssignedDefinition]:
        """What a stored scan evaluated; for scans recorded before assignments were kept, what its records name."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(scan_assignments).where(scan_assignments.c.scan_id == scan_id)
                                      .order_by(scan_assignments.c.id)).mappings().all()
        if rows:
            return [AssignedDefinition.model_validate(
                {**row, "document": None if row["document"] is None else orjson.loads(row["document"])})
                for row in rows]
        named: dict[str, AssignedDefinition] = {}
        for record in self.records(scan_id):
            policy = record.policy
            named.setdefault(normalize(policy.assignment_id), AssignedDefinition(
                assignment_id=policy.assignment_id, assignment_name=policy.assignment_name,
                definition_id=policy.set_definition_id or policy.definition_id,
                display_name=None if policy.set_definition_id else policy.display_name))
        return list(named.values())

    def _exists(self, scan_id: str) -> bool:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.count()).where(scans.c.scan_id == scan_id)) > 0

    def scans(self, limit: int | None = None, complete: bool = False) -> list[ScanRecord]:
        """Stored scans, newest first (``complete``: only those with every shard recorded)."""
        query = select(scans).order_by(scans.c.started_at.desc(), scans.c.scan_id.desc()).limit(limit)
        if complete:
            query = query.where(COMPLETE)
        with self.engine.connect() as connection:
            return [_scan_record(row) for row in connection.execute(query).mappings()]

    def count_scans(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(scans)))

    def resolve(self, reference: str) -> ScanRecord:
        """A complete scan by id, unique id prefix, ``latest`` or ``latest~N`` (N complete scans before the latest);
        a sharded scan missing a shard is never read as a whole fleet: ``latest`` passes it by, and naming it is an
        InputError saying which shards are missing."""
        found = self._resolve(reference)
        if not found.complete:
            with self.engine.connect() as connection:
                recorded = set(connection.scalars(select(scan_shards.c.shard_index).where(
                    scan_shards.c.scan_id == found.scan_id)))
            missing = [f"{index}/{found.shard_count}" for index in range(found.shard_count or 0)
                       if index not in recorded]
            raise InputError(self.shown_url, f"scan {found.scan_id} is incomplete: {found.shards_recorded or 0} of "
                             f"{found.shard_count} shards recorded (missing {', '.join(missing)}); it is not read "
                             "as a whole fleet", value=reference)
        return found

    def _resolve(self, reference: str) -> ScanRecord:
        relative = RELATIVE_REF.fullmatch(reference)
        if relative:
            back = int(relative.group(1) or 0)
            found = self.scans(limit=back + 1, complete=True)
            if len(found) <= back:
                held = {0: "no scans yet (record one with 'arcpolicy scan --store')", 1: "only 1 scan"}.get(
                    len(found), f"only {len(found)} scans")
                raise InputError(self.shown_url, f"the store holds {held}", value=reference)
            return found[back]
        query = select(scans).where(scans.c.scan_id.startswith(reference, autoescape=True)).limit(2)
        with self.engine.connect() as connection:
            rows = list(connection.execute(query).mappings())
        exact = [row for row in rows if row["scan_id"] == reference]
        if len(rows) == 1 or exact:
            return _scan_record((exact or rows)[0])
        problem = "no scan with this id" if not rows else "ambiguous scan id prefix"
        raise InputError(self.shown_url, problem, value=reference)

    def states(self, scan_id: str) -> list[PolicyState]:
        """A stored scan's records, as recorded (secrets masked); none for a scan the store does not hold."""
        return [record.policy_state() for record in self.records(scan_id)]

    def records(self, scan_id: str) -> list[StoredRecord]:
        """A stored scan's records as the parts the store keeps."""
        with self.engine.connect() as connection:
            return list(stored_records(connection, scan_id))

    def views(self, scan_id: str) -> list[RecordView]:
        """What diff and what-if compare of a stored scan's records."""
        with self.engine.connect() as connection:
            return [record.view() for record in stored_records(connection, scan_id)]

    def prune(self, keep: timedelta, now: datetime | None = None) -> list[str]:
        """Delete scans that started more than ``keep`` before ``now`` and the inventory blobs no remaining
        scan refers to; returns the deleted scans' ids."""
        cutoff = _naive_utc((now or datetime.now(UTC)) - keep)
        with self.engine.begin() as connection:
            expired = list(connection.scalars(select(scans.c.scan_id).where(scans.c.started_at < cutoff)))
            if expired:
                for table in (scan_states, scan_series, scan_inventories, scan_assignments, scan_shards):
                    connection.execute(delete(table).where(table.c.scan_id.in_(expired)))
                connection.execute(delete(scans).where(scans.c.scan_id.in_(expired)))
                prune_blobs(connection)
                prune_parts(connection, lambda: connection.scalar(select(func.count()).where(~COMPLETE)) > 0)
        return expired

    def compliance_by(self, group: str, last: int | None = None) -> list[GroupPoint]:
        """Per-scan compliance of each policy (``group="policy"``: assignment and reference id) or
        subscription, oldest scan first. Reads each scan's figures, never its records."""
        series = scan_series.c
        recent = select(scans.c.scan_id).where(COMPLETE).order_by(scans.c.started_at.desc()).limit(last).subquery()
        query = (select(scans.c.scan_id, scans.c.started_at, series.group_key.label("group"), series.title,
                        series.assignment_name, series.reference_id, series.compliant, series.total)
                 .join(scan_series, series.scan_id == scans.c.scan_id)
                 .where(series.kind == group, scans.c.scan_id.in_(select(recent.c.scan_id)))
                 .order_by(scans.c.started_at, series.group_key))
        with self.engine.connect() as connection:
            return [GroupPoint(scan_id=row.scan_id, started_at=_utc(row.started_at), group=row.group or "(none)",
                               title=row.title or row.group or "(none)", assignment_name=row.assignment_name,
                               reference_id=row.reference_id, compliant=int(row.compliant), total=int(row.total))
                    for row in connection.execute(query)]


class ScanRecording:
    """One scan being recorded in one transaction: its records (JSON documents, secrets masked) and the fleet it
    evaluated, in batches as they come, then its assignments and counts. The transaction begins with the first
    batch (a scan's evaluation holds no lock on the store) and commits in :meth:`finish`, with ``metadata`` as it
    is then (its duration); leaving the ``with`` block otherwise stores nothing. A shard's transaction adds its
    part to the scan's row at the end (a shard that fails or is killed adds nothing: the scan stays incomplete)."""

    def __init__(self, store: HistoryStore, metadata: ScanMetadata, assignments: Sequence[AssignedDefinition],
                 shard: Shard | None = None):
        self.store, self.metadata, self.assignments, self.shard = store, metadata, assignments, shard
        self.counts = StateCounts()
        self.resources = ResourceCounts()
        self._connection: Connection | None = None
        self._parts: Connection | None = None  # a shard's parts, committed as they are kept (StatesWriter)
        self._transaction: Transaction | None = None
        self._states: StatesWriter | None = None
        self._inventory: InventoryWriter | None = None
        self._pending: list[bytes] = []  # records added one by one (their text), not yet stored

    def __enter__(self) -> ScanRecording:
        return self

    def _begin(self) -> StatesWriter:
        if self._states is None:
            self._connection = self.store.engine.connect()
            self._transaction = self._connection.begin()
            if self.shard is None:
                self._connection.execute(insert(scans).values(_scan_row(self.metadata, {})))
                self._states = StatesWriter(self._connection, self.metadata.scan_id)
            else:  # SQLite has one writer at a time: there the shards of a scan record one after another
                if self._connection.dialect.name != "sqlite":
                    self._parts = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self._states = StatesWriter(self._connection, self.metadata.scan_id,
                                            self.shard.index * CHUNKS_PER_SHARD, self._parts)
        return self._states

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        """Records as JSON documents (:meth:`PolicyState.to_json`), secrets masked as every output gets them."""
        self._begin().add(records)

    def add(self, record: OutputRecord) -> None:
        """One record of a streamed scan (a :class:`engine.evaluate.streaming.RecordSink`), stored in batches."""
        self._pending.append(record.json)
        if len(self._pending) >= INSERT_BATCH:
            self._begin().add_encoded(self._pending)
            self._pending = []

    def add_inventory(self, groups: Iterable[Sequence[bytes]]) -> None:
        """Groups as :meth:`engine.inventory.Fleet.encoded_groups` gives them (a cluster with its children, or
        one other resource, each resource's compact JSON); a scan that adds none keeps no inventory."""
        self._begin()
        assert self._connection is not None
        if self._inventory is None:
            self._inventory = InventoryWriter(self._connection, self.metadata.scan_id,
                                              latest_digests(self._connection))
        self._inventory.add(groups)

    def finish(self, resources: ResourceCounts | None = None) -> None:
        """Write the rest (the last records, the inventory's list, the assignments, the counts) and commit.
        ``resources``: the overall resource compliance when the records did not come in the scan's order."""
        if self._pending:
            self._begin().add_encoded(self._pending)
            self._pending = []
        states = self._begin()
        assert self._connection is not None and self._transaction is not None
        metadata = self.metadata
        if self.shard is not None:
            self.counts = states.finish(figures=False)
            self.resources = resources if resources is not None else states.resource_counts()
            self._finish_shard(self._connection, states.series_rows())
            self._transaction.commit()
            return
        if self._inventory is not None:
            self._inventory.finish()
        self.counts = states.finish()
        self.resources = resources if resources is not None else states.resource_counts()
        if self.assignments:
            _insert_assignments(self._connection, metadata.scan_id, self.assignments)
        self._connection.execute(update(scans).where(scans.c.scan_id == metadata.scan_id)
                                 .values({**_scan_row(metadata, self.counts), "resources": self.resources.resources,
                                          "non_compliant_resources": self.resources.non_compliant_resources}))
        self._transaction.commit()

    def _finish_shard(self, connection: Connection, series: list[dict[str, Any]]) -> None:
        """Add this shard to its scan: its counts added (shards hold distinct subscriptions, so distinct
        resources), the scan's span widened to this shard's, its trend figures added to the other shards', its
        inventory's groups appended, the assignments once, and the shard's row. The scan's row is locked first,
        so shards finishing together add up one after another."""
        metadata, counts, resources, shard = self.metadata, self.counts, self.resources, self.shard
        assert shard is not None
        # FOR NO KEY UPDATE: every shard's records hold a key-share lock on the row (their foreign key), which FOR
        # UPDATE would wait on, each shard on the others
        scan = connection.execute(select(scans).where(scans.c.scan_id == metadata.scan_id)
                                  .with_for_update(key_share=True)).one()
        first, mine = _utc(scan.started_at), _utc(metadata.started_at)
        end = max(first + timedelta(seconds=scan.duration_seconds),
                  mine + timedelta(seconds=metadata.duration_seconds))
        first = min(first, mine)
        _add_series(connection, metadata.scan_id, series)
        if self._inventory is not None:
            self._inventory.finish()
        if self.assignments and not connection.scalar(select(func.count()).where(
                scan_assignments.c.scan_id == metadata.scan_id)):
            _insert_assignments(connection, metadata.scan_id, self.assignments)
        connection.execute(insert(scan_shards).values(
            scan_id=metadata.scan_id, shard_index=shard.index, shard_count=shard.count,
            started_at=_naive_utc(mine), duration_seconds=metadata.duration_seconds, records=counts.total))
        columns = scans.c
        connection.execute(update(scans).where(columns.scan_id == metadata.scan_id).values(
            started_at=_naive_utc(first), duration_seconds=round((end - first).total_seconds(), 3),
            compliant=columns.compliant + counts.compliant, non_compliant=columns.non_compliant + counts.non_compliant,
            exempt=columns.exempt + counts.exempt, error=columns.error + counts.error,
            resources=columns.resources + resources.resources,
            non_compliant_resources=columns.non_compliant_resources + resources.non_compliant_resources,
            shards_recorded=columns.shards_recorded + 1))

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        """The transaction rolls back unless it committed (on a server gone, as far as it can)."""
        if self._parts is not None:
            self._parts.close()
        if self._connection is not None:
            try:
                if self._transaction is not None and self._transaction.is_active:
                    self._transaction.rollback()
                self._connection.close()
            except Exception:
                if error is None:
                    raise  # else the error that stopped the recording is the one to tell


def _add_series(connection: Connection, scan_id: str, rows: list[dict[str, Any]]) -> None:
    """A shard's trend figures added to those the scan's other shards recorded (a policy's line is in every shard;
    a subscription's in one): the same line's counts summed, its names the largest, as one scan's would be."""
    series = scan_series.c
    stored = {(row.kind, row.group_key): row for row in connection.execute(
        select(scan_series).where(series.scan_id == scan_id))}
    for row in rows:
        before = stored.get((row["kind"], row["group_key"]))
        if before is None:
            connection.execute(insert(scan_series).values(row))
            continue
        connection.execute(update(scan_series).where(series.id == before.id).values(
            compliant=before.compliant + row["compliant"], total=before.total + row["total"],
            **{name: largest([getattr(before, name), row[name]]) for name in ("title", "assignment_name",
                                                                                 "reference_id")}))


def _insert_assignments(connection: Connection, scan_id: str, assignments: Sequence[AssignedDefinition]) -> None:
    connection.execute(insert(scan_assignments), [
        {"scan_id": scan_id, **assignment.model_dump(), "fingerprint": assignment.fingerprint,
         "document": None if assignment.document is None else orjson.dumps(assignment.document).decode()}
        for assignment in assignments])


def _scan_row(metadata: ScanMetadata, counts: StateCounts | dict[str, int]) -> dict[str, Any]:
    figures = counts if isinstance(counts, dict) else counts.model_dump()
    return {"scan_id": metadata.scan_id, "started_at": _naive_utc(metadata.started_at),
            "duration_seconds": metadata.duration_seconds, "inventory_source": metadata.inventory_source,
            "policy_fingerprint": metadata.policy_fingerprint, "tool_version": metadata.tool_version,
            **{name: figures.get(name, 0) for name in ("compliant", "non_compliant", "exempt", "error")}}


def record_key(state: PolicyState) -> str:
    """Identity of a record across scans: resource, assignment and reference id, case-insensitive."""
    return "|".join((normalize(state.resource_id), normalize(state.policy_assignment_id),
                     (state.policy_definition_reference_id or "").lower()))


def _scan_record(row) -> ScanRecord:
    return ScanRecord.model_validate({**row, "started_at": _utc(row["started_at"])})
