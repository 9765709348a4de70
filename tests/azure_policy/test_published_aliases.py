"""The Arc/AKS alias table follows what Azure publishes (Get-AzPolicyAlias, see
engine/azure_policy/published_aliases.json): names that differ from their paths, legacy
two-segment aliases, ``fullName``, and every alias Microsoft's corpus uses for these types."""

from __future__ import annotations

import json

import pytest
from template.corpus import CORPUS, fields_read

from engine.azure_policy.aliases import resolve_alias
from engine.azure_policy.documents import PolicyDefinition
from engine.azure_policy.fields import MISSING, compile_field
from engine.azure_policy.policy import compile_policy

from .builders import cluster, flux_configuration, matches

ARC_AKS_TYPES = ("Microsoft.Kubernetes/", "Microsoft.KubernetesConfiguration/", "Microsoft.ContainerService/")


def _read(name: str, resource: dict) -> object:
    return compile_field(name).get(resource, {})


def _corpus_arc_aks_aliases() -> dict[str, str]:
    """Alias -> a definition using it, over every corpus definition, for the Arc/AKS types."""
    found: dict[str, str] = {}
    for path in sorted(CORPUS.rglob("*.json")):
        text = path.read_text()
        if not any(prefix in text for prefix in ARC_AKS_TYPES):
            continue
        rule = json.loads(text).get("properties", {}).get("policyRule", {})
        for name in fields_read(rule):
            if name.startswith(ARC_AKS_TYPES):
                found.setdefault(name, path.name)
    return found


def test_every_arc_aks_alias_of_the_corpus_is_in_the_table() -> None:
    used = _corpus_arc_aks_aliases()
    assert len(used) >= 60  # 66 in release 3.2026.0417.1, GitOps v1 (sourceControlConfigurations) included
    assert any("sourceControlConfigurations/" in name for name in used)
    missing = {name: where for name, where in used.items() if resolve_alias(name) is None}
    assert missing == {}


def test_flux_https_ca_file_reads_the_rest_property_https_ca_cert() -> None:
    flux = flux_configuration(cluster("c"), httpsCACert="LS0tLS1CRUdJTi...")
    assert _read("Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.httpsCAFile",
                 flux) == "LS0tLS1CRUdJTi..."
    assert _read("Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.httpsCACert",
                 flux) == "LS0tLS1CRUdJTi..."


def test_gitops_v1_aliases_whose_names_differ_from_their_paths() -> None:
    owner = cluster("c")
    configuration = {
        "id": f"{owner['id']}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/v1",
        "name": "v1", "type": "Microsoft.KubernetesConfiguration/sourceControlConfigurations",
        "properties": {"repositoryUrl": "git@github.com:contoso/v1.git", "enableHelmOperator": True,
                       "helmOperatorProperties": {"chartVersion": "1.4.0"},
                       "complianceStatus": {"complianceState": "Installed"}}}
    prefix = "Microsoft.KubernetesConfiguration/sourceControlConfigurations/"
    assert _read(prefix + "complianceState", configuration) == "Installed"
    assert _read(prefix + "complianceStatus.complianceState", configuration) == "Installed"
    assert _read(prefix + "helmOperatorProperties.chartVersion", configuration) == "1.4.0"
    assert _read(prefix + "enableHelmOperator", configuration) is True


def test_managed_cluster_published_aliases() -> None:
    aks = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/a",
           "name": "a", "type": "Microsoft.ContainerService/managedClusters",
           "properties": {"diskEncryptionSetID": "/des/1", "apiServerAccessProfile": {"authorizedIPRanges": ["1.2.3.4"]},
                          "securityProfile": {"defender": {"securityMonitoring": {"enabled": True}}}}}
    prefix = "Microsoft.ContainerService/managedClusters/"
    assert _read(prefix + "diskEncryptionSetID", aks) == "/des/1"
    assert _read(prefix + "apiServerAuthorizedIPRanges[*]", aks) == ["1.2.3.4"]
    assert _read(prefix + "securityProfile.azureDefender.enabled", aks) is True


def test_legacy_two_segment_aliases_read_the_path_of_the_resource_type() -> None:
    image = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts"}
    vm = {"type": "Microsoft.Compute/virtualMachines", "properties": {"storageProfile": {"imageReference": image}}}
    scale_set = {"type": "Microsoft.Compute/virtualMachineScaleSets",
                 "properties": {"virtualMachineProfile": {"storageProfile": {"imageReference": image}}}}
    machine = {"type": "Microsoft.HybridCompute/machines", "properties": {"osName": "linux"}}
    assert _read("Microsoft.Compute/imagePublisher", vm) == "Canonical"
    assert _read("Microsoft.Compute/imageOffer", scale_set) == "ubuntu-24_04-lts"
    assert _read("Microsoft.HybridCompute/imageOffer", machine) == "linux"
    assert _read("Microsoft.Compute/imagePublisher", machine) is MISSING
    assert matches({"field": "Microsoft.Compute/imagePublisher", "equals": "canonical"}, vm)


@pytest.mark.parametrize("condition_field", ["fullName", "FULLNAME"])
def test_full_name_is_prefixed_by_the_parent_names(condition_field: str) -> None:
    database = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/server/databases/db",
                "name": "db", "type": "Microsoft.Sql/servers/databases"}
    extension = {"id": cluster("c")["id"] + "/providers/Microsoft.KubernetesConfiguration/extensions/flux",
                 "name": "flux", "type": "Microsoft.KubernetesConfiguration/extensions"}
    assert _read(condition_field, database) == "server/db"
    assert _read(condition_field, extension) == "flux"  # an extension resource's scope is not a parent
    assert matches({"field": condition_field, "equals": "server/db"}, database)
    assert not matches({"field": "name", "equals": "server/db"}, database)


def test_flux_builtins_reading_https_ca_file_compile() -> None:
    readers = [path for path in sorted(CORPUS.rglob("*.json")) if "gitRepository.httpsCAFile" in path.read_text()]
    assert len(readers) == 4
    for path in readers:
        document = json.loads(path.read_text())
        properties = document["properties"]
        definition = PolicyDefinition.model_validate({**properties, "id": document["id"], "name": document["name"],
                                                      "source": str(path)})
        parameters = {name: declared.get("defaultValue", "placeholder")
                      for name, declared in properties.get("parameters", {}).items()}
        assert compile_policy(definition, parameters, {"assignmentId": "/a", "definitionId": "/d",
                                                       "setDefinitionId": "", "definitionReferenceId": ""})
