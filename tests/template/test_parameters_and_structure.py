"""A template's parameters as ARM validates them (templates/parameters.md, data-types.md, the page's
examples with their documented rule), and malformed templates refused where they go wrong: one
TemplateError naming the file and the JSON path, never an internal error (the "templates" fuzz target
feeds many more)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.cli.main import main
from engine.inventory.generator import write_generated_fleet
from remediation.template import CompiledTemplate, TemplateError, expand_template
from template.outputs import NOW, SCOPE

BUILTINS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-builtins"

STORAGE = {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2021-01-01", "name": "store"}


def expand(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> list[Any]:
    return expand_template(CompiledTemplate.compile(template, "t.json"), parameters or {}, SCOPE, "d", now=NOW)


def named(declarations: dict[str, Any], name: str = "[string(parameters('p'))]") -> dict[str, Any]:
    """A template whose one resource reads parameter ``p`` (so its value is bound and checked)."""
    return {"parameters": declarations, "resources": [{**STORAGE, "name": name}]}


# parameters.md: "Allowed values", "Length constraints" (3-24 characters, 1-5 items), "Integer constraints" (1-12)
DEMO_ENUM = {"p": {"type": "string", "allowedValues": ["one", "two"]}}
STORAGE_NAME = {"p": {"type": "string", "minLength": 3, "maxLength": 24}}
APP_NAMES = {"p": {"type": "array", "minLength": 1, "maxLength": 5}}
MONTH = {"p": {"type": "int", "minValue": 1, "maxValue": 12}}


@pytest.mark.parametrize(("declarations", "value"), [
    (DEMO_ENUM, "one"), (DEMO_ENUM, "TWO"),  # ARM compares allowed strings ignoring case (Bicep's @allowed does not)
    (STORAGE_NAME, "abc"), (STORAGE_NAME, "a" * 24), (APP_NAMES, ["a"]), (APP_NAMES, ["a"] * 5),
    (MONTH, 1), (MONTH, 12),
    ({"p": {"type": "array", "allowedValues": ["a", "b"]}}, ["b", "a", "b"]),  # each item is one of them
    ({"p": {"type": "bool"}}, False), ({"p": {"type": "Object"}}, {"a": 1}), ({"p": {"type": "secureString"}}, "x"),
])
def test_values_the_declaration_accepts(declarations: dict[str, Any], value: Any) -> None:
    (written,) = expand(named(declarations, "store"), {"p": value})
    assert written.resource_id.endswith("/storageAccounts/store")


@pytest.mark.parametrize(("declarations", "value", "why"), [
    (DEMO_ENUM, "three", "is not one of its allowedValues"),
    (STORAGE_NAME, "ab", "is shorter than its minLength 3"),
    (STORAGE_NAME, "a" * 25, "is longer than its maxLength 24"),
    (APP_NAMES, [], "is shorter than its minLength 1"),
    (APP_NAMES, ["a"] * 6, "is longer than its maxLength 5"),
    (MONTH, 0, "is less than its minValue 1"),
    (MONTH, 13, "is greater than its maxValue 12"),
    (MONTH, "6", "is not of its type 'int'"),
    ({"p": {"type": "int"}}, True, "is not of its type 'int'"),
    ({"p": {"type": "bool"}}, "true", "is not of its type 'bool'"),
    ({"p": {"type": "array", "allowedValues": ["a", "b"]}}, ["a", "c"], "is not one of its allowedValues"),
    ({"p": {"type": "object"}}, [1], "is not of its type 'object'"),
])
def test_values_arm_refuses_when_validating(declarations: dict[str, Any], value: Any, why: str) -> None:
    """"The deployment fails during validation if a value is passed in for the parameter that isn't one of the
    allowed values"; the same for the type and the bounds."""
    with pytest.raises(TemplateError, match=f"t.json: template.parameters.p: the value of parameter 'p' {why}"):
        expand(named(declarations), {"p": value})


def test_a_default_value_is_validated_too_and_a_secure_value_is_never_shown() -> None:
    with pytest.raises(TemplateError, match="'p' is not one of its allowedValues") as refused:
        expand(named({"p": {"type": "securestring", "defaultValue": "hunter2", "allowedValues": ["a"]}}))
    assert "hunter2" not in str(refused.value)
    (written,) = expand(named({"p": {"type": "string", "defaultValue": "Contoso",
                                     "allowedValues": ["Contoso", "Fabrikam"]}}))
    assert written.resource_id.endswith("/Contoso")


@pytest.mark.parametrize(("template", "place", "message"), [
    ({"parameters": [], "resources": []}, "template.parameters", "'parameters' is an object"),
    ({"parameters": {"p": "string"}, "resources": []}, "template.parameters.p", "a parameter declaration is an object"),
    ({"parameters": {"p": {"type": 5}}, "resources": []}, "template.parameters.p.type", "a parameter's type is one of"),
    ({"parameters": {"p": {"defaultValue": 1}}, "resources": []}, "template.parameters.p.type",
     "a parameter's type is one of"),
    ({"parameters": {"p": {"type": "int", "minValue": "1"}}, "resources": []}, "template.parameters.p.minValue",
     "'minValue' is an integer"),
    ({"parameters": {"p": {"type": "string", "allowedValues": "a"}}, "resources": []},
     "template.parameters.p.allowedValues", "'allowedValues' is an array"),
    ({"variables": [1], "resources": []}, "template.variables", "'variables' is an object"),
    ({"resources": [{**STORAGE, "copy": [1]}]}, "template.resources[0].copy", "a resource's 'copy' is an object"),
    ({"resources": [{**STORAGE, "copy": {"name": 5, "count": 2}}]}, "template.resources[0].copy.name",
     "a resource's 'copy' needs a 'name' string"),
    ({"resources": [{**STORAGE, "dependsOn": "other"}]}, "template.resources[0].dependsOn", "'dependsOn' is an array"),
    ({"resources": [{**STORAGE, "type": 5}]}, "template.resources[0].type", "a resource type is a string"),
    ({"resources": [{**STORAGE, "name": ["a"]}]}, "template.resources[0].name", "a resource name is a string"),
    ({"resources": [{**STORAGE, "apiVersion": 2021}]}, "template.resources[0].apiVersion", "an apiVersion is a string"),
    ({"resources": [{**STORAGE, "condition": "[createObject()]"}]}, "template.resources[0].condition",
     "a resource's condition is true or false"),
    ({"resources": [{**STORAGE, "type": "Microsoft.Resources/deployments", "properties": [1]}]},
     "template.resources[0].properties", "a nested deployment's 'properties' is an object"),
    ({"resources": [{**STORAGE, "type": "Microsoft.Resources/deployments",
                     "properties": {"template": {"resources": []}, "expressionEvaluationOptions": "inner"}}]},
     "template.resources[0].properties.expressionEvaluationOptions", "'expressionEvaluationOptions' is an object"),
    ({"resources": [{**STORAGE, "type": "Microsoft.Resources/deployments",
                     "properties": {"template": {"resources": []}, "parameters": ["a"]}}]},
     "template.resources[0].properties.parameters", "a deployment's 'parameters' is an object"),
    ({"resources": [{**STORAGE, "type": "Microsoft.Resources/deployments",
                     "properties": {"template": {"resources": []}, "parameters": {"a": {"reference": {
                         "keyVault": "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v",
                         "secretName": "s"}}}}}]},
     "template.resources[0].properties.parameters.a.reference.keyVault", "'keyVault' is an object"),
    ({"resources": [{**STORAGE, "type": "Microsoft.Resources/deployments", "resourceGroup": 5,
                     "properties": {"template": {"resources": []}}}]},
     "template.resources[0].resourceGroup", "a nested deployment's resourceGroup is a string"),
])
def test_a_malformed_template_is_refused_naming_the_place(template: dict[str, Any], place: str, message: str) -> None:
    with pytest.raises(TemplateError) as refused:
        expand(template)
    assert refused.value.one_line().startswith(f"t.json: {place}: {message}")


@pytest.mark.parametrize(("change", "place"), [
    (lambda template: template.update(parameters=["clusterName"]), "template.parameters: 'parameters' is an object"),
    (lambda template: template["resources"][0].update(dependsOn="x"), "template.resources[0].dependsOn: 'dependsOn' is an array"),
    (lambda template: template["resources"][0].update(copy=[1]), "template.resources[0].copy: a resource's 'copy' is an object"),
])
def test_plan_refuses_a_deploy_if_not_exists_policy_with_a_malformed_template(tmp_path: Path, capsys: Any,
                                                                              change: Any, place: str) -> None:
    """Through the CLI: one error line naming the policy file and the place inside the template, exit 2, no plan."""
    definition = json.loads((BUILTINS / "ArcPolicyExtension_DINE.json").read_text())
    change(definition["properties"]["policyRule"]["then"]["details"]["deployment"]["properties"]["template"])
    policy = tmp_path / "broken.json"
    policy.write_text(json.dumps(definition))
    fleet, out = tmp_path / "fleet.json", tmp_path / "plan.json"
    write_generated_fleet(fleet, 5, seed=7)
    assert main(["plan", "--inventory", str(fleet), "--policy", str(policy), "-o", str(out)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("arcpolicy: error:")]
    assert len(errors) == 1 and str(policy) in errors[0] and place in errors[0], errors
    assert not out.exists()
