"""The documented results of the ARM template pages on syntax and loops (MicrosoftDocs/azure-docs
articles/azure-resource-manager/templates/): template-expressions (escape characters, case, null values),
copy-variables (variable iteration), copy-properties (property iteration) and their copy limits.

Outputs are evaluated as in tests/template/test_docs_examples.py (:mod:`template.outputs`); a resource's deployed
form is what the expander writes.
"""

from __future__ import annotations

from typing import Any

import pytest

from remediation.template import CompiledTemplate, TemplateError, expand_template
from template.outputs import SCOPE, template_outputs

DISKS = [{"name": f"myDataDisk{index + 1}", "diskSizeGB": "1", "diskIndex": index} for index in range(5)]
ITEM_COUNT = {"itemCount": {"type": "int", "defaultValue": 5}}


def disks_loop(name: str) -> dict[str, Any]:
    return {"name": name, "count": "[parameters('itemCount')]", "input": {
        "name": f"[concat('myDataDisk', copyIndex('{name}', 1))]", "diskSizeGB": "1", "diskIndex": f"[copyIndex('{name}')]"}}


# ---- copy-variables: "Variable iteration" -----------------------------------------------------------------------
def test_an_array_of_strings() -> None:
    template = {"parameters": ITEM_COUNT, "variables": {"copy": [
        {"name": "stringArray", "count": "[parameters('itemCount')]", "input": "[concat('item', copyIndex('stringArray', 1))]"}]},
        "outputs": {"arrayResult": {"type": "array", "value": "[variables('stringArray')]"}}}
    assert template_outputs(template) == {"arrayResult": ["item1", "item2", "item3", "item4", "item5"]}


def test_an_array_of_objects() -> None:
    template = {"parameters": ITEM_COUNT, "variables": {"copy": [disks_loop("objectArray")]},
                "outputs": {"arrayResult": {"type": "array", "value": "[variables('objectArray')]"}}}
    assert template_outputs(template) == {"arrayResult": DISKS}


def test_copy_within_a_variable_makes_one_of_its_members() -> None:
    template = {"parameters": ITEM_COUNT, "variables": {"topLevelObject": {
        "sampleProperty": "sampleValue", "copy": [disks_loop("disks")]}},
        "outputs": {"objectResult": {"type": "object", "value": "[variables('topLevelObject')]"}}}
    assert template_outputs(template) == {"objectResult": {"sampleProperty": "sampleValue", "disks": DISKS}}


@pytest.mark.parametrize(("count", "length"), [(0, 0), (800, 800)])
def test_a_count_may_be_zero_and_at_most_800(count: int, length: int) -> None:
    """Copy limits: "The count can't exceed 800"; "The count can't be a negative number. It can be zero"."""
    template = {"variables": {"copy": [{"name": "items", "count": count, "input": "[copyIndex('items')]"}]},
                "outputs": {"items": {"type": "array", "value": "[variables('items')]"}}}
    assert len(template_outputs(template)["items"]) == length


@pytest.mark.parametrize("count", [801, -1])
def test_a_count_over_800_or_negative_is_refused(count: int) -> None:
    template = {"variables": {"copy": [{"name": "items", "count": count, "input": "[copyIndex('items')]"}]},
                "outputs": {"items": {"type": "array", "value": "[variables('items')]"}}}
    with pytest.raises(TemplateError, match="a copy count is an integer from 0 to 800"):
        template_outputs(template)


# ---- copy-properties: "Property iteration" ----------------------------------------------------------------------
def deployed(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [written.body for written in expand_template(CompiledTemplate.compile(template, "docs.json"),
                                                        parameters or {}, SCOPE, "deployment")]


def test_a_property_loop_on_data_disks() -> None:
    """"The deployed template becomes" three dataDisks, lun 0 to 2."""
    template = {"parameters": {"numberOfDataDisks": {"type": "int", "minValue": 0, "maxValue": 16, "defaultValue": 3}},
                "resources": [{"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2020-06-01",
                               "name": "examplevm", "properties": {"storageProfile": {"copy": [{
                                   "name": "dataDisks", "count": "[parameters('numberOfDataDisks')]",
                                   "input": {"lun": "[copyIndex('dataDisks')]", "createOption": "Empty",
                                             "diskSizeGB": 1023}}]}}}]}
    (body,) = deployed(template)
    assert body["properties"]["storageProfile"] == {"dataDisks": [
        {"lun": lun, "createOption": "Empty", "diskSizeGB": 1023} for lun in range(3)]}


def test_resource_and_property_loops_together() -> None:
    """"You can use resource and property iterations together. Reference the property iteration by name"."""
    template = {"parameters": {"vnetname": {"type": "string", "defaultValue": "vnet"},
                               "addressPrefix": {"type": "string", "defaultValue": "10.0.0.0/16"}},
                "variables": {"subnetAddressPrefix": ["10.0.0.0/24", "10.0.1.0/24"]},
                "resources": [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2018-04-01",
                               "name": "[concat(parameters('vnetname'), copyIndex())]",
                               "copy": {"count": 2, "name": "vnetloop"}, "location": "[resourceGroup().location]",
                               "properties": {"addressSpace": {"addressPrefixes": ["[parameters('addressPrefix')]"]},
                                              "copy": [{"name": "subnets", "count": 2, "input": {
                                                  "name": "[concat('subnet-', copyIndex('subnets'))]",
                                                  "properties": {"addressPrefix": "[variables('subnetAddressPrefix')"
                                                                                  "[copyIndex('subnets')]]"}}}]}}]}
    subnets = [{"name": f"subnet-{index}", "properties": {"addressPrefix": f"10.0.{index}.0/24"}} for index in range(2)]
    assert deployed(template) == [{"location": "southcentralus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": subnets}}] * 2


# ---- template-expressions: "Escape characters", case, "Null values" ---------------------------------------------
def test_a_double_bracket_escapes_an_expression() -> None:
    """"demoVar1": "[[test value]" resolves to "[test value]"; "[test] value" (not ending in a bracket) stays."""
    template = {"variables": {"demoVar1": "[[test value]", "demoVar2": "[test] value"},
                "outputs": {"one": {"type": "string", "value": "[variables('demoVar1')]"},
                            "two": {"type": "string", "value": "[variables('demoVar2')]"}}}
    assert template_outputs(template) == {"one": "[test value]", "two": "[test] value"}


@pytest.mark.parametrize(("given", "returned"), [
    ({}, "[test value]"),  # "If you use the default value, the template returns [test value]"
    ({"demoParam1": "[[test value]"}, "[[test value]"),  # passed in: "the characters are interpreted literally"
    ({"demoParam1": "[test value]"}, "[test value]"),  # "the following parameter file returns [test value]"
])
def test_escapes_in_a_default_value_and_in_given_values(given: dict[str, Any], returned: str) -> None:
    template = {"parameters": {"demoParam1": {"type": "string", "defaultValue": "[[test value]"}},
                "outputs": {"exampleOutput": {"type": "string", "value": "[parameters('demoParam1')]"}}}
    assert template_outputs(template, given) == {"exampleOutput": returned}


def test_functions_and_their_parameters_are_case_insensitive() -> None:
    """"Resource Manager resolves variables('var1') and VARIABLES('VAR1') as the same"."""
    template = {"variables": {"var1": "value"}, "outputs": {"upper": {"type": "string", "value": "[VARIABLES('VAR1')]"}}}
    assert template_outputs(template) == {"upper": "value"}


def test_a_null_property_is_treated_as_not_present() -> None:
    """"To set a property to null, you can use null or [json('null')] ... In both cases, Resource Manager templates treat
    it as if the property isn't present": the deployed resource does not have it (at any depth)."""
    template = {"resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "st",
                               "tags": None, "properties": {"stringValue": None, "objectValue": "[json('null')]",
                                                            "nested": {"gone": None, "kept": [None, 1]}}}]}
    assert deployed(template) == [{"properties": {"nested": {"kept": [None, 1]}}}]
