"""Aliases outside the explicit table: read by Azure's default convention, warned once, or refused.

Convention (issue 12; most published aliases have defaultPath ``properties.<path>``): ``<type>/<path>``
reads ``properties.<path>``; ``sku``, ``identity``, ``zones`` ... read the envelope. Types with an
explicit table (connectedClusters, managedClusters, extensions, fluxConfigurations) never infer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.azure_policy.fields import FieldError, compile_field
from engine.cli.main import main

from .builders import NOW, audit_rule, cluster, write_json

STORAGE = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1",
           "name": "sa1", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
           "sku": {"name": "Standard_LRS"},
           "properties": {"networkAcls": {"defaultAction": "Allow", "ipRules": [{"value": "1.2.3.4"}]},
                          "minimumTlsVersion": "TLS1_0"}}


@pytest.mark.parametrize(("alias", "path"), [
    ("Microsoft.Storage/storageAccounts/networkAcls.defaultAction", ("properties", "networkAcls", "defaultAction")),
    ("Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value",
     ("properties", "networkAcls", "ipRules", "[*]", "value")),
    ("Microsoft.Compute/disks/sku.name", ("sku", "name")),
    ("Microsoft.Cache/Redis/zones[*]", ("zones", "[*]")),
    ("Microsoft.Sql/servers/databases/requestedServiceObjectiveName",  # a child type: the path is after the last /
     ("properties", "requestedServiceObjectiveName")),
])
def test_unknown_alias_of_an_untabled_type_reads_by_the_default_convention(alias: str, path: tuple) -> None:
    reference = compile_field(alias)
    assert reference.inferred and reference.alias is not None and reference.alias.path == path


@pytest.mark.parametrize("name", [
    "Microsoft.Kubernetes/connectedClusters/notAnAlias",  # the explicit table is authoritative for its types
    "Microsoft.KubernetesConfiguration/extensions/bogus",
    "nonsense/thing",  # no namespace
])
def test_names_that_are_not_inferred_stay_errors(name: str) -> None:
    with pytest.raises(FieldError, match="unknown field or alias"):
        compile_field(name)


def test_strict_refuses_an_alias_it_would_have_inferred() -> None:
    with pytest.raises(FieldError, match="--strict-aliases"):
        compile_field("Microsoft.Storage/storageAccounts/minimumTlsVersion", infer=False)
    assert not compile_field("Microsoft.Kubernetes/connectedClusters/distribution", infer=False).inferred


def test_inferred_alias_evaluates_and_is_listed_on_the_policy() -> None:
    policy = audit_rule({"allOf": [
        {"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
        {"field": "Microsoft.Storage/storageAccounts/minimumTlsVersion", "notEquals": "TLS1_2"},
        {"count": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]",
                   "where": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value",
                             "equals": "1.2.3.4"}}, "equals": 1}]})
    _, outcome = policy.evaluate(STORAGE, {}, NOW)
    assert outcome.compliant is False
    assert policy.inferred_aliases == {
        "Microsoft.Storage/storageAccounts/minimumTlsVersion": "properties.minimumTlsVersion",
        "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]": "properties.networkAcls.ipRules[*]",
        "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value": "properties.networkAcls.ipRules[*].value"}


UNTABLED = {"policyRule": {"if": {"allOf": [
    {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
    {"field": "Microsoft.Contoso/widgets/color", "exists": "false"},
    {"not": {"field": "Microsoft.Contoso/widgets/color", "equals": "red"}}]}, "then": {"effect": "audit"}}}


def test_scan_warns_once_per_inferred_alias_and_strict_refuses(tmp_path: Path, capsys) -> None:
    fleet = write_json(tmp_path / "fleet.json", [cluster("c1")])
    policy = write_json(tmp_path / "widgets.json", UNTABLED)
    out = tmp_path / "states.json"
    assert main(["scan", "-i", str(fleet), "-p", str(policy), "-o", str(out)]) == 1
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {policy}: alias 'Microsoft.Contoso/widgets/color' is not in arcpolicy's alias "
                        "table; read as properties.color by Azure's default convention (--strict-aliases refuses it)"]
    out.unlink()

    assert main(["scan", "-i", str(fleet), "-p", str(policy), "-o", str(out), "--strict-aliases"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(policy) in error and "policyRule.if.allOf[1].field" in error
    assert "--strict-aliases" in error and not out.exists()

    config = tmp_path / "arcpolicy.toml"
    config.write_text(f'[scan]\ninventory = "{fleet}"\npolicies = ["{policy}"]\nstrict_aliases = true\n')
    assert main(["scan", "--config", str(config), "-o", str(out)]) == 2
    assert "--strict-aliases" in capsys.readouterr().err and not out.exists()


def test_plan_takes_strict_aliases(tmp_path: Path, capsys) -> None:
    fleet = write_json(tmp_path / "fleet.json", [cluster("c1")])
    policy = write_json(tmp_path / "widgets.json", UNTABLED)
    plan = tmp_path / "plan.json"
    assert main(["plan", "-i", str(fleet), "-p", str(policy), "-o", str(plan), "--strict-aliases"]) == 2
    assert "--strict-aliases" in capsys.readouterr().err and not plan.exists()
    assert main(["plan", "-i", str(fleet), "-p", str(policy), "-o", str(plan)]) == 0
    assert "warning:" in capsys.readouterr().err and plan.exists()
