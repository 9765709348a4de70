"""The options shared by the commands that read a fleet or write to ARM.

Commands that read a fleet (inventory, scan, plan) declare every inventory option at once with
:func:`fleet_source_options`, which hands them to the command as one :class:`FleetSource`; apply
and the scheduler use :func:`arm_connection` for the ARM connection alone. Commands that evaluate policies
(scan, plan) also take ``--rego-engine``/``--opa-url`` (:data:`RegoEngineOption`, :data:`OpaUrlOption`,
:func:`rego_options`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from engine.azure.options import AZURE_RESOURCE_MANAGER, CredentialKind
from engine.azure_policy.documents import DEFAULT_EXPIRY_WARNING
from engine.cli.output import say, warn
from engine.errors import InputError
from engine.evaluate import ScanRequest, load_management_groups, prepare_scan
from engine.history.urls import safe_url
from engine.inventory import Fleet, FleetStream, load_snapshot, numbered, stream_snapshot, write_snapshot

if TYPE_CHECKING:
    from engine.azure.connection import ArmConnection
    from engine.config import ScanSettings
    from engine.inventory.resource_graph import GraphScanStats
    from engine.inventory.shard import Shard

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
    str, typer.Option("--arm-endpoint", envvar="ARCPOLICY_ARM_ENDPOINT",
                      help="ARM endpoint URL (a sandbox's URL to use the sandbox).")]
CaBundleOption = Annotated[
    Path | None, typer.Option("--ca-bundle", envvar="ARCPOLICY_CA_BUNDLE",
                              help="PEM file of CA certificates to trust (a sandbox's ca.pem).")]
CredentialOption = Annotated[
    CredentialKind, typer.Option("--credential", envvar="ARCPOLICY_CREDENTIAL", help="default (DefaultAzureCredential), cli (Azure CLI login) "
                                 "or sandbox (static token, loopback endpoints only).")]
FromStoreOption = Annotated[
    str | None, typer.Option("--from-store", help="Read the inventory a stored scan evaluated from this history "
                             "store (SQLite file or SQLAlchemy URL).")]
StoreScanOption = Annotated[
    str, typer.Option("--scan", help="With --from-store: the stored scan, by id, unique prefix, latest or "
                      "latest~N.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="arcpolicy.toml with the scheduled scan's settings (policies, "
                              "assignments, inventory, store ...); command-line options override it.")]
SaveOption = Annotated[
    Path | None, typer.Option("--save", help="Also write the fleet read to this snapshot file.")]


def arm_connection(subscription: list[str] | None = None, management_group: list[str] | None = None,
                   arm_endpoint: str = AZURE_RESOURCE_MANAGER, ca_bundle: Path | None = None,
                   credential: CredentialKind = CredentialKind.default) -> ArmConnection:
    """The connection described by the shared options, validated (InputError on bad combinations)."""
    from engine.azure.connection import ArmConnection

    return ArmConnection(arm_endpoint=arm_endpoint, ca_bundle=ca_bundle, credential=credential,
                         subscriptions=subscription or [], management_groups=management_group or []).validated()


@dataclass(frozen=True)
class FleetSource:
    """Where a command reads its fleet: ``--inventory FILE`` or ``--resource-graph`` (with its connection)."""

    inventory: Path | None = None
    resource_graph: bool = False
    subscription: list[str] = field(default_factory=list)
    management_group: list[str] = field(default_factory=list)
    arm_endpoint: str = AZURE_RESOURCE_MANAGER
    ca_bundle: Path | None = None
    credential: CredentialKind = CredentialKind.default
    from_store: str | None = None
    store_scan: str = "latest"
    save: Path | None = None

    @property
    def inventory_source(self) -> str:
        """What plans and scan metadata name as the inventory: the snapshot file, ``resource-graph``, or a
        stored scan (``store URL scan ID``, the password masked)."""
        if self.from_store is not None:
            return f"store {safe_url(self.from_store)} scan {self.store_scan}"
        return str(self.inventory) if self.inventory is not None else "resource-graph"

    def resolved(self) -> FleetSource:
        """The source with a stored scan's reference (``latest``, ``latest~N``, a prefix) pinned to its id, so
        what a scan or plan records names the exact inventory it read."""
        if self.from_store is None:
            return self
        from engine.history.store import HistoryStore

        with HistoryStore(self.from_store, create=False) as store:
            return replace(self, store_scan=store.resolve(self.store_scan).scan_id)

    def configured(self, settings: ScanSettings, resource_graph: bool) -> FleetSource:
        """The source after ``--config``: the settings (command line over file) give inventory and connection."""
        return replace(self, inventory=settings.inventory, resource_graph=resource_graph,
                       subscription=list(settings.subscriptions), management_group=list(settings.management_groups),
                       arm_endpoint=settings.arm_endpoint, ca_bundle=settings.ca_bundle,
                       credential=settings.credential)

    def stream(self, defer_lines: bool = False, shard: Shard | None = None) -> FleetStream:
        """The fleet read once, to be given back a partition at a time (InputError on bad options or input, before
        anything else is done); its warnings (a resource id read twice) are known once it has been read through,
        and ``--save`` is written from its partitions (:func:`save_fleet`). ``defer_lines``: a snapshot's plain
        NDJSON lines are checked where they are parsed (:func:`stream_snapshot`; a scan, which needs no counts).
        With a ``shard``, only the resources of its subscriptions (and Resource Graph asked only about those, when
        the subscriptions are listed)."""
        source = _one_source(self.inventory, self.resource_graph, self.from_store)
        if source == "inventory":
            assert self.inventory is not None
            return stream_snapshot(self.inventory, defer_lines, keep=shard.holds if shard is not None else None)
        if source == "resource-graph":
            from engine.inventory.resource_graph import ResourceGraphSource

            subscriptions = [subscription for subscription in self.subscription
                             if shard is None or shard.holds_subscription(subscription)]
            if self.subscription and not subscriptions:
                return FleetStream(iter(()))  # none of the listed subscriptions is this shard's
            graph = ResourceGraphSource(arm_connection(subscriptions, self.management_group, self.arm_endpoint,
                                                       self.ca_bundle, self.credential))
            try:
                return FleetStream(numbered(resource for resource in graph.resources()
                                            if shard is None or shard.holds(resource)))
            finally:
                graph.close()
        fleet = stored_fleet(self.from_store or "", self.store_scan)
        return FleetStream(numbered(resource for resource in fleet.resources() if shard is None or shard.holds(resource)))

    def load(self) -> Fleet:
        """The fleet (InputError on bad options); ``--save`` also writes it as a snapshot. What reading
        it found worth saying (a resource id read twice) is printed, one line each (stderr)."""
        connection = arm_connection(self.subscription, self.management_group, self.arm_endpoint, self.ca_bundle,
                                    self.credential) if self.resource_graph else None
        fleet = load_fleet(self.inventory, self.resource_graph, connection, self.save, self.from_store,
                           self.store_scan)
        for warning in fleet.warnings:
            warn(f"warning: {warning}")
        return fleet


# FleetSource field -> (Typer annotation, default): the options :func:`fleet_source_options` declares.
_FLEET_OPTIONS: dict[str, tuple[Any, Any]] = {
    "inventory": (InventoryFile, None),
    "resource_graph": (ResourceGraphFlag, False),
    "subscription": (SubscriptionOption, None),
    "management_group": (ManagementGroupOption, None),
    "arm_endpoint": (ArmEndpointOption, AZURE_RESOURCE_MANAGER),
    "ca_bundle": (CaBundleOption, None),
    "credential": (CredentialOption, CredentialKind.default),
    "from_store": (FromStoreOption, None),
    "store_scan": (StoreScanOption, "latest"),
    "save": (SaveOption, None),
}

Command = TypeVar("Command", bound=Callable[..., Any])


def fleet_source_options(command: Command) -> Command:
    """Declare the inventory options on a Typer command, which receives them as ``source: FleetSource``.

    The options take the place of the ``source`` parameter (in ``--help`` too) and keep their parameter
    names, so ``ctx.params`` and ``ctx.get_parameter_source`` see them. Typer passes every parameter by
    keyword, so they all become keyword-only.
    """
    signature = inspect.signature(command, eval_str=True)
    parameters: list[inspect.Parameter] = []
    for name, parameter in signature.parameters.items():
        if name == "source":
            parameters.extend(inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                                default=default)
                              for option, (annotation, default) in _FLEET_OPTIONS.items())
        else:
            parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))

    @functools.wraps(command)
    def with_fleet_options(**options: Any) -> Any:
        given = {name: options.pop(name) for name in _FLEET_OPTIONS}
        given["subscription"] = given["subscription"] or []
        given["management_group"] = given["management_group"] or []
        return command(source=FleetSource(**given), **options)

    with_fleet_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return with_fleet_options  # type: ignore[return-value]


def _one_source(inventory: Path | None, resource_graph: bool, from_store: str | None) -> str:
    """Which of ``--inventory FILE``, ``--resource-graph`` and ``--from-store URL`` was given (exactly one)."""
    given = [name for name, value in (("--inventory FILE", inventory is not None), ("--resource-graph", resource_graph),
                                      ("--from-store URL", from_store is not None)) if value]
    if len(given) > 1:
        raise InputError("--inventory", f"give one of --inventory FILE, --resource-graph or --from-store URL, "
                                        f"not {' and '.join(given)}")
    if not given:
        raise typer.BadParameter("give --inventory FILE, --resource-graph or --from-store URL",
                                 param_hint="--inventory")
    return given[0].split()[0].removeprefix("--")


def load_fleet(inventory: Path | None, resource_graph: bool = False, connection: ArmConnection | None = None,
               save: Path | None = None, from_store: str | None = None, store_scan: str = "latest",
               graph_stats: GraphScanStats | None = None) -> Fleet:
    """The fleet from ``--inventory FILE``, ``--resource-graph`` or ``--from-store URL [--scan REF]``;
    ``--save`` writes it as a snapshot; what Resource Graph queries cost is added to ``graph_stats``."""
    source = _one_source(inventory, resource_graph, from_store)
    if source == "resource-graph":
        from engine.inventory.resource_graph import load_resource_graph

        fleet = load_resource_graph(connection or arm_connection(), graph_stats)
    elif source == "inventory":
        assert inventory is not None
        fleet = load_snapshot(inventory)
    else:
        fleet = stored_fleet(from_store or "", store_scan)
    if save is not None:
        count = write_snapshot(save, fleet.resources(), saved=True)
        saved(count, save)
    return fleet


def stored_fleet(url: str, scan: str) -> Fleet:
    """The inventory a stored scan evaluated (``--from-store URL --scan REF``)."""
    from engine.history.store import HistoryStore

    with HistoryStore(url, create=False) as store:
        return store.inventory(store.resolve(scan).scan_id)


def saved(count: int, path: Path) -> None:
    say(f"saved the fleet ({count} resources) to {path}")


class RegoEngineName(StrEnum):
    """``--rego-engine``: keys of the Rego library's engine registry (engine/rego/engine_kinds.py)."""

    regorus = "regorus"
    regopy = "regopy"
    opa = "opa"


DEFAULT_OPA_URL = "http://localhost:8181"

RegoEngineOption = Annotated[
    RegoEngineName, typer.Option("--rego-engine", help="Evaluate .rego policies with regorus (default, in process), "
                                 "regopy, or an OPA server (--opa-url).")]
OpaUrlOption = Annotated[
    str | None, typer.Option("--opa-url", help=f"OPA server for --rego-engine opa (default {DEFAULT_OPA_URL}).")]


StrictAliasesOption = Annotated[
    bool, typer.Option("--strict-aliases", help="Refuse Azure Policy aliases outside arcpolicy's alias table "
                       "instead of reading them by Azure's default convention (<type>/<path> -> properties.<path>).")]


ManagementGroupsOption = Annotated[
    Path | None, typer.Option("--management-groups", help="JSON map {subscriptionId: [managementGroup, ...]} for "
                                                          "management-group scopes.")]

AttestationOption = Annotated[
    list[Path] | None, typer.Option("--attestation", help="Attestation file (Microsoft.PolicyInsights/attestations): "
                                    "the states of Manual policies' resources (repeatable).")]


def azure_policy_options(strict_aliases: bool) -> dict[str, bool]:
    """The Azure Policy library's loading options (``AzurePolicyKind.load(files, strict_aliases=...)``)."""
    return {"strict_aliases": strict_aliases}


def prepare_policies(policies: list[Path], assignments: list[Path] | None, exemptions: list[Path] | None,
                     attestations: list[Path] | None, management_groups: Path | None, rego_engine: str,
                     opa_url: str | None, strict_aliases: bool,
                     expiry_warning: timedelta = DEFAULT_EXPIRY_WARNING) -> ScanRequest:
    """The policy set of ``scan``, ``plan`` and ``whatif``, compiled with its assignments, exemptions,
    attestations and management-group map (InputError on any bad input, before the fleet is read); exemptions
    and attestations expired or expiring within ``expiry_warning`` are warnings."""
    groups = load_management_groups(management_groups) if management_groups else None
    return prepare_scan(policies, assignments or [], exemptions or [], groups,
                        kind_options=policy_kind_options(rego_engine, opa_url, strict_aliases),
                        attestation_files=attestations or [], expiry_warning=expiry_warning)


def policy_kind_options(rego_engine: str, opa_url: str | None, strict_aliases: bool) -> dict[str, dict]:
    """Every policy library's loading options (``prepare_scan(kind_options=...)``), the same for each command."""
    return {"rego": rego_options(rego_engine, opa_url), "azure-policy": azure_policy_options(strict_aliases)}


def rego_options(engine: str, opa_url: str | None) -> dict[str, str]:
    """The Rego library's engine options (``RegoLibrary.load(paths, engine=..., url=...)``)."""
    if engine != RegoEngineName.opa:
        if opa_url is not None:
            raise InputError("--opa-url", "only used with --rego-engine opa", value=opa_url)
        return {"engine": str(engine)}
    return {"engine": str(engine), "url": opa_url or DEFAULT_OPA_URL}
