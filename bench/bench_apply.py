"""Apply throughput against the sandbox's per-subscription write limit, across several subscriptions.

Goal (issue 7): at least 0.9 of the limit-imposed maximum. With a bucket of B writes refilled
at R per second, W writes to one subscription cannot finish before (W - B) / R seconds; the
slowest subscription sets the floor for the whole apply. The figure is that floor divided by the
measured duration of ``apply_plan`` (reads, writes, LRO polls: everything an apply does).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import ids
from engine.azure import ArmConnection, CredentialKind
from engine.inventory import Fleet, write_snapshot
from engine.inventory.generator import generate_fleet
from engine.models.kubernetes import NODE_ARCHITECTURES_TAG
from engine.sandbox import SandboxOptions, SandboxServer
from remediation.apply import ApplyOptions, apply_plan
from remediation.plan.models import Action, Operation, Plan

SUBSCRIPTIONS = int(os.environ.get("BENCH_APPLY_SUBSCRIPTIONS", "4"))
WRITES_PER_SUBSCRIPTION = int(os.environ.get("BENCH_APPLY_WRITES", "170"))
BURST, RATE = 20, 10.0  # ARM's bucket shape (200 / 10 per s) with the burst scaled down so the run is short
API = "2023-05-01"


def _fleet(subscriptions: list[str]) -> list[dict[str, Any]]:
    """Connected amd64 clusters spread round-robin over ``subscriptions`` (ids rewritten)."""
    wanted = len(subscriptions) * WRITES_PER_SUBSCRIPTION
    fleet = Fleet(generate_fleet(wanted * 2, seed=5))
    resources: list[dict[str, Any]] = []
    for cluster in fleet.clusters():
        if len(resources) >= wanted:
            break
        properties = cluster.resource.get("properties") or {}
        if not ids.same(cluster.resource["type"], ids.CONNECTED_CLUSTER_TYPE) \
                or properties.get("connectivityStatus") != "Connected" \
                or NODE_ARCHITECTURES_TAG in (cluster.resource.get("tags") or {}):
            continue
        old = ids.parse_resource_id(cluster.id).subscription_id or ""
        new = subscriptions[len(resources) % len(subscriptions)]
        resources.append({**cluster.resource, "id": cluster.id.replace(old, new, 1)})
    return resources


def _plan(clusters: list[dict[str, Any]]) -> Plan:
    """One namespace-scoped extension instance per cluster: never a conflict, always a write."""
    operations = []
    for number, cluster in enumerate(clusters, 1):
        operations.append(Operation(
            id=f"op-{number:05d}", action=Action.CREATE, api_version=API,
            resource_id=f"{cluster['id']}/providers/Microsoft.KubernetesConfiguration/extensions/gateway-bench",
            resource_type="Microsoft.KubernetesConfiguration/extensions", cluster_id=cluster["id"],
            subscription_id=ids.parse_resource_id(cluster["id"]).subscription_id,
            body={"properties": {"extensionType": "Microsoft.ApiManagement.Gateway",
                                 "scope": {"namespace": {"targetNamespace": "apim-bench"}},
                                 "configurationSettings": {"gateway.name": cluster["name"]}}}))
    return Plan(created_at=datetime.now(UTC), inventory_fingerprint="bench", operations=operations)


def run() -> dict[str, object]:
    subscriptions = [f"00000000-0000-4000-8000-{index:012d}" for index in range(1, SUBSCRIPTIONS + 1)]
    with tempfile.TemporaryDirectory() as directory:
        fleet_file = Path(directory) / "fleet.json"
        clusters = _fleet(subscriptions)
        write_snapshot(fleet_file, clusters)
        server = SandboxServer(SandboxOptions(state_dir=Path(directory) / "state", fleet=fleet_file,
                                              write_limit=f"{BURST}/{RATE:g}", provisioning_seconds=0,
                                              poll_after_seconds=0))
        endpoint = server.start()
        try:
            connection = ArmConnection(arm_endpoint=endpoint.url, ca_bundle=endpoint.ca_bundle,
                                       credential=CredentialKind.sandbox)
            plan = _plan(clusters)
            started = time.perf_counter()
            result = apply_plan(plan, connection, ApplyOptions(parallel=64, write_burst=BURST, write_rate=RATE,
                                                               verify=False),
                                journal_path=Path(directory) / "journal.sqlite")
            elapsed = time.perf_counter() - started
            stats = dict(server.sandbox.stats)
        finally:
            server.stop()
    per_subscription = Counter(operation.subscription_id for operation in plan.operations)
    floor = max((count - BURST) / RATE for count in per_subscription.values())
    return {
        "subscriptions": SUBSCRIPTIONS,
        "writes": stats.get("writes", 0),
        "write_limit": f"{BURST} burst, {RATE:g}/s per subscription",
        "succeeded": result.counts.get("succeeded", 0),
        "throttled_429": stats.get("throttled", 0),
        "apply_seconds": round(elapsed, 2),
        "limit_imposed_minimum_seconds": round(floor, 2),
        "writes_per_second": round(stats.get("writes", 0) / elapsed, 1),
        "fraction_of_limit": round(floor / elapsed, 3),
    }
