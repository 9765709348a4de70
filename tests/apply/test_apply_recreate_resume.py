"""An extension re-creation (delete, then create) killed between its delete and its create: ``--resume``
completes it from the journal. Real processes (kill -9), the real SDK clients, the sandbox over HTTPS."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from engine import ids
from engine.cli.main import main
from engine.inventory import Fleet, write_snapshot
from engine.sandbox.protected import protected_setting_digests
from remediation.plan.models import Action, Operation, OperationStatus, Plan, Reason, SecretSource

from .plans import API, POLICY_ASSIGNMENT

SUBSCRIPTION = "00000000-0000-0000-0000-00000000abcd"
CLUSTER = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-r/providers/Microsoft.Kubernetes/connectedClusters/c1"
EXTENSION = f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/monitor"
EXTENSION_TYPE = "Microsoft.KubernetesConfiguration/extensions"
PROXY_PASSWORD = "hunter2-recreated"  # an assignment's secure parameter: written to ARM, never journaled


def expired_fleet() -> list[dict]:
    """A connected cluster whose monitoring extension failed: its protected settings expired while it was away."""
    cluster = {"id": CLUSTER, "name": "c1", "type": "Microsoft.Kubernetes/connectedClusters", "location": "eastus",
               "tags": {}, "properties": {"distribution": "k3s", "connectivityStatus": "Connected",
                                          "provisioningState": "Succeeded", "kubernetesVersion": "1.30.4"}}
    extension = {"id": EXTENSION, "name": "monitor", "type": EXTENSION_TYPE, "properties": {
        "extensionType": "microsoft.azuremonitor.containers", "autoUpgradeMinorVersion": True,
        "releaseTrain": "Stable", "scope": {"cluster": {"releaseNamespace": "kube-system"}},
        "configurationSettings": {"logsEnabled": "true"}, "provisioningState": "Failed",
        "errorInfo": {"code": "ProtectedSettingsExpired", "message": "protected settings are no longer available"}}}
    return [cluster, extension]


def update_plan(fleet: Fleet) -> Plan:
    body = {"properties": {"configurationSettings": {"amalogs.useAADAuth": "true"},
                           "configurationProtectedSettings": {"proxy.password": "<redacted>"}}}
    password = SecretSource(path="properties.configurationProtectedSettings.proxy.password", kind="parameter",
                            parameter="proxyPassword", policy_assignment_id=POLICY_ASSIGNMENT)
    operation = Operation(id="op-00001", action=Action.UPDATE, resource_id=EXTENSION, resource_type=EXTENSION_TYPE,
                          api_version=API, body=body, status=OperationStatus.PLANNED, cluster_id=CLUSTER,
                          subscription_id=SUBSCRIPTION, secret_sources=[password],
                          reasons=[Reason(policy_assignment_id=POLICY_ASSIGNMENT, evaluated_resource_id=CLUSTER)])
    return Plan(created_at=datetime(2026, 11, 2, tzinfo=UTC), inventory_fingerprint=fleet.fingerprint(),
                operations=[operation], waves=[])


def stored(running) -> dict | None:
    running.server.sandbox.settle()
    with running.server.sandbox.store.lock:
        return running.server.sandbox.store.get(EXTENSION)


def test_resume_creates_an_extension_whose_re_creation_was_killed_after_its_delete(sandbox_factory, tmp_path):
    fleet_file = tmp_path / "fleet.json"
    write_snapshot(fleet_file, expired_fleet())
    running = sandbox_factory(fleet=fleet_file, provisioning_seconds=3600)  # the delete runs until the clock moves
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(update_plan(Fleet(expired_fleet())).to_json()))
    journal = tmp_path / "journal.sqlite"
    secrets = tmp_path / "assignment.json"
    secrets.write_text(json.dumps({"id": POLICY_ASSIGNMENT, "properties": {
        "parameters": {"proxyPassword": {"value": PROXY_PASSWORD}}}}))
    connection = ["--arm-endpoint", running.url, "--ca-bundle", str(running.endpoint.ca_bundle),
                  "--credential", "sandbox", "--journal", str(journal), "--secrets", str(secrets)]
    process = subprocess.Popen([sys.executable, "-m", "engine", "apply", str(plan_file), *connection, "-o",
                                str(tmp_path / "first.json")], cwd=Path(__file__).resolve().parents[2],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while ((stored(running) or {}).get("properties") or {}).get("provisioningState") != "Deleting":
            assert process.poll() is None and time.monotonic() < deadline, "apply ended before its delete"
            time.sleep(0.05)
        time.sleep(0.3)  # the delete was accepted; apply polls it
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert running.control.stats()["writes"] == 1 and not (tmp_path / "first.json").exists()
    with sqlite3.connect(journal) as db:
        (state, body), = db.execute("SELECT state, body FROM operations").fetchall()
    assert state == "recreating" and "configurationProtectedSettings" not in body
    assert json.loads(body)["properties"]["extensionType"] == "microsoft.azuremonitor.containers"

    # resumed while ARM still deletes it: nothing written, and the re-creation stays journaled
    assert main(["apply", str(plan_file), *connection, "--resume", "-o", str(tmp_path / "second.json")]) == 0
    (second,) = json.loads((tmp_path / "second.json").read_text())["operations"]
    assert second["state"] == "waiting" and running.control.stats()["writes"] == 1

    running.control.advance_clock(3601)  # the delete completes: the target is gone, the operation an update
    assert stored(running) is None
    sandbox = running.server.sandbox
    sandbox.options = sandbox.options.model_copy(update={"provisioning_seconds": 0})  # the create settles at once
    assert main(["apply", str(plan_file), *connection, "--resume", "-o", str(tmp_path / "third.json")]) == 0
    (third,) = json.loads((tmp_path / "third.json").read_text())["operations"]
    assert third["state"] == "succeeded", third
    assert running.control.stats()["writes"] == 2  # the delete, then the create: nothing twice
    properties = stored(running)["properties"]
    assert properties["extensionType"] == "microsoft.azuremonitor.containers"
    assert properties["configurationSettings"] == {"logsEnabled": "true", "amalogs.useAADAuth": "true"}
    assert properties["provisioningState"] == "Succeeded" and not properties.get("errorInfo")
    with running.server.sandbox.store.lock:
        digests = protected_setting_digests(running.server.sandbox, EXTENSION)
    assert digests == {"proxy.password": hashlib.sha256(PROXY_PASSWORD.encode()).hexdigest()}  # derived again
    assert ids.same(stored(running)["id"], EXTENSION)
    for path in tmp_path.glob("journal.sqlite*"):  # the journal and its write-ahead log
        assert PROXY_PASSWORD.encode() not in path.read_bytes()
