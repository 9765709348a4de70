"""Deferred values and secrets through functions, outer/inner nested scope, variable copy loops.

Examples follow the ARM docs (template functions reference, "ARM template functions in deployment
scopes", "Variable iteration in ARM templates").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.errors import InputError
from remediation.plan.models import REDACTED, SecretSource
from remediation.template import CompiledTemplate, DeploymentScope, expand_template
from remediation.template.values import TracedText

SUB = "00000000-0000-0000-0000-000000000001"
WS = f"/subscriptions/{SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law"
KV = f"/subscriptions/{SUB}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kv"
PARENT = DeploymentScope(SUB, "parentGroup", "southcentralus")
PASSWORD = SecretSource(path="", kind="parameter", parameter="adminPassword", policy_assignment_id="/a/1")


def expand(template: dict[str, Any], parameters: dict[str, Any] | None = None,
           values: dict[str, dict[str, Any]] | None = None) -> list:
    return expand_template(CompiledTemplate.compile(template, "t.json"), parameters or {}, PARENT, "deploy-1",
                           template_values=values)


def extension(properties: dict[str, Any], name: str = "ext", **extra: Any) -> dict[str, Any]:
    return {"type": "Microsoft.KubernetesConfiguration/extensions", "apiVersion": "2023-05-01", "name": name,
            "scope": "Microsoft.Kubernetes/connectedClusters/c1", "properties": properties, **extra}


WS_TEMPLATE = {"parameters": {"ws": {"type": "string", "defaultValue": WS}}}


# ---- deferred values used inside other functions -------------------------------------------------
def test_reference_inside_concat_stays_deferred_with_a_residual_apply_evaluates() -> None:
    text = "[concat(reference(parameters('ws'), '2015-03-20').customerId, '-x')]"
    (written,) = expand({**WS_TEMPLATE, "resources": [extension({"configurationSettings": {"id": text}})]})
    assert written.body["properties"]["configurationSettings"]["id"] == f"<deferred: {text}>"
    (value,) = written.deferred_values
    assert value.path == "properties.configurationSettings.id" and value.expression == text
    assert value.residual == f"[concat(reference('{WS}', '2015-03-20').customerId, '-x')]"
    assert (value.function, value.resource_id, value.reads, value.property_path) == ("reference", WS, [WS], None)


def test_list_keys_inside_create_object_under_protected_settings_is_a_deferred_secret() -> None:
    text = "[createObject('key', listKeys(parameters('ws'), '2015-03-20').primarySharedKey, 'n', 1)]"
    (written,) = expand({**WS_TEMPLATE, "resources": [extension({"configurationProtectedSettings": {"c": text}})]})
    assert written.body["properties"]["configurationProtectedSettings"]["c"] == REDACTED
    (secret,) = written.secret_sources
    assert secret.kind == "deferred" and secret.deferred is not None
    assert secret.deferred.residual == f"[createObject('key', listKeys('{WS}', '2015-03-20').primarySharedKey, 'n', 1)]"


def test_if_on_a_deferred_condition_defers_the_whole_choice() -> None:
    text = "[if(empty(reference(parameters('ws'), '2015-03-20').customerId), 'none', parameters('ws'))]"
    (written,) = expand({**WS_TEMPLATE, "resources": [extension({"x": text})]})
    assert written.deferred_values[0].residual == (
        f"[if(empty(reference('{WS}', '2015-03-20').customerId), 'none', '{WS}')]")


def test_deferred_values_through_variables_indexes_and_full_references() -> None:
    (written,) = expand({**WS_TEMPLATE, "variables": {"ws": "[reference(parameters('ws'), '2015-03-20', 'Full')]"},
                         "resources": [extension({"loc": "[variables('ws').location]",
                                                  "first": "[reference(parameters('ws')).sku[0]]",
                                                  "plain": "[reference(parameters('ws')).customerId]"})]})
    by_path = {value.path: value for value in written.deferred_values}
    assert by_path["properties.loc"].residual == f"[reference('{WS}', '2015-03-20', 'Full').location]"
    assert by_path["properties.first"].residual == f"[reference('{WS}').sku[0]]"
    plain = by_path["properties.plain"]  # a bare call keeps the plan's simple form
    assert (plain.residual, plain.property_path, plain.api_version) == (None, "customerId", None)


def test_other_list_functions_are_deferred_too() -> None:
    (written,) = expand({**WS_TEMPLATE, "resources": [extension({"configurationProtectedSettings": {
        "s": "[listSecrets(parameters('ws'), '2020-01-01').value]"}})]})
    (secret,) = written.secret_sources
    assert (secret.deferred.function, secret.deferred.property_path) == ("listSecrets", "value")


def test_deferred_values_where_the_plan_needs_them_are_errors_naming_file_path_and_expression() -> None:
    with pytest.raises(InputError) as caught:
        expand({**WS_TEMPLATE, "resources": [extension({}, name="[reference(parameters('ws')).name]")]})
    line = caught.value.one_line()
    assert line.startswith("t.json: template.resources[0].name: ")
    assert "only known at apply time" in line and "[reference(parameters('ws')).name]" in line
    with pytest.raises(InputError, match="only known at apply time"):
        expand({**WS_TEMPLATE, "resources": [extension({"x": "[resourceId('Microsoft.A/b', reference("
                                                              "parameters('ws')).name)]"})]})
    with pytest.raises(InputError, match=r"resources\[0\].condition"):
        expand({**WS_TEMPLATE, "resources": [extension({}, condition="[empty(reference(parameters('ws')).x)]")]})


# ---- nested deployments: outer and inner expression scope ------------------------------------------
def _nested(scope: str | None) -> dict[str, Any]:
    """The docs' crossresourcegroupproperties example: a nested deployment into inlineGroup."""
    properties: dict[str, Any] = {"mode": "Incremental", "template": {"resources": [{
        "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "st",
        "properties": {"rg": "[resourceGroup().name]", "sub": "[subscription().subscriptionId]",
                       "id": "[resourceId('Microsoft.Network/virtualNetworks', 'v')]"}}]}}
    if scope is not None:
        properties["expressionEvaluationOptions"] = {"scope": scope}
    return {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": f"n-{scope}",
            "resourceGroup": "inlineGroup", "properties": properties}


def test_outer_scope_resolves_scope_functions_to_the_parent_but_deploys_into_the_nested_group() -> None:
    default, outer, inner = expand({"resources": [_nested(None), _nested("outer"), _nested("inner")]})
    for written in (default, outer):
        assert "/resourceGroups/inlineGroup/providers/Microsoft.Storage/" in written.resource_id
        assert written.body["properties"]["rg"] == "parentGroup"
        assert "/resourceGroups/parentGroup/" in written.body["properties"]["id"]
    assert "/resourceGroups/inlineGroup/" in inner.resource_id
    assert inner.body["properties"]["rg"] == "inlineGroup"
    assert "/resourceGroups/inlineGroup/" in inner.body["properties"]["id"]


def test_outer_scope_in_another_subscription_keeps_the_parent_subscription_for_functions() -> None:
    other = "00000000-0000-0000-0000-000000000009"
    nested = _nested("outer") | {"subscriptionId": other}
    (written,) = expand({"resources": [nested]})
    assert written.resource_id.startswith(f"/subscriptions/{other}/resourceGroups/inlineGroup/")
    assert written.body["properties"]["sub"] == SUB


# ---- secret taint ---------------------------------------------------------------------------------
SECURE = {"parameters": {"password": {"type": "secureString"}, "settings": {"type": "secureObject"}}}


def test_secure_string_through_functions_is_redacted_wherever_it_lands_and_re_derived_from_the_template() -> None:
    values: dict[str, dict[str, Any]] = {}
    (written,) = expand({**SECURE, "resources": [extension({
        "concat": "[concat('pw=', parameters('password'))]",
        "format": "[format('{0}:{1}', 'user', parameters('password'))]",
        "object": "[createObject('pw', parameters('password'), 'n', 1)]",
        "length": "[length(parameters('password'))]",
        "same": "[coalesce(parameters('password'))]",
        "chosen": "[if(empty(parameters('password')), 'none', 'set')]",
        "upper": "[toUpper(parameters('password'))]",
        "public": "[concat('a', 'b')]"})], "parameters": SECURE["parameters"] | {
        "settings": {"type": "secureObject", "defaultValue": {}}}},
        {"password": TracedText("hunter2", PASSWORD)}, values)
    body = written.body["properties"]
    assert "hunter2" not in json.dumps(body) and "HUNTER2" not in json.dumps(body)
    assert body["public"] == "ab" and body["object"]["n"] == REDACTED
    for key in ("concat", "format", "length", "chosen", "upper"):
        assert body[key] == REDACTED, key
    sources = {source.path: source for source in written.secret_sources}
    assert sources["properties.same"].kind == "parameter"  # the value itself: apply sets the parameter
    assert sources["properties.concat"].kind == "template"
    assert sources["properties.concat"].policy_assignment_id == "/a/1"
    assert sources["properties.object.pw"].kind == "parameter"
    clear = next(iter(values.values()))
    assert clear["properties.concat"] == "pw=hunter2" and clear["properties.format"] == "user:hunter2"
    assert clear["properties.length"] == 7 and clear["properties.chosen"] == "set"


def test_secure_object_members_and_unions_are_secret() -> None:
    values: dict[str, dict[str, Any]] = {}
    (written,) = expand({**SECURE, "resources": [extension({
        "merged": "[union(parameters('settings'), createObject('extra', 'x'))]",
        "token": "[parameters('settings').token]"})]},
        {"password": "p", "settings": {"token": "tok-1", "port": 8080}}, values)
    body = written.body["properties"]
    assert body == {"merged": {"token": REDACTED, "port": REDACTED, "extra": REDACTED}, "token": REDACTED}
    assert {source.kind for source in written.secret_sources} == {"template"}
    assert next(iter(values.values()))["properties.merged.port"] == 8080


def test_secrets_where_the_plan_would_show_them_are_errors() -> None:
    with pytest.raises(InputError, match="computed from a secret"):
        expand({**SECURE, "resources": [extension({}, name="[concat('x', parameters('password'))]")]},
               {"password": "p", "settings": {}})
    with pytest.raises(InputError, match="secret cannot be combined"):
        expand({**SECURE, **WS_TEMPLATE, "parameters": SECURE["parameters"] | WS_TEMPLATE["parameters"],
                "resources": [extension({"x": "[concat(parameters('password'), reference(parameters('ws')).k)]"})]},
               {"password": "p", "settings": {}})
    with pytest.raises(InputError) as caught:
        expand({**SECURE, "resources": [extension({"n": "[int(parameters('password'))]"})]},
               {"password": "not-a-number-secret", "settings": {}})
    assert "not-a-number-secret" not in caught.value.one_line()


def test_a_value_computed_from_a_key_vault_secret_is_refused_with_its_path() -> None:
    vault = SecretSource(path="", kind="keyVault", key_vault_id=KV, secret_name="ssh")
    with pytest.raises(InputError) as caught:
        expand({**SECURE, "resources": [extension({"configurationProtectedSettings": {
            "key": "[base64(parameters('password'))]"}})]},
            {"password": TracedText("<key vault secret ssh>", vault, secret=True), "settings": {}})
    line = caught.value.one_line()
    assert "Key Vault secret 'ssh'" in line and "properties.configurationProtectedSettings.key" in line


# ---- variable copy loops (the docs' "Variable iteration" example) -----------------------------------
def test_variable_copy_loops_build_arrays() -> None:
    (written,) = expand({"variables": {"copy": [
        {"name": "disks", "count": 3, "input": {"name": "[concat('myDataDisk', copyIndex('disks', 1))]",
                                                 "diskSizeGB": "1", "diskIndex": "[copyIndex('disks')]"}},
        {"name": "diskNames", "count": 3, "input": "[concat('myDataDisk', copyIndex('diskNames', 1))]"}],
        "count": "[length(variables('diskNames'))]"},
        "resources": [extension({"disks": "[variables('disks')]", "names": "[variables('diskNames')]",
                                 "count": "[variables('count')]"})]})
    body = written.body["properties"]
    assert body["disks"] == [{"name": f"myDataDisk{index + 1}", "diskSizeGB": "1", "diskIndex": index}
                             for index in range(3)]
    assert body["names"] == ["myDataDisk1", "myDataDisk2", "myDataDisk3"] and body["count"] == 3
