"""Scan metadata: what every output format and the history store know about a scan besides its records."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from engine import __version__


def new_scan_id(started_at: datetime | None = None) -> str:
    """A scan id users can type and sort: UTC start time plus a random suffix."""
    started_at = started_at or datetime.now(UTC)
    return f"{started_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class ScanMetadata(BaseModel):
    """When and on what a scan ran; stored with its records and shown in every report."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    scan_id: str = Field(default_factory=new_scan_id)
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    duration_seconds: float = 0.0
    inventory_source: str = ""
    policy_fingerprint: str = ""
    tool_version: str = __version__
    not_evaluated: list[str] = Field(default_factory=list)  # assigned definitions (members) left out, and why
