"""The inventory and ARM connection options every command that reads a fleet or writes to ARM
declares (inventory, scan, plan, apply), and the one :func:`load_fleet` they all call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.azure import ArmConnection, CredentialKind
from engine.azure.connection import AZURE_RESOURCE_MANAGER
from engine.errors import InputError
from engine.inventory import Fleet, load_snapshot, write_snapshot
from engine.inventory.resource_graph import load_resource_graph

InventoryFile = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Snapshot file of ARM resources (JSON list, {value}, {data} or NDJSON)."),
]
ResourceGraphFlag = Annotated[
    bool, typer.Option("--resource-graph", help="Read the fleet live through Azure Resource Graph.")]
SubscriptionOption = Annotated[
    list[str] | None, typer.Option("--subscription", help="Subscription id to read (repeatable; default: all).")]
ManagementGroupOption = Annotated[
    list[str] | None, typer.Option("--management-group", help="Management group to read (repeatable).")]
ArmEndpointOption = Annotated[
    str, typer.Option("--arm-endpoint", help="ARM endpoint URL (a sandbox's URL to use the sandbox).")]
CaBundleOption = Annotated[
    Path | None, typer.Option("--ca-bundle", help="PEM file of CA certificates to trust (a sandbox's ca.pem).")]
CredentialOption = Annotated[
    CredentialKind, typer.Option("--credential", help="default (DefaultAzureCredential), cli (Azure CLI login) "
                                 "or sandbox (static token, loopback endpoints only).")]
SaveOption = Annotated[
    Path | None, typer.Option("--save", help="Also write the fleet read to this snapshot file.")]


def arm_connection(subscription: list[str] | None = None, management_group: list[str] | None = None,
                   arm_endpoint: str = AZURE_RESOURCE_MANAGER, ca_bundle: Path | None = None,
                   credential: CredentialKind = CredentialKind.default) -> ArmConnection:
    """The connection described by the shared options, validated (InputError on bad combinations)."""
    return ArmConnection(arm_endpoint=arm_endpoint, ca_bundle=ca_bundle, credential=credential,
                         subscriptions=subscription or [], management_groups=management_group or []).validated()


def load_fleet(inventory: Path | None, resource_graph: bool = False, connection: ArmConnection | None = None,
               save: Path | None = None) -> Fleet:
    """The fleet from ``--inventory FILE`` or ``--resource-graph``; ``--save`` writes it as a snapshot."""
    if inventory is not None and resource_graph:
        raise InputError("--inventory", "give either --inventory FILE or --resource-graph, not both")
    if resource_graph:
        fleet = load_resource_graph(connection or arm_connection())
    elif inventory is not None:
        fleet = load_snapshot(inventory)
    else:
        raise typer.BadParameter("give --inventory FILE or --resource-graph", param_hint="--inventory")
    if save is not None:
        write_snapshot(save, fleet.resources())
    return fleet
