"""Regenerate engine/azure_policy/published_aliases.json from a Get-AzPolicyAlias dump.

The dump is github.com/maciejporebski/azure-policy-aliases (``aliases/<Namespace>/<type>.md``,
one ``| `default path` | `alias` |`` row per alias, refreshed daily from ``Get-AzPolicyAlias``):
    python scripts/published_aliases.py /path/to/azure-policy-aliases <commit>
Only the resource types listed below are kept: the Arc/AKS types and the other types the
Kubernetes built-ins read.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TYPES = {
    "Microsoft.Kubernetes/connectedClusters": "Microsoft.Kubernetes/connectedClusters.md",
    "Microsoft.KubernetesConfiguration/extensions": "Microsoft.KubernetesConfiguration/extensions.md",
    "Microsoft.KubernetesConfiguration/fluxConfigurations": "Microsoft.KubernetesConfiguration/fluxConfigurations.md",
    "Microsoft.KubernetesConfiguration/sourceControlConfigurations":
        "Microsoft.KubernetesConfiguration/sourceControlConfigurations.md",
    "Microsoft.KubernetesConfiguration/privateLinkScopes": "Microsoft.KubernetesConfiguration/privateLinkScopes.md",
    "Microsoft.ContainerService/managedClusters": "Microsoft.ContainerService/managedClusters.md",
    "Microsoft.ContainerService/managedClusters/agentPools": "Microsoft.ContainerService/managedClusters-agentPools.md",
    "Microsoft.Compute/virtualMachines": "Microsoft.Compute/virtualMachines.md",
    "Microsoft.Compute/virtualMachineScaleSets": "Microsoft.Compute/virtualMachineScaleSets.md",
    "Microsoft.HybridCompute/machines": "Microsoft.HybridCompute/machines.md",
    "Microsoft.ConnectedVMwarevSphere/virtualMachines": "Microsoft.ConnectedVMwarevSphere/VirtualMachines.md",
    "Microsoft.GuestConfiguration/guestConfigurationAssignments":
        "Microsoft.GuestConfiguration/guestConfigurationAssignments.md",
    "Microsoft.Insights/diagnosticSettings": "microsoft.insights/diagnosticSettings.md",
    "Microsoft.Security/assessments": "Microsoft.Security/assessments.md",
}
ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| `(?P<alias>[^`]+)` \|$")


def main(dump: Path, commit: str) -> None:
    types: dict[str, dict[str, str]] = {}
    for resource_type, file_name in TYPES.items():
        rows = (ROW.match(line) for line in (dump / "aliases" / file_name).read_text().splitlines())
        types[resource_type] = {match["alias"]: match["path"] for match in rows if match}
    document = {"source": f"Get-AzPolicyAlias, as published by github.com/maciejporebski/azure-policy-aliases "
                          f"at {commit}: alias name -> default path, per resource type",
                "types": types}
    target = Path(__file__).resolve().parents[1] / "engine" / "azure_policy" / "published_aliases.json"
    target.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
