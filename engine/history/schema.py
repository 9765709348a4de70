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
    select,
    update,
)
from sqlalchemy.schema import SchemaItem

from engine.ids import normalize
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

scans = Table("scans", metadata, *_scan_columns_v1(), *(Column(name, Integer) for name in RESOURCE_COLUMNS))


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

policy_states = Table(
    "policy_states", metadata, *_policy_state_columns_v1(), *(Column(name, Text) for name in SERIES_COLUMNS))




def _inventory_tables_v3(target: MetaData) -> tuple[Table, Table, Table]:
    """Version 3's tables: each scan's inventory, content-addressed per cluster, and its assignments.

    ``inventory_blobs`` holds each distinct cluster (with its extensions and flux configurations; or one
    other resource) once: canonical JSON, secrets masked, zlib-compressed, keyed by the SHA-256 of that
    JSON. ``scan_inventories`` lists a scan's blobs in fleet order as concatenated 32-byte digests, so the
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
    preparer = connection.dialect.identifier_preparer
    for name in SERIES_COLUMNS:
        column = policy_states.c[name]
        connection.exec_driver_sql(f"ALTER TABLE {preparer.format_table(policy_states)} ADD COLUMN "
                                   f"{preparer.format_column(column)} {column.type.compile(connection.dialect)}")
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
    preparer = connection.dialect.identifier_preparer
    for name in RESOURCE_COLUMNS:
        connection.exec_driver_sql(f"ALTER TABLE {preparer.format_table(scans)} ADD COLUMN "
                                   f"{preparer.format_column(scans.c[name])} INTEGER")
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


MIGRATIONS = (
    Migration(1, "scans and policy states", _create_v1),
    Migration(2, "trend line (assignment, reference id) and title of each policy state", _add_series_columns),
    Migration(3, "inventory of each scan, content-addressed per cluster, and its assignments",
              _create_inventory_tables),
    Migration(4, "overall resource compliance of each scan (distinct and non-compliant resources)",
              _add_resource_columns),
)


def applied_version(connection: Connection) -> int:
    """The schema version the database is at, changing nothing (0: not a store yet)."""
    if not inspect(connection).has_table(migrations_table.name):
        return 0
    return connection.scalar(select(func.max(migrations_table.c.version))) or 0


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
