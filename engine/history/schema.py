"""The history store's tables and their migrations, applied in order on open.

A migration is a numbered step; ``schema_migrations`` records the steps a database has had,
so a newer arcpolicy upgrades an older store in place (SQLite file or PostgreSQL alike). The
tables below are the current shape; each migration writes its own step (version 1 creates the
tables as they were then, later ones add to them), never the current shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    case,
    func,
    insert,
    inspect,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.schema import SchemaItem

from engine.ids import normalize
from engine.models.results import ComplianceState
from engine.output.summary import NOT_COMPLIANT_STATES

NOT_COMPLIANT_VALUES = tuple(sorted(state.value for state in NOT_COMPLIANT_STATES))

metadata = MetaData()

migrations_table = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", DateTime(), nullable=False),
)

def _scan_columns_v1() -> list[SchemaItem]:
    """``scans`` as version 1 created it: the records' counts by compliance state."""
    return [
        Column("scan_id", String(64), primary_key=True),
        Column("started_at", DateTime(), nullable=False, index=True),
        Column("duration_seconds", Float, nullable=False),
        Column("inventory_source", Text, nullable=False),
        Column("policy_fingerprint", String(128), nullable=False),
        Column("tool_version", String(32), nullable=False),
        Column("compliant", Integer, nullable=False),
        Column("non_compliant", Integer, nullable=False),
        Column("exempt", Integer, nullable=False),
        Column("error", Integer, nullable=False),
    ]


# Version 4: Azure's overall resource compliance of each scan (engine.output.summary.ResourceCounts): the
# distinct resources evaluated and those non-compliant with at least one assignment.
RESOURCE_COLUMNS = ("resources", "non_compliant_resources")

# Version 6: a scan recorded in shards (``scan --shard I/N``, one process each): N, and how many are recorded
# (null for a scan recorded whole). A scan is complete when every shard is recorded.
SHARD_COLUMNS = ("shard_count", "shards_recorded")

scans = Table("scans", metadata, *_scan_columns_v1(), *(Column(name, Integer) for name in RESOURCE_COLUMNS),
              *(Column(name, Integer) for name in SHARD_COLUMNS))


def _policy_state_columns_v1() -> list[SchemaItem]:
    """``policy_states`` as version 1 created it (fresh objects for each table that uses them)."""
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("scan_id", String(64), ForeignKey("scans.scan_id", ondelete="CASCADE"), nullable=False),
        # Lower-cased identity of the record (resource, assignment, reference id): what diff matches on.
        Column("record_key", Text, nullable=False),
        Column("resource_key", Text, nullable=False),
        Column("subscription_id", String(64)),
        Column("policy", Text, nullable=False),
        Column("compliance_state", String(16), nullable=False),
        Column("record", Text, nullable=False),  # the policy state's JSON, secrets masked
        Index("ix_policy_states_scan", "scan_id", "record_key"),
    ]


# Version 2: each record's trend line, read without its JSON: the lower-cased assignment id and reference
# id (how Azure's compliance views group), the policy's title (definition display name, else its name),
# and the assignment's name and reference id as written (to tell lines of one title apart).
SERIES_COLUMNS = ("series_key", "policy_title", "assignment_name", "reference_id")

# Versions 1 to 3 kept each record as JSON in this table; version 4 reads it once and drops it.
policy_states = Table(
    "policy_states", metadata, *_policy_state_columns_v1(), *(Column(name, Text) for name in SERIES_COLUMNS))




def _inventory_tables_v3(target: MetaData) -> tuple[Table, Table, Table]:
    """Version 3's tables: each scan's inventory, content-addressed per cluster, and its assignments.

    ``inventory_blobs`` holds each distinct cluster (with its extensions and flux configurations; or one
    other resource) once: canonical JSON, secrets masked, compressed (zlib then; Zstandard since, told apart by
    their first bytes: engine.history.inventory), keyed by the SHA-256 of that JSON. ``scan_inventories`` lists a scan's blobs in fleet order as concatenated 32-byte digests, so the
    store grows with churn rather than with fleet size x scans. ``scan_assignments`` names what a scan
    evaluated (what-if names the definitions a change adds or removes).
    """
    blobs = Table(
        "inventory_blobs", target,
        Column("digest", String(64), primary_key=True),
        Column("size", Integer, nullable=False),  # bytes of the canonical JSON
        Column("content", LargeBinary, nullable=False),
    )
    manifests = Table(
        "scan_inventories", target,
        Column("scan_id", String(64), ForeignKey("scans.scan_id", ondelete="CASCADE"), primary_key=True),
        Column("groups", Integer, nullable=False),
        Column("digests", LargeBinary, nullable=False),
    )
    assignments = Table(
        "scan_assignments", target,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("scan_id", String(64), ForeignKey("scans.scan_id", ondelete="CASCADE"), nullable=False,
               index=True),
        Column("assignment_id", Text, nullable=False),
        Column("assignment_name", Text, nullable=False),
        Column("definition_id", Text, nullable=False),
        Column("display_name", Text),
    )
    return blobs, manifests, assignments


inventory_blobs, scan_inventories, scan_assignments = _inventory_tables_v3(metadata)
# Version 5: what a scan assigned, as written (null for the defaults a scan makes without assignment files), and
# a digest of everything its verdicts depend on (definition, parameters, scope, exemptions ...: incremental what-if).
ASSIGNMENT_COLUMNS_V5 = ("document", "fingerprint")
for _name in ASSIGNMENT_COLUMNS_V5:
    scan_assignments.append_column(Column(_name, Text))
DIGEST = LargeBinary(16)


def _state_tables_v5(target: MetaData) -> tuple[Table, ...]:
    """Version 5's tables: policy states as parts kept once, and per scan the list of its records and its figures.

    A record is a resource (``state_resources``), a policy (``state_policies``: assignment, definition, reference
    id, action) and a verdict (``state_verdicts``: state, reasons, exemption, details, remediation, error), each
    kept once however many records and scans share it, keyed by a 16-byte digest of its canonical JSON (secrets
    masked). ``scan_states`` lists a scan's records in order, in chunks: columns of part ids (and an index into
    the chunk's timestamps), delta-coded and compressed (:mod:`engine.history.records`). ``scan_series`` holds
    each scan's compliance per policy (assignment and reference id) and per subscription, which trends read.
    """
    resources = Table(
        "state_resources", target,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("digest", DIGEST, nullable=False, unique=True),
        Column("resource_id", Text, nullable=False),
        Column("resource_type", Text, nullable=False),
        Column("resource_location", Text),
        Column("resource_group", Text),
        Column("subscription_id", Text),
    )
    policies = Table(
        "state_policies", target,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("digest", DIGEST, nullable=False, unique=True),
        Column("assignment_id", Text, nullable=False),
        Column("assignment_name", Text, nullable=False),
        Column("assignment_scope", Text),
        Column("definition_id", Text, nullable=False),
        Column("definition_name", Text, nullable=False),
        Column("display_name", Text),
        Column("set_definition_id", Text),
        Column("reference_id", Text),
        Column("action", Text, nullable=False),
    )
    verdicts = Table(
        "state_verdicts", target,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("digest", DIGEST, nullable=False, unique=True),
        Column("compliance_state", String(16), nullable=False),
        Column("content", Text, nullable=False),  # JSON: isCompliant, reasons, exemption, details, remediation, error
    )
    chunks = Table(
        "scan_states", target,
        Column("scan_id", String(64), ForeignKey("scans.scan_id", ondelete="CASCADE"), primary_key=True),
        Column("chunk", Integer, primary_key=True, autoincrement=False),
        Column("records", Integer, nullable=False),
        Column("timestamps", Text, nullable=False),  # JSON list of the chunk's distinct timestamps
        Column("entries", LargeBinary, nullable=False),
    )
    series = Table(
        "scan_series", target,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("scan_id", String(64), ForeignKey("scans.scan_id", ondelete="CASCADE"), nullable=False, index=True),
        Column("kind", String(16), nullable=False),  # "policy" or "subscription"
        Column("group_key", Text),  # the series key, or the subscription id (null: none)
        Column("title", Text),
        Column("assignment_name", Text),
        Column("reference_id", Text),
        Column("compliant", Integer, nullable=False),  # compliant, exempt or unknown
        Column("total", Integer, nullable=False),
    )
    return resources, policies, verdicts, chunks, series


state_resources, state_policies, state_verdicts, scan_states, scan_series = _state_tables_v5(metadata)


def _shard_table_v6(target: MetaData) -> Table:
    """Version 6: the shards of a sharded scan, one row each once recorded (a shard is recorded once, whole)."""
    return Table(
        "scan_shards", target,
        Column("scan_id", String(64), ForeignKey("scans.scan_id", ondelete="CASCADE"), primary_key=True),
        Column("shard_index", Integer, primary_key=True, autoincrement=False),
        Column("shard_count", Integer, nullable=False),
        Column("started_at", DateTime(), nullable=False),
        Column("duration_seconds", Float, nullable=False),
        Column("records", Integer, nullable=False),
    )


scan_shards = _shard_table_v6(metadata)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    upgrade: Callable[[Connection], None]


BACKFILL_BATCH = 2000


def _create_v1(connection: Connection) -> None:
    version_1 = MetaData()
    Table("scans", version_1, *_scan_columns_v1())
    Table("policy_states", version_1, *_policy_state_columns_v1())
    version_1.create_all(connection)


def series_values(record: dict[str, Any]) -> dict[str, str | None]:
    """The version-2 columns of a record (its JSON document): its trend line, its assignment and, inside an
    initiative, its reference id (case-insensitive), as Azure's compliance views group, and its title."""
    reference_id = record.get("policyDefinitionReferenceId")
    return {
        "series_key": f"{normalize(record['policyAssignmentId'])}|{(reference_id or '').lower()}",
        "policy_title": record.get("policyDefinitionDisplayName") or record["policyDefinitionName"],
        "assignment_name": record["policyAssignmentName"],
        "reference_id": reference_id,
    }


def _add_series_columns(connection: Connection) -> None:
    """Version 2: each record's trend line and title, filled in for the records already stored (their
    JSON is read this once, in batches)."""
    _add_columns(connection, policy_states, SERIES_COLUMNS)
    fill = (update(policy_states).where(policy_states.c.id == bindparam("row_id"))
            .values({name: bindparam(f"new_{name}") for name in SERIES_COLUMNS}))
    last_id = 0
    while True:
        rows = connection.execute(select(policy_states.c.id, policy_states.c.record)
                                  .where(policy_states.c.id > last_id).order_by(policy_states.c.id)
                                  .limit(BACKFILL_BATCH)).all()
        if not rows:
            return
        connection.execute(fill, [
            {"row_id": row.id, **{f"new_{name}": value for name, value in
                                  series_values(orjson.loads(row.record)).items()}}
            for row in rows])
        last_id = rows[-1].id


def _create_inventory_tables(connection: Connection) -> None:
    """Version 3: the tables of :func:`_inventory_tables_v3`. Scans recorded before keep no inventory
    (``arcpolicy inventory --from-store`` says so), and name their assignments through their records."""
    version_3 = MetaData()
    scans.to_metadata(version_3)
    version_3.create_all(connection, tables=list(_inventory_tables_v3(version_3)))


def _add_resource_columns(connection: Connection) -> None:
    """Version 4: each scan's distinct and non-compliant resources, counted for the scans already stored from
    their records' resource and state columns (no JSON read)."""
    _add_columns(connection, scans, RESOURCE_COLUMNS)
    states = policy_states.c
    failing = func.max(case((states.compliance_state.in_(NOT_COMPLIANT_VALUES), 1), else_=0))
    per_resource = (select(states.scan_id, states.resource_key, failing.label("failing"))
                    .group_by(states.scan_id, states.resource_key).subquery())
    totals = select(per_resource.c.scan_id, func.count().label("resources"),
                    func.sum(per_resource.c.failing).label("non_compliant_resources")).group_by(per_resource.c.scan_id)
    fill = (update(scans).where(scans.c.scan_id == bindparam("row_scan"))
            .values(resources=bindparam("new_resources"), non_compliant_resources=bindparam("new_failing")))
    rows = [{"row_scan": row.scan_id, "new_resources": int(row.resources),
             "new_failing": int(row.non_compliant_resources or 0)} for row in connection.execute(totals)]
    if rows:
        connection.execute(fill, rows)


def _keep_states_as_parts(connection: Connection) -> None:
    """Version 5: the tables of :func:`_state_tables_v5`, and each assignment's document and fingerprint (null
    for the scans before: what-if then evaluates every assignment). Each scan's trend figures are computed from
    its records' columns as the trend computed them, then its records (read once, in batches) are written as
    parts, and ``policy_states`` goes."""
    from engine.history.records import StatesWriter  # records writes the tables this module defines

    version_5 = MetaData()
    scans.to_metadata(version_5)
    version_5.create_all(connection, tables=list(_state_tables_v5(version_5)))
    _add_columns(connection, scan_assignments, ASSIGNMENT_COLUMNS_V5)
    states = policy_states.c
    compliant = func.sum(case((states.compliance_state.in_(
        [state.value for state in (ComplianceState.COMPLIANT, ComplianceState.EXEMPT, ComplianceState.UNKNOWN)]),
        1), else_=0))
    for kind, key, title, names in (
            ("policy", states.series_key, states.policy_title,
             (func.max(states.assignment_name), func.max(states.reference_id))),
            ("subscription", states.subscription_id, states.subscription_id, (null(), null()))):
        connection.execute(insert(scan_series).from_select(
            ["scan_id", "kind", "group_key", "title", "assignment_name", "reference_id", "compliant", "total"],
            select(states.scan_id, literal(kind), key, func.max(title), *names, compliant, func.count())
            .group_by(states.scan_id, key)))
    for scan_id in list(connection.scalars(select(states.scan_id).distinct())):
        writer = StatesWriter(connection, scan_id)
        last_id = 0
        while rows := connection.execute(select(states.id, states.record).where(
                states.scan_id == scan_id, states.id > last_id).order_by(states.id).limit(BACKFILL_BATCH)).all():
            writer.add(orjson.loads(row.record) for row in rows)
            last_id = rows[-1].id
        writer.finish(figures=False)
    policy_states.drop(connection)


def _add_shards(connection: Connection) -> None:
    """Version 6: each scan's shard count and shards recorded (null: recorded whole), and the shards' table."""
    _add_columns(connection, scans, SHARD_COLUMNS)
    version_6 = MetaData()
    scans.to_metadata(version_6)
    _shard_table_v6(version_6).create(connection)


def _add_columns(connection: Connection, table: Table, names: Sequence[str]) -> None:
    preparer = connection.dialect.identifier_preparer
    for name in names:
        column = table.c[name]
        connection.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN "
                                   f"{preparer.format_column(column)} {column.type.compile(connection.dialect)}")


MIGRATIONS = (
    Migration(1, "scans and policy states", _create_v1),
    Migration(2, "trend line (assignment, reference id) and title of each policy state", _add_series_columns),
    Migration(3, "inventory of each scan, content-addressed per cluster, and its assignments",
              _create_inventory_tables),
    Migration(4, "overall resource compliance of each scan (distinct and non-compliant resources)",
              _add_resource_columns),
    Migration(5, "policy states as parts kept once and a compact list per scan; trend figures per scan; "
                 "assignments as written", _keep_states_as_parts),
    Migration(6, "scans recorded in shards: shard count, shards recorded, and each shard", _add_shards),
)


def applied_version(connection: Connection) -> int:
    """The schema version the database is at, changing nothing (0: not a store yet)."""
    if not inspect(connection).has_table(migrations_table.name):
        return 0
    return connection.scalar(select(func.max(migrations_table.c.version))) or 0


# The PostgreSQL advisory lock migrations take (per database): any constant, named once.
MIGRATION_LOCK_KEY = 0x61726370  # "arcp"


def migration_lock(connection: Connection) -> None:
    """Hold the store for a migration until the transaction ends, so concurrent writers migrate it once: SQLite's
    write lock (``BEGIN IMMEDIATE``, the transaction's first statement: its DDL then rolls back with it too), or
    a transaction-level advisory lock on PostgreSQL."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))


def migrate(connection: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply every migration the database has not had; returns the schema version."""
    if not inspect(connection).has_table(migrations_table.name):
        migrations_table.create(connection)
    applied = set(connection.scalars(select(migrations_table.c.version)))
    for migration in migrations:
        if migration.version not in applied:
            migration.upgrade(connection)
            connection.execute(insert(migrations_table).values(
                version=migration.version, description=migration.description, applied_at=datetime.now(UTC)))
    return migrations[-1].version
