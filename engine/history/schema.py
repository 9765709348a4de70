"""The history store's tables and their migrations, applied in order on open.

A migration is a numbered step; ``schema_migrations`` records the steps a database has had,
so a newer arcpolicy upgrades an older store in place (SQLite file or PostgreSQL alike).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
)

metadata = MetaData()

migrations_table = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", DateTime(), nullable=False),
)

scans = Table(
    "scans", metadata,
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
)

policy_states = Table(
    "policy_states", metadata,
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
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    upgrade: Callable[[Connection], None]


def _create_v1(connection: Connection) -> None:
    scans.create(connection)
    policy_states.create(connection)


MIGRATIONS = (
    Migration(1, "scans and policy states", _create_v1),
)


def migrate(connection: Connection) -> int:
    """Apply every migration the database has not had; returns the schema version."""
    if not inspect(connection).has_table(migrations_table.name):
        migrations_table.create(connection)
    applied = set(connection.scalars(select(migrations_table.c.version)))
    for migration in MIGRATIONS:
        if migration.version not in applied:
            migration.upgrade(connection)
            connection.execute(insert(migrations_table).values(
                version=migration.version, description=migration.description, applied_at=datetime.now(UTC)))
    return MIGRATIONS[-1].version
