"""Deploying an ARM export as a pipeline would (its manifest.json's order), through the real Azure SDK clients:
azure-mgmt-resource's deployments client (azure-mgmt-resource-deployments) and its resources client for deletes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from azure.mgmt.resource.deployments import DeploymentsMgmtClient
from azure.mgmt.resource.resources import ResourceManagementClient

DEPLOYMENT_TYPE = "microsoft.resources/deployments"


def deploy_export(running: Any, directory: Path, pipeline_values: dict[str, Any] | None = None,
                  *, validate: bool = True) -> list[Any]:
    """Run every step of the export in order; returns the finished deployments (those waited for)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    kwargs = running.client_kwargs()
    finished = []
    clients: dict[str, tuple[DeploymentsMgmtClient, ResourceManagementClient]] = {}
    for step in manifest["steps"]:
        subscription = step.get("subscriptionId") or step["resourceId"].split("/")[2]
        if subscription not in clients:
            clients[subscription] = (DeploymentsMgmtClient(subscription_id=subscription, **kwargs),
                                     ResourceManagementClient(subscription_id=subscription, **kwargs))
        deployments, resources = clients[subscription]
        if step["kind"] == "delete":
            poller = resources.resources.begin_delete_by_id(step["resourceId"], api_version=step["apiVersion"],
                                                             polling_interval=0)
            if step["wait"]:
                poller.result()
            continue
        parameters = json.loads((directory / step["parameters"]).read_text())["parameters"]
        parameters.update({name: {"value": (pipeline_values or {})[name]} for name in step["pipelineParameters"]})
        body: dict[str, Any] = {"properties": {"mode": "Incremental",
                                               "template": json.loads((directory / step["template"]).read_text()),
                                               "parameters": parameters}}
        if step["scope"] == "subscription":
            body["location"] = step["location"]
            if validate:
                deployments.deployments.begin_validate_at_subscription_scope(step["name"], body).result()
            poller = deployments.deployments.begin_create_or_update_at_subscription_scope(step["name"], body,
                                                                                          polling_interval=0)
        else:
            if validate:
                deployments.deployments.begin_validate(step["resourceGroup"], step["name"], body).result()
            poller = deployments.deployments.begin_create_or_update(step["resourceGroup"], step["name"], body,
                                                                    polling_interval=0)
        if step["wait"]:
            finished.append(poller.result())
    return finished


def stored_resources(running: Any) -> dict[str, dict[str, Any]]:
    """Every resource the sandbox holds but deployments, by id (its own record, not what a client reads)."""
    sandbox = running.server.sandbox
    with sandbox.store.lock:
        sandbox.settle()
        rows = sandbox.store.select_where("1 = 1", [], "key", 10**9, 0)
    resources = {key: json.loads(body) for key, body in rows}
    return {key: resource for key, resource in resources.items() if resource["type"].lower() != DEPLOYMENT_TYPE}
