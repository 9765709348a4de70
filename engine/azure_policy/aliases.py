"""Azure Policy aliases of the resource types arcpolicy evaluates, and their resolver.

An alias names a property of a resource type (``Microsoft.KubernetesConfiguration/extensions/
extensionType``); the table below maps it to the property path inside the resource's ARM JSON.
The names follow the published aliases (``Get-AzPolicyAlias``) and the REST API specs of
2023-05-01 (extensions, fluxConfigurations), 2024-01-01 (connectedClusters) and 2024-02-01
(managedClusters): for these providers an alias is ``<type>/<property path without properties.>``.

The published aliases (``published_aliases.json``: ``Get-AzPolicyAlias`` for the Arc/AKS types and
the other types the Kubernetes built-ins read, see ``scripts/published_aliases.py``) come first:
their names may differ from their paths (``sourceControlConfigurations/complianceState`` reads
``properties.complianceStatus.complianceState``), and the legacy two-segment aliases
(``Microsoft.Compute/imagePublisher``) read a different path per resource type.
:data:`API_VERSION_PATHS` holds the aliases whose path at the API versions arcpolicy reads differs
from the published default path.

An unknown alias is a load-time error, never a silently false condition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Property paths (below ``properties``) per resource type; ``[*]`` marks an array alias.
# Paths listed in MAP_PROPERTIES are free-form maps: any key below them is an alias too.
PROPERTY_PATHS: dict[str, tuple[str, ...]] = {
    "Microsoft.Kubernetes/connectedClusters": (
        "agentPublicKeyCertificate", "kubernetesVersion", "totalNodeCount", "totalCoreCount", "agentVersion",
        "provisioningState", "distribution", "distributionVersion", "infrastructure", "offering",
        "connectivityStatus", "lastConnectivityTime", "managedIdentityCertificateExpirationTime",
        "privateLinkState", "privateLinkScopeResourceId", "azureHybridBenefit", "kind",
        "miscellaneousProperties", "aadProfile", "aadProfile.enableAzureRBAC", "aadProfile.adminGroupObjectIDs",
        "aadProfile.adminGroupObjectIDs[*]", "aadProfile.tenantID", "arcAgentProfile",
        "arcAgentProfile.desiredAgentVersion", "arcAgentProfile.agentAutoUpgrade", "arcAgentProfile.agentState",
        "arcAgentProfile.systemComponents", "arcAgentProfile.systemComponents[*]",
        "arcAgentProfile.systemComponents[*].type", "arcAgentProfile.systemComponents[*].userSpecifiedVersion",
        "arcAgentProfile.systemComponents[*].majorVersion", "arcAgentProfile.systemComponents[*].currentVersion",
        "securityProfile", "securityProfile.workloadIdentity.enabled", "oidcIssuerProfile",
        "oidcIssuerProfile.enabled", "oidcIssuerProfile.issuerUrl", "gateway", "gateway.enabled",
    ),
    "Microsoft.ContainerService/managedClusters": (
        "provisioningState", "powerState", "powerState.code", "kubernetesVersion", "currentKubernetesVersion",
        "dnsPrefix", "fqdn", "privateFQDN", "nodeResourceGroup", "enableRBAC", "disableLocalAccounts",
        "supportPlan", "agentPoolProfiles", "agentPoolProfiles[*]", "agentPoolProfiles[*].name",
        "agentPoolProfiles[*].count", "agentPoolProfiles[*].vmSize", "agentPoolProfiles[*].osType",
        "agentPoolProfiles[*].osSKU", "agentPoolProfiles[*].mode", "agentPoolProfiles[*].orchestratorVersion",
        "agentPoolProfiles[*].enableAutoScaling", "agentPoolProfiles[*].enableEncryptionAtHost",
        "agentPoolProfiles[*].enableFIPS", "agentPoolProfiles[*].maxPods", "agentPoolProfiles[*].availabilityZones",
        "agentPoolProfiles[*].availabilityZones[*]", "addonProfiles", "aadProfile", "aadProfile.managed",
        "aadProfile.enableAzureRBAC", "apiServerAccessProfile", "apiServerAccessProfile.enablePrivateCluster",
        "apiServerAccessProfile.authorizedIPRanges", "apiServerAccessProfile.authorizedIPRanges[*]",
        "networkProfile", "networkProfile.networkPlugin", "networkProfile.networkPolicy",
        "networkProfile.outboundType", "autoUpgradeProfile", "autoUpgradeProfile.upgradeChannel",
        "autoUpgradeProfile.nodeOSUpgradeChannel", "securityProfile", "securityProfile.defender",
        "securityProfile.defender.securityMonitoring.enabled", "securityProfile.workloadIdentity.enabled",
        "securityProfile.imageCleaner.enabled", "oidcIssuerProfile.enabled", "storageProfile",
        "azureMonitorProfile", "azureMonitorProfile.metrics.enabled", "linuxProfile", "windowsProfile",
        "servicePrincipalProfile.clientId", "podIdentityProfile.enabled",
    ),
    "Microsoft.KubernetesConfiguration/extensions": (
        "extensionType", "autoUpgradeMinorVersion", "releaseTrain", "version", "currentVersion",
        "isSystemExtension", "provisioningState", "scope", "scope.cluster", "scope.cluster.releaseNamespace",
        "scope.namespace", "scope.namespace.targetNamespace", "configurationSettings",
        "configurationProtectedSettings", "statuses", "statuses[*]", "statuses[*].code",
        "statuses[*].displayStatus", "statuses[*].level", "statuses[*].message", "statuses[*].time",
        "errorInfo", "errorInfo.code", "errorInfo.message", "customLocationSettings", "packageUri",
        "aksAssignedIdentity", "aksAssignedIdentity.type", "plan",
    ),
    "Microsoft.KubernetesConfiguration/fluxConfigurations": (
        "scope", "namespace", "sourceKind", "suspend", "reconciliationWaitDuration", "waitForReconciliation",
        "gitRepository", "gitRepository.url", "gitRepository.timeoutInSeconds",
        "gitRepository.syncIntervalInSeconds", "gitRepository.repositoryRef", "gitRepository.repositoryRef.branch",
        "gitRepository.repositoryRef.tag", "gitRepository.repositoryRef.semver",
        "gitRepository.repositoryRef.commit", "gitRepository.sshKnownHosts", "gitRepository.httpsUser",
        "gitRepository.httpsCACert", "gitRepository.localAuthRef", "gitRepository.provider",
        "bucket", "bucket.url", "bucket.bucketName", "bucket.insecure", "bucket.timeoutInSeconds",
        "bucket.syncIntervalInSeconds", "bucket.accessKey", "bucket.localAuthRef",
        "azureBlob", "azureBlob.url", "azureBlob.containerName", "azureBlob.timeoutInSeconds",
        "azureBlob.syncIntervalInSeconds", "azureBlob.localAuthRef", "ociRepository", "ociRepository.url",
        "kustomizations", "configurationProtectedSettings", "statuses", "statuses[*]",
        "statuses[*].name", "statuses[*].namespace", "statuses[*].kind", "statuses[*].complianceState",
        "repositoryPublicKey", "sourceSyncedCommitId", "sourceUpdatedAt", "statusUpdatedAt",
        "complianceState", "provisioningState", "errorMessage",
    ),
}
MAP_PROPERTIES = frozenset({
    "Microsoft.KubernetesConfiguration/extensions/configurationSettings",
    "Microsoft.KubernetesConfiguration/extensions/configurationProtectedSettings",
    "Microsoft.KubernetesConfiguration/fluxConfigurations/kustomizations",
    "Microsoft.KubernetesConfiguration/fluxConfigurations/configurationProtectedSettings",
    "Microsoft.ContainerService/managedClusters/addonProfiles",
    "Microsoft.Kubernetes/connectedClusters/miscellaneousProperties",
})
# Published aliases whose default path is that of an older API version: the path at the API version
# arcpolicy reads (fluxConfigurations 2023-05-01 renamed gitRepository.httpsCAFile to httpsCACert).
API_VERSION_PATHS = {
    "Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.httpsCAFile":
        "properties.gitRepository.httpsCACert",
}
PUBLISHED_ALIASES = Path(__file__).with_name("published_aliases.json")
# Aliases of envelope properties that every one of these types has.
ENVELOPE_PATHS = ("identity.type", "identity.principalId", "identity.tenantId", "sku.name", "sku.tier",
                  "extendedLocation.name", "extendedLocation.type")


@dataclass(frozen=True, slots=True)
class Alias:
    """A resolved alias: its canonical name and the path of property names inside the resource.

    ``path`` holds ``"[*]"`` for every array wildcard, e.g. ``("properties", "statuses", "[*]", "code")``.
    A legacy two-segment alias (``Microsoft.Compute/imageOffer``) has a path per resource type
    (lower-case type -> path) in ``paths_by_type`` and an empty ``path``. ``versioned`` holds the paths
    the alias has at given API versions (docs "definition structure aliases": "Each alias maps to paths
    in different API versions for a given resource type"); ``path`` is its default path.
    ``modifiable`` is False for an alias no API version marks Modifiable, which a Modify operation cannot write.
    """

    name: str
    path: tuple[str, ...]
    paths_by_type: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)
    versioned: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = field(default=(), compare=False, hash=False)
    # whether a Modify operation may write it (ARM's "Modifiable" metadata at some API version); None: not known
    modifiable: bool | None = field(default=None, compare=False, hash=False)

    def path_for(self, resource_type: str) -> tuple[str, ...] | None:
        """The path in a resource of ``resource_type``; None when a legacy alias does not apply to it."""
        if not self.paths_by_type:
            return self.path
        return self.paths_by_type.get(str(resource_type).lower())

    def path_at(self, api_version: Any) -> tuple[str, ...]:
        """The path at ``api_version`` (case-insensitive); the default path when no versioned path lists it."""
        if isinstance(api_version, str):
            wanted = api_version.lower()
            for versions, path in self.versioned:
                if wanted in versions:
                    return path
        return self.path


def split_path(path: str) -> tuple[str, ...]:
    """``a.b[*].c[0]`` -> ``("a", "b", "[*]", "c", "[0]")``: ``[*]`` selects every element, ``[n]`` the element
    at ``n`` (an index, as Microsoft's conformance cases write ``ipConfigurations[0].name``)."""
    segments: list[str] = []
    for part in path.split("."):
        brackets: list[str] = []
        while (found := _TRAILING_INDEX.search(part)) is not None:
            brackets.append(found.group(0))
            part = part[:found.start()]
        if part:
            segments.append(part)
        segments.extend(reversed(brackets))
    return tuple(segments)


_TRAILING_INDEX = re.compile(r"\[(?:\*|\d+)\]$")


def _build_table() -> dict[str, Alias]:
    table: dict[str, Alias] = {}
    for resource_type, paths in PROPERTY_PATHS.items():
        for path in paths:
            name = f"{resource_type}/{path}"
            table[name.lower()] = Alias(name, ("properties", *split_path(path)))
        for path in ENVELOPE_PATHS:
            name = f"{resource_type}/{path}"
            table[name.lower()] = Alias(name, split_path(path))
    published = json.loads(PUBLISHED_ALIASES.read_text())["types"]
    for resource_type, aliases in published.items():
        for name, path in aliases.items():
            split = split_path(API_VERSION_PATHS.get(name, path))
            if name.count("/") > 1:
                table[name.lower()] = Alias(name, split)
                continue
            legacy = table.setdefault(name.lower(), Alias(name, ()))
            legacy.paths_by_type[resource_type.lower()] = split
    return table


ALIASES: dict[str, Alias] = _build_table()
MAP_PREFIXES = tuple(sorted((name.lower() for name in MAP_PROPERTIES), key=len, reverse=True))


@dataclass(frozen=True, eq=False)
class AliasTable:
    """The aliases a policy's fields resolve against: alias name (lower-case) -> :class:`Alias`.

    ``map_prefixes`` are the (lower-case) aliases of free-form maps, below which any key is an alias too;
    ``fallback`` reads a name the table lacks (arcpolicy's table: Azure's default convention, see
    :mod:`engine.azure_policy.alias_inference`); without one such a name is an unknown alias. Compared by
    identity: compiled fields are cached per table.
    """

    aliases: Mapping[str, Alias]
    map_prefixes: tuple[str, ...] = ()
    fallback: Callable[[str], Alias | None] | None = None

    def resolve(self, name: str) -> Alias | None:
        """The alias called ``name`` (case-insensitive), or None when the table has no such alias.

        Keys under a map property resolve too: ``.../configurationSettings.logLevel`` or
        ``.../configurationSettings['log.level']`` read one setting.
        """
        lowered = name.lower()
        alias = self.aliases.get(lowered)
        if alias is not None:
            return alias
        for prefix in self.map_prefixes:
            if lowered.startswith(prefix) and len(name) > len(prefix) and name[len(prefix)] in ".[":
                key = name[len(prefix):]
                key = key[2:-2] if key.startswith("['") and key.endswith("']") else key[1:]
                if not key:
                    return None
                base = self.aliases[prefix]
                return Alias(name, (*base.path, key))
        return None


def resolve_alias(name: str) -> Alias | None:
    """The alias called ``name`` in arcpolicy's table (case-insensitive), or None when there is no such alias."""
    return ARCPOLICY_TABLE.resolve(name)


ARCPOLICY_TABLE = AliasTable(ALIASES, MAP_PREFIXES)  # without inference: see fields.DEFAULT_ALIASES
