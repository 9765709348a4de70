"""ARM template semantics of the offline expansion: copy, condition, dependsOn, nesting, scope, functions."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InputError
from remediation.plan.models import REDACTED, SecretSource
from remediation.template import CompiledTemplate, DeploymentScope, expand_template
from remediation.template.values import TracedText

SUB = "00000000-0000-0000-0000-000000000001"
RG_SCOPE = DeploymentScope(SUB, "rg-a", "westeurope")


def expand(template: dict[str, Any], parameters: dict[str, Any] | None = None,
           scope: DeploymentScope = RG_SCOPE) -> list:
    return expand_template(CompiledTemplate.compile(template, "test.json"), parameters or {}, scope, "deploy-1")


def resource(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": name, **extra}


def test_copy_loop_with_copy_index_and_dependency_on_the_loop() -> None:
    written = expand({"resources": [
        resource("[concat('st', copyIndex(1))]", copy={"name": "accounts", "count": 3}),
        resource("last", dependsOn=["accounts"]),
    ]})
    names = [item.resource_id.rsplit("/", 1)[-1] for item in written]
    assert names[:3] == ["st1", "st2", "st3"] and names[3] == "last"
    assert len(written[3].depends_on) == 3


def test_property_copy_builds_an_array() -> None:
    (written,) = expand({"resources": [resource("st", properties={"copy": [
        {"name": "rules", "count": 2, "input": {"port": "[add(8000, copyIndex('rules'))]"}}]})]})
    assert written.body["properties"] == {"rules": [{"port": 8000}, {"port": 8001}]}


def test_variables_functions_and_resource_ids() -> None:
    (written,) = expand({"parameters": {"prefix": {"type": "string", "defaultValue": "App"}},
                         "variables": {"name": "[toLower(format('{0}-{1}', parameters('prefix'), 'x'))]"},
                         "resources": [resource("[variables('name')]", properties={
                             "id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sub1')]",
                             "sub": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r1')]",
                             "ext": "[extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'l')]",
                             "group": "[resourceGroup().name]",
                             "deployment": "[deployment().name]",
                             "unique": "[uniqueString(subscription().subscriptionId)]",
                             "pick": "[take(skip(split('a,b,c,d', ','), 1), 2)]",
                             "merged": "[union(createObject('a', 1), json('{\"b\": 2}'))]",
                             "fallback": "[coalesce(json('null'), 'x')]",
                         })]})
    properties = written.body["properties"]
    assert written.resource_id.endswith("/storageAccounts/app-x")
    assert properties["id"] == (f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Network/"
                                "virtualNetworks/vnet/subnets/sub1")
    assert properties["sub"] == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/r1"
    assert properties["ext"] == f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Authorization/locks/l"
    assert (properties["group"], properties["deployment"]) == ("rg-a", "deploy-1")
    assert len(properties["unique"]) == 13
    assert properties["pick"] == ["b", "c"]
    assert properties["merged"] == {"a": 1, "b": 2} and properties["fallback"] == "x"


def nested(scope: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner-deploy", **extra,
            "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": scope},
                           "parameters": {"name": {"value": "[variables('who')]"}} if scope == "inner" else {},
                           "template": {"parameters": {"name": {"type": "string"}} if scope == "inner" else {},
                                        "variables": {"who": "inner-variable"},
                                        "resources": [resource("[variables('who')]")]}}}


def test_nested_inner_scope_uses_its_own_variables_and_target_group() -> None:
    written = expand({"variables": {"who": "outer-variable"},
                      "resources": [nested("inner", resourceGroup="rg-b")]})
    assert written[0].resource_id == (f"/subscriptions/{SUB}/resourceGroups/rg-b/providers/"
                                      "Microsoft.Storage/storageAccounts/inner-variable")
    assert written[0].deployments == ("deploy-1", "inner-deploy")


def test_nested_outer_scope_sees_the_parent_variables() -> None:
    written = expand({"variables": {"who": "outer-variable"}, "resources": [nested("outer")]})
    assert written[0].resource_id.endswith("/storageAccounts/outer-variable")


def test_subscription_scope_nested_into_another_subscription_without_group_deploys_there() -> None:
    other = "00000000-0000-0000-0000-000000000009"
    written = expand({"resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
                                     "name": "x", "subscriptionId": other,
                                     "properties": {"expressionEvaluationOptions": {"scope": "inner"},
                                                    "template": {"resources": [{
                                                        "type": "Microsoft.Resources/resourceGroups",
                                                        "apiVersion": "2022-09-01", "name": "rg-new",
                                                        "location": "eastus"}]}}}]},
                     scope=DeploymentScope(SUB, None, "westeurope"))
    assert written[0].resource_id == f"/subscriptions/{other}/resourceGroups/rg-new"


def test_extension_resource_scope_by_relative_name_and_by_id() -> None:
    cluster_id = f"/subscriptions/{SUB}/resourceGroups/rg-z/providers/Microsoft.Kubernetes/connectedClusters/c1"
    written = expand({"resources": [
        {"type": "Microsoft.KubernetesConfiguration/extensions", "apiVersion": "2023-05-01", "name": "a",
         "scope": "Microsoft.Kubernetes/connectedClusters/c0", "properties": {}},
        {"type": "Microsoft.KubernetesConfiguration/extensions", "apiVersion": "2023-05-01", "name": "b",
         "scope": cluster_id, "properties": {}}]})
    assert written[0].resource_id == (f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Kubernetes/"
                                      "connectedClusters/c0/providers/Microsoft.KubernetesConfiguration/extensions/a")
    assert written[1].resource_id == f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/b"


def test_condition_false_resource_is_not_written() -> None:
    written = expand({"parameters": {"on": {"type": "bool", "defaultValue": False}},
                      "resources": [resource("a", condition="[parameters('on')]"), resource("b", dependsOn=["a"])]})
    assert [item.resource_id.rsplit("/", 1)[-1] for item in written] == ["b"]
    assert written[0].depends_on == ()


def test_dependency_cycle_in_a_template_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError, match="dependsOn cycle"):
        expand({"resources": [resource("a", dependsOn=["b"]), resource("b", dependsOn=["a"])]})


def test_unknown_dependency_and_unknown_function_are_input_errors() -> None:
    with pytest.raises(InputError, match="names no resource"):
        expand({"resources": [resource("a", dependsOn=["ghost"])]})
    with pytest.raises(InputError, match="unknown function 'nope'"):
        expand({"resources": [resource("[nope()]")]})


def test_secure_string_parameter_is_redacted_wherever_it_lands() -> None:
    source = SecretSource(path="", kind="parameter", parameter="adminPassword", policy_assignment_id="/a")
    (written,) = expand({"parameters": {"password": {"type": "secureString"}},
                         "resources": [resource("a", properties={"settings": {"pw": "[parameters('password')]"}})]},
                        {"password": TracedText("hunter2", source)})
    assert written.body["properties"]["settings"]["pw"] == REDACTED
    assert written.secret_sources[0].parameter == "adminPassword"
    assert written.secret_sources[0].path == "properties.settings.pw"
    assert "hunter2" not in repr(written)


def test_literal_protected_setting_is_redacted_with_template_origin() -> None:
    (written,) = expand({"resources": [resource("a", properties={
        "configurationProtectedSettings": {"token": "literal-secret"}})]})
    assert written.body["properties"]["configurationProtectedSettings"]["token"] == REDACTED
    assert written.secret_sources[0].kind == "template"
