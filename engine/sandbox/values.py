"""Values the sandbox makes up as Azure would: its tenant, ARM timestamps, stable generated ids."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

SANDBOX_TENANT_ID = "72f9a1b0-5e0c-4a8e-9d3c-0a7c5ad0b0b0"


def timestamp(moment: float) -> str:
    """An ARM timestamp (UTC, milliseconds) of a simulated moment."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def deterministic_uuid(*parts: str) -> str:
    """A UUID that is the same for the same parts: principal ids, customer ids, correlation ids."""
    return str(uuid.UUID(bytes=hashlib.sha256("/".join(parts).encode()).digest()[:16], version=4))
