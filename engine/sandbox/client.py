"""A small client for the sandbox's control API (tests, demos, benchmarks)."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from engine.azure.connection import SANDBOX_TOKEN


class SandboxControl:
    """Calls ``/sandbox/*`` on a running sandbox over HTTPS, trusting its CA."""

    def __init__(self, url: str, ca_bundle: Path):
        self.url = url.rstrip("/")
        self._context = ssl.create_default_context(cafile=str(ca_bundle))

    def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/sandbox/{name}", data=data, method=method, headers={
            "Authorization": f"Bearer {SANDBOX_TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self._context) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def stats(self) -> dict[str, int]:
        return self._call("GET", "stats")

    def advance_clock(self, seconds: float) -> str:
        return self._call("POST", "clock", {"advanceSeconds": seconds})["now"]

    def set_connectivity(self, cluster_id: str, status: str) -> dict[str, Any]:
        return self._call("POST", "connectivity", {"clusterId": cluster_id, "connectivityStatus": status})

    def set_node_architectures(self, cluster_id: str, architectures: str) -> None:
        self._call("POST", "node-architectures", {"clusterId": cluster_id, "architectures": architectures})

    def inject_fault(self, **rule: Any) -> None:
        """A fault rule, e.g. ``inject_fault(status=429, retryAfter=1, count=3, target="graph")``."""
        self._call("POST", "faults", rule)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")
