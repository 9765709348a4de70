"""Every example of the ARM template function reference, with the values its page documents.

Each case names its page (https://learn.microsoft.com/azure/azure-resource-manager/templates/<page>)
and its template (tests/template/docs_examples/, see NOTICE there: the azure-docs-json-samples file
the page includes, or the page's inline example transcribed), and compares every output with the
page's "Return value" / output table. Outputs are evaluated by the expander's own deployment context
(:mod:`template.outputs`) in a resource group ``examplegroup`` in ``southcentralus``, the group the
pages' deployment examples use. Values that depend on the docs author's deployment (a subscription
id, the current time, a new GUID, ARM's hash of the template) cannot hold offline: those cases say
so and check what can (the form, and the same computation over our deployment).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.expressions.arm_hashes import arm_guid, unique_string
from engine.expressions.dotnet import format_datetime, parse_datetime
from remediation.template import CompiledTemplate, DeploymentScope, TemplateError, expand_template
from remediation.template.values import Deferred
from template.outputs import NOW, SCOPE, SUBSCRIPTION, template_outputs

EXAMPLES = Path(__file__).parent / "docs_examples"
RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/examplegroup"
DOGS = [{"name": "Evie", "age": 5, "interests": ["Ball", "Frisbee"]},
        {"name": "Casper", "age": 3, "interests": ["Other dogs"]},
        {"name": "Indy", "age": 2, "interests": ["Butter"]},
        {"name": "Kira", "age": 8, "interests": ["Rubs"]}]


@dataclass(frozen=True)
class Example:
    page: str  # the page and section, e.g. "template-functions-array#union"
    template: str  # under docs_examples/
    outputs: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    now: datetime = NOW


def load(template: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / template).read_text(encoding="utf-8-sig"))


def canonical(value: Any) -> str:
    """JSON text: ``true`` is never ``1`` and ``1`` never ``1.0``, as in ARM's outputs."""
    return json.dumps(value, sort_keys=True)


# template-functions-array, indexOf and lastIndexOf (the page prints the template inline)
INDEX_OF_TABLE = {"index1": 1, "index2": 0, "index3": 0, "index4": 2, "index5": 1, "index6": 0, "index7": 3,
                  "notFoundIndex1": -1, "notFoundIndex2": -1}
DOCUMENTED = [
    # ---- template-functions-array ----------------------------------------------------------------
    Example("template-functions-array#array", "array/array.json",
            {"intOutput": [1], "stringOutput": ["efgh"], "objectOutput": [{"a": "b", "c": "d"}]}),
    Example("template-functions-array#concat", "array/concat-array.json",
            {"return": ["1-1", "1-2", "1-3", "2-1", "2-2", "2-3"]}),
    Example("template-functions-array#contains", "array/contains.json",
            {"stringTrue": True, "stringFalse": False, "objectTrue": True, "objectFalse": False, "arrayTrue": True,
             "arrayFalse": False}),
    Example("template-functions-array#createarray", "array/createarray.json",
            {"stringArray": ["a", "b", "c"], "intArray": [1, 2, 3],
             "objectArray": [{"one": "a", "two": "b", "three": "c"}], "arrayArray": [["one", "two", "three"]],
             "emptyArray": []}),
    Example("template-functions-array#empty", "array/empty.json",
            {"arrayEmpty": True, "objectEmpty": True, "stringEmpty": True}),
    Example("template-functions-array#first", "array/first.json", {"arrayOutput": "one", "stringOutput": "O"}),
    Example("template-functions-array#flatten", "array/flatten.json",
            {"arrayOutput": ["one", "two", "three", "four", "five"]}),
    # the indexOf and lastIndexOf sections print the same example and table
    Example("template-functions-array#indexof", "array/indexof.json", INDEX_OF_TABLE),
    Example("template-functions-array#lastindexof", "array/indexof.json", INDEX_OF_TABLE),
    Example("template-functions-array#intersection", "array/intersection.json",
            {"objectOutput": {"one": "a", "three": "c"}, "arrayOutput": ["two", "three"]}),
    Example("template-functions-array#last", "array/last.json", {"arrayOutput": "three", "stringOutput": "e"}),
    Example("template-functions-array#length", "array/length.json",
            {"arrayLength": 3, "stringLength": 13, "objectLength": 4}),
    Example("template-functions-array#max", "numeric/max.json", {"arrayOutput": 5, "intOutput": 5}),
    Example("template-functions-array#min", "numeric/min.json", {"arrayOutput": 0, "intOutput": 0}),
    Example("template-functions-array#range", "array/range.json", {"rangeOutput": [5, 6, 7]}),
    Example("template-functions-array#skip", "array/skip.json", {"arrayOutput": ["three"], "stringOutput": "two three"}),
    Example("template-functions-array#take", "array/take.json", {"arrayOutput": ["one", "two"], "stringOutput": "on"}),
    Example("template-functions-array#union", "array/union.json",
            {"objectOutput": {"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"},
             "arrayOutput": ["one", "two", "three", "four"]}),
    # ---- template-functions-cidr -----------------------------------------------------------------
    Example("template-functions-cidr#parsecidr", "cidr/parsecidr-v4.json",
            {"v4info": {"network": "10.144.0.0", "netmask": "255.255.240.0", "broadcast": "10.144.15.255",
                        "firstUsable": "10.144.0.1", "lastUsable": "10.144.15.254", "cidr": 20}}),
    Example("template-functions-cidr#parsecidr", "cidr/parsecidr-v6.json",
            {"v6info": {"network": "fdad:3236:5555::", "netmask": "ffff:ffff:ffff::",
                        "firstUsable": "fdad:3236:5555::", "lastUsable": "fdad:3236:5555:ffff:ffff:ffff:ffff:ffff",
                        "cidr": 48}}),
    Example("template-functions-cidr#cidrsubnet", "cidr/cidrsubnet-v4.json",
            {"v4subnets": ["10.144.0.0/24", "10.144.1.0/24", "10.144.2.0/24", "10.144.3.0/24", "10.144.4.0/24"]}),
    Example("template-functions-cidr#cidrsubnet", "cidr/cidrsubnet-v6.json",
            {"v6subnets": ["fdad:3236:5555::/52", "fdad:3236:5555:1000::/52", "fdad:3236:5555:2000::/52",
                           "fdad:3236:5555:3000::/52", "fdad:3236:5555:4000::/52"]}),
    Example("template-functions-cidr#cidrhost", "cidr/cidrhost-v4.json",
            {"v4hosts": ["10.144.3.1", "10.144.3.2", "10.144.3.3", "10.144.3.4", "10.144.3.5"]}),
    Example("template-functions-cidr#cidrhost", "cidr/cidrhost-v6.json",
            {"v6hosts": ["fdad:3236:5555:3000::1", "fdad:3236:5555:3000::2", "fdad:3236:5555:3000::3",
                         "fdad:3236:5555:3000::4", "fdad:3236:5555:3000::5"]}),
    # ---- template-functions-comparison -----------------------------------------------------------
    Example("template-functions-comparison#coalesce", "comparison/coalesce.json",
            {"stringOutput": "default", "intOutput": 1, "objectOutput": {"first": "default"}, "arrayOutput": [1],
             "emptyOutput": True}),
    # The sample compares 'demo' with 'Demo' since September 2024: equals is case-sensitive (Bicep's
    # case-insensitive =~ compiles to equals(toLower(a), toLower(b)) for that reason).
    Example("template-functions-comparison#equals", "comparison/equals.json",
            {"checkInts": True, "checkStrings": False, "checkArrays": True, "checkObjects": True}),
    Example("template-functions-comparison#equals", "logical/not-equals.json", {"checkNotEquals": True}),
    Example("template-functions-comparison#greater", "comparison/greater.json",
            {"checkInts": False, "checkStrings": True}),
    Example("template-functions-comparison#greaterorequals", "comparison/greaterorequals.json",
            {"checkInts": False, "checkStrings": True}),
    Example("template-functions-comparison#less", "comparison/less.json", {"checkInts": True, "checkStrings": False}),
    Example("template-functions-comparison#lessorequals", "comparison/lessorequals.json",
            {"checkInts": True, "checkStrings": False}),
    # ---- template-functions-date -----------------------------------------------------------------
    # "The output from the preceding example varies for each deployment but will be similar to": the
    # documented values are those of 2019-03-05T17:53:18Z, the clock this case runs at.
    Example("template-functions-date#utcnow", "date/utcnow.json",
            {"utcOutput": "20190305T175318Z", "utcShortOutput": "03/05/2019", "utcCustomOutput": "3 5"}),
    Example("template-functions-date#utcnow", "date/utcnow-tag.json", {"utcShortOutput": "03/05/2019"},
            parameters={"rgName": "example"}),
    # "The output is: epochValue 1683040573, datetimeValue 2023-05-02T15:16:13Z" one year after the clock.
    Example("template-functions-date#datetimefromepoch", "date/datetimefromepoch.json",
            {"epochValue": 1683040573, "datetimeValue": "2023-05-02T15:16:13Z"},
            now=datetime(2022, 5, 2, 15, 16, 13, tzinfo=UTC)),
    # ---- template-functions-deployment -----------------------------------------------------------
    Example("template-functions-deployment#parameters", "deployment/parameters.json",
            {"stringOutput": "option 1", "intOutput": 1, "objectOutput": {"one": "a", "two": "b"},
             "arrayOutput": [1, 2, 3], "crossOutput": "option 1"}),
    Example("template-functions-deployment#variables", "deployment/variables.json",
            {"exampleOutput1": "myVariable", "exampleOutput2": [1, 2, 3, 4], "exampleOutput3": "myVariable",
             "exampleOutput4": {"property1": "value1", "property2": "value2"}}),
    Example("template-functions-deployment#environment", "deployment/environment.json", {"environmentOutput": {
        "name": "AzureCloud", "gallery": "https://gallery.azure.com/", "graph": "https://graph.windows.net/",
        "portal": "https://portal.azure.com", "graphAudience": "https://graph.windows.net/",
        "activeDirectoryDataLake": "https://datalake.azure.net/", "batch": "https://batch.core.windows.net/",
        "media": "https://rest.media.azure.net", "sqlManagement": "https://management.core.windows.net:8443/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/"
                           "quickstart-templates/aliases.json",
        "resourceManager": "https://management.azure.com/",
        "authentication": {"loginEndpoint": "https://login.microsoftonline.com/",
                           "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
                           "tenant": "common", "identityProvider": "AAD"},
        "suffixes": {"acrLoginServer": ".azurecr.io", "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
                     "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
                     "azureFrontDoorEndpointSuffix": "azurefd.net", "keyvaultDns": ".vault.azure.net",
                     "sqlServerHostname": ".database.windows.net", "storage": "core.windows.net"}}}),
    # ---- template-functions-lambda ---------------------------------------------------------------
    Example("template-functions-lambda#filter", "lambda/filter.json", {"oldDogs": [DOGS[0], DOGS[3]]}),
    Example("template-functions-lambda#filter", "lambda/filter-loop.json",
            {"filteredLoop": [6, 7, 8, 9], "isEven": [0, 2, 4, 6, 8]}),
    # bicep-functions-lambda: a lambda's second variable is the element's index ("(val, i) =>", "(x, i) =>")
    Example("bicep-functions-lambda#filter", "lambda/filter-index.json", {"dogNameIndex": [DOGS[1]]}),
    Example("bicep-functions-lambda#map", "lambda/map-index.json", {"mapArrayIndex": [
        {"index": 0, "val": "Evie"}, {"index": 1, "val": "Casper"}, {"index": 2, "val": "Indy"},
        {"index": 3, "val": "Kira"}]}),
    Example("template-functions-lambda#groupby", "lambda/groupby.json", {"outObject": {"f": ["foo"], "b": ["bar", "baz"]}}),
    Example("template-functions-lambda#map", "lambda/map.json", {
        "dogNames": ["Evie", "Casper", "Indy", "Kira"],
        "sayHi": ["Hello Evie!", "Hello Casper!", "Hello Indy!", "Hello Kira!"],
        "mapObject": [{"i": 0, "dog": "Evie", "greeting": "Ahoy, Evie!"},
                      {"i": 1, "dog": "Casper", "greeting": "Ahoy, Casper!"},
                      {"i": 2, "dog": "Indy", "greeting": "Ahoy, Indy!"},
                      {"i": 3, "dog": "Kira", "greeting": "Ahoy, Kira!"}]}),
    Example("template-functions-lambda#mapvalues", "lambda/mapvalues.json", {"mapObject": {"foo": "FOO", "bar": "BAR"}}),
    Example("template-functions-lambda#reduce", "lambda/reduce.json", {"totalAge": 18, "totalAgeAdd1": 19}),
    Example("template-functions-lambda#reduce", "lambda/reduce-union.json",
            {"reduceObjectUnion": {"foo": 123, "bar": 456, "baz": 789}}),
    Example("template-functions-lambda#sort", "lambda/sort.json", {"dogsByAge": [DOGS[2], DOGS[1], DOGS[0], DOGS[3]]}),
    Example("template-functions-lambda#toobject", "lambda/toobject.json",
            {"dogsObject": {dog["name"]: dog for dog in DOGS}}),
    Example("template-functions-lambda#toobject", "lambda/toobject-value.json",
            {"dogsObject": {dog["name"]: dog for dog in DOGS}}),
    Example("template-functions-lambda#toobject", "lambda/toobject-properties.json",
            {"dogsObject": {dog["name"]: {"age": dog["age"], "interests": dog["interests"]} for dog in DOGS}}),
    # ---- template-functions-logical --------------------------------------------------------------
    Example("template-functions-logical#and", "logical/andornot.json",
            {"andExampleOutput": False, "orExampleOutput": True, "notExampleOutput": False}),
    Example("template-functions-logical#bool", "logical/bool.json",
            {"trueString": True, "falseString": False, "trueInt": True, "falseInt": False}),
    Example("template-functions-logical#false", "logical/false.json", {"falseOutput": False}),
    Example("template-functions-logical#if", "logical/if.json",
            {"yesOutput": "yes", "noOutput": "no", "objectOutput": {"test": "value1"}}),
    Example("template-functions-logical#true", "logical/true.json", {"trueOutput": True}),
    # ---- template-functions-numeric --------------------------------------------------------------
    Example("template-functions-numeric#add", "numeric/add.json", {"addResult": 8}),
    Example("template-functions-numeric#div", "numeric/div.json", {"divResult": 2}),
    Example("template-functions-numeric#int", "numeric/int.json", {"intResult": 4}),
    Example("template-functions-numeric#mod", "numeric/mod.json", {"modResult": 1}),
    Example("template-functions-numeric#mul", "numeric/mul.json", {"mulResult": 45}),  # mul(mul(5, 3), 3)
    Example("template-functions-numeric#sub", "numeric/sub.json", {"subResult": 4}),
    # ---- template-functions-object ---------------------------------------------------------------
    Example("template-functions-object#createobject", "object/createobject.json", {"newObject": {
        "intProp": 1, "stringProp": "abc", "boolProp": True, "arrayProp": ["a", "b", "c"],
        "objectProp": {"key1": "value1"}}}),
    Example("template-functions-object#items", "object/items-copy.json", {"modifiedResult": [
        {"fullName": "Example item 1", "itemEnabled": True, "key": "item001"},
        {"fullName": "Example item 2", "itemEnabled": False, "key": "item002"}]}),
    Example("template-functions-object#items", "object/items.json", {"itemsResult": [
        {"key": "item001", "value": {"displayName": "Example item 1", "enabled": True, "number": 300}},
        {"key": "item002", "value": {"displayName": "Example item 2", "enabled": False, "number": 200}}]}),
    Example("template-functions-object#json", "object/json.json",
            {"emptyObjectOutput": True, "objectOutput": {"a": "b"}, "stringOutput": "test", "booleanOutput": True,
             "intOutput": 3, "arrayOutput": [1, 2, 3], "concatObjectOutput": {"a": "demo value"}}),
    Example("template-functions-object#null", "object/null.json", {"emptyOutput": True}),
    Example("template-functions-object#objectkeys", "object/objectkeys.json", {"keyArray": ["a", "b"]}),
    Example("template-functions-object#shallowmerge", "object/shallowmerge.json",
            {"firstOutput": {"one": "a", "two": "c"}, "secondOutput": {"one": "a", "nested": {"b": 2}, "two": "b"}}),
    # The table prints firstColor "Red" for the template's first color "red": tryGet returns the element as it
    # is, so the element is what is checked (the table's capital is the page's slip, not a function's).
    Example("template-functions-object#tryget", "object/tryget.json",
            {"region": None, "name": "John Doe", "firstColor": "red"}),
    Example("template-functions-object#union", "object/union-deep.json", {
        "objectOutput": {"property": {"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"},
                         "nestedArray": [3, 4]},
        "arrayOutput": [["one", "two"], ["three"], ["four", "two"]]}),
    # ---- template-functions-resource and template-functions-scope -------------------------------
    Example("template-functions-resource#extensionresourceid", "resource/extensionresourceid.json",
            {"lockResourceId": f"{RG}/providers/Microsoft.Authorization/locks/mylock"}, parameters={"lockName": "mylock"}),
    Example("template-functions-resource#resourceid", "resource/resourceid.json", {
        "sameRGOutput": f"{RG}/providers/Microsoft.Storage/storageAccounts/examplestorage",
        "differentRGOutput": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/otherResourceGroup/providers/"
                             "Microsoft.Storage/storageAccounts/examplestorage",
        "differentSubOutput": "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/otherResourceGroup/"
                              "providers/Microsoft.Storage/storageAccounts/examplestorage",
        "nestedResourceOutput": f"{RG}/providers/Microsoft.SQL/servers/serverName/databases/databaseName"}),
    Example("template-functions-scope#resourcegroup", "resource/resourcegroup.json", {"resourceGroupOutput": {
        "id": RG, "name": "examplegroup", "type": "Microsoft.Resources/resourceGroups", "location": "southcentralus",
        "properties": {"provisioningState": "Succeeded"}}}),
    # ---- template-functions-string ---------------------------------------------------------------
    Example("template-functions-string#base64", "string/base64.json",
            {"base64Output": "b25lLCB0d28sIHRocmVl", "toStringOutput": "one, two, three",
             "toJsonOutput": {"one": "a", "two": "b"}}),
    Example("template-functions-string#datauri", "string/datauri.json",
            {"dataUriOutput": "data:text/plain;charset=utf8;base64,SGVsbG8=", "toStringOutput": "Hello, World!"}),
    Example("template-functions-string#endswith", "string/startsendswith.json",
            {"startsTrue": True, "startsCapTrue": True, "startsFalse": False, "endsTrue": True, "endsCapTrue": True,
             "endsFalse": False}),
    Example("template-functions-string#format", "string/format.json",
            {"formatTest": "Hello, User. Formatted number: 8,175,133"}),
    Example("template-functions-string#indexof", "string/indexof.json",
            {"firstT": 0, "lastT": 3, "firstString": 2, "lastString": 0, "notFound": -1}),
    Example("template-functions-string#join", "string/join.json",
            {"firstOutput": "one,two,three", "secondOutput": "one;two;three"}),
    Example("template-functions-string#padleft", "string/padleft.json", {"stringOutput": "0000000123"}),
    Example("template-functions-string#replace", "string/replace.json",
            {"firstOutput": "1231231234", "secondOutput": "123-123-xxxx"}),
    Example("template-functions-string#split", "string/split.json",
            {"firstOutput": ["one", "two", "three"], "secondOutput": ["one", "two", "three"]}),
    Example("template-functions-string#string", "string/string.json",
            {"objectOutput": '{"valueA":10,"valueB":"Example Text"}', "arrayOutput": '["a","b","c"]', "intOutput": "5"}),
    Example("template-functions-string#substring", "string/substring.json", {"substringOutput": "two"}),
    Example("template-functions-string#tolower", "string/tolower.json",
            {"toLowerOutput": "one two three", "toUpperOutput": "ONE TWO THREE"}),
    Example("template-functions-string#trim", "string/trim.json", {"return": "one two three"}),
    Example("template-functions-string#uri", "string/uri.json", {
        "uriOutput": "http://contoso.com/resources/nested/azuredeploy.json",
        "componentOutput": "http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json",
        "toStringOutput": "http://contoso.com/resources/nested/azuredeploy.json"}),
    Example("template-functions-string#uri", "string/uri-cases.json", {
        "noSlash": "http://contoso.org/myscript.sh", "trailingSlash": "http://contoso.org/firstpath/myscript.sh",
        "file": "http://contoso.org/firstpath/myscript.sh",
        "fileSlash": "http://contoso.org/firstpath/azuredeploy.json/myscript.sh"}),
]


@pytest.mark.parametrize("example", DOCUMENTED, ids=lambda example: f"{example.page}:{example.template}")
def test_documented_example(example: Example) -> None:
    outputs = template_outputs(load(example.template), example.parameters, now=example.now)
    assert canonical(outputs) == canonical(example.outputs)


def test_every_example_file_is_checked() -> None:
    """No example template lies here unchecked."""
    checked = {example.template for example in DOCUMENTED} | OFFLINE_LIMITED
    assert {str(path.relative_to(EXAMPLES)) for path in EXAMPLES.rglob("*.json")} == checked


OFFLINE_LIMITED = {"resource/tenantresourceid.json", "resource/subscriptionresourceid.json",
                   "resource/resourceid-external.json", "resource/reference.json", "date/datetimeadd.json", "string/concat-string.json", "string/guid.json", "string/uniquestring.json",
                   "string/newguid.json", "string/newguid-storageaccount.json", "deployment/deployment.json",
                   "deployment/deploymentsubscription.json", "resource/subscription.json", "scope/tenant.json",
                   "resource/pickzones.json", "scope/managementgroup.json"}


def test_date_time_add_keeps_the_base_format_and_matches_the_documented_moments() -> None:
    """template-functions-date#datetimeadd, deployed "with a base time of 2020-04-07 14:53:14Z". The page's
    table shows the results as PowerShell displays a date ("4/7/2023 2:53:14 PM", en-US); the value itself
    is written "the format of the base value" (the parameter table): both are checked."""
    outputs = template_outputs(load("date/datetimeadd.json"), {"baseTime": "2020-04-07 14:53:14Z"})
    assert outputs == {"add3YearsOutput": "2023-04-07 14:53:14Z", "subtract9DaysOutput": "2020-03-29 14:53:14Z",
                       "add1HourOutput": "2020-04-07 15:53:14Z"}
    shown = {name: format_datetime(parse_datetime(value, "test").moment, "M/d/yyyy h:mm:ss tt", "test")
             for name, value in outputs.items()}
    assert shown == {"add3YearsOutput": "4/7/2023 2:53:14 PM", "subtract9DaysOutput": "3/29/2020 2:53:14 PM",
                     "add1HourOutput": "4/7/2020 3:53:14 PM"}


def test_hashes_of_the_deployment_cannot_match_the_docs_values_offline() -> None:
    """template-functions-string#concat (prefix-5yj4yjf5mbg72), #guid, #uniquestring: the documented values
    hash the author's resource group id, unknown here; the same functions over our deployment's ids."""
    assert template_outputs(load("string/concat-string.json")) == {"concatOutput": f"prefix-{unique_string(RG)}"}
    assert template_outputs(load("string/guid.json")) == {
        "guidPerSubscription": arm_guid(SUBSCRIPTION), "guidPerResourceGroup": arm_guid(RG),
        "guidPerDeployment": arm_guid(RG, "deployment")}
    assert template_outputs(load("string/uniquestring.json")) == {
        "uniqueRG": unique_string(RG), "uniqueDeploy": unique_string(RG, "deployment")}


def test_new_guid_varies_so_only_its_form_is_documented() -> None:
    """template-functions-string#newguid: "varies for each deployment but will be similar to"
    b76a51fc-bd72-4a77-b9a2-3c29e7d2e551 and storagenziwvyru7uxie."""
    guid = template_outputs(load("string/newguid.json"))["guidOutput"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", guid)
    name = template_outputs(load("string/newguid-storageaccount.json"))["nameOutput"]
    assert re.fullmatch(r"storage[a-z0-9]{13}", name)


def test_deployment_object_of_a_resource_group_and_of_a_subscription_deployment() -> None:
    """template-functions-deployment#deployment: the name, mode and provisioning state of the documented
    object, and ``location`` only when deploying to a subscription. Its ``template`` echo and
    ``templateHash`` (ARM's own hash of the template) are not known offline."""
    (group,) = template_outputs(load("deployment/deployment.json"), name="deployment").values()
    assert group["name"] == "deployment" and "location" not in group
    assert group["properties"]["mode"] == "Incremental" and group["properties"]["provisioningState"] == "Accepted"
    (subscription,) = template_outputs(load("deployment/deploymentsubscription.json"),
                                       scope=DeploymentScope(SUBSCRIPTION, None, "westus")).values()
    assert subscription["location"] == "westus"


def test_subscription_and_tenant_objects_have_the_documented_shape() -> None:
    """template-functions-scope#subscription and #tenant: offline the subscription's display name is its id,
    and a tenant's countryCode and displayName are unknown."""
    (subscription,) = template_outputs(load("resource/subscription.json")).values()
    assert subscription == {"id": f"/subscriptions/{SUBSCRIPTION}", "subscriptionId": SUBSCRIPTION,
                            "tenantId": SCOPE.tenant_id, "displayName": SUBSCRIPTION}
    (tenant,) = template_outputs(load("scope/tenant.json")).values()
    assert tenant == {"id": f"/tenants/{SCOPE.tenant_id}", "tenantId": SCOPE.tenant_id}


@pytest.mark.parametrize(("template", "reason"), [
    ("resource/pickzones.json", "pickZones\\(\\) is not evaluated here: it reads which availability zones"),
    ("scope/managementgroup.json", "managementGroup\\(\\) is not evaluated here: it is only available in management "
                                   "group deployments"),
])
def test_functions_that_cannot_hold_offline_are_refused_naming_why(template: str, reason: str) -> None:
    """template-functions-resource#pickzones (Azure's zone metadata) and template-functions-scope#managementgroup
    (management group deployments only): refused when compiled, with the reason."""
    with pytest.raises(TemplateError, match=reason):
        template_outputs(load(template))


def deploy(template: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The one resource an example deploys, as the expander writes it."""
    (written,) = expand_template(CompiledTemplate.compile(load(template), template), parameters, SCOPE, "deployment",
                                 now=NOW)
    return {"id": written.resource_id, **written.body}


def test_resource_id_functions_in_the_examples_resources() -> None:
    """template-functions-resource#tenantresourceid, #subscriptionresourceid, #resourceid (a subnet in another
    group): the ids their examples' resources are given, in the formats the page documents."""
    assignment = deploy("resource/tenantresourceid.json", {})
    assert assignment["properties"] == {
        "scope": RG, "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/"
                                          "0a914e76-4921-4c19-b460-a2d36003525a"}
    assert assignment["id"].endswith(f"/policyAssignments/{arm_guid('0a914e76-4921-4c19-b460-a2d36003525a', 'examplegroup')}")
    role = deploy("resource/subscriptionresourceid.json", {"principalId": "p1", "builtInRoleType": "Owner"})
    assert role["properties"]["roleDefinitionId"] == (f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/"
                                                      "roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
    nic = deploy("resource/resourceid-external.json", {"location": "westus", "virtualNetworkName": "vnet",
                                                       "virtualNetworkResourceGroup": "network", "subnet1Name": "s1",
                                                       "nicName": "nic"})
    assert nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/network/providers/Microsoft.Network/virtualNetworks/vnet/"
        "subnets/s1")


def test_reference_reads_runtime_state_so_the_plan_defers_it() -> None:
    """template-functions-resource#reference: an existing storage account's runtime state; offline the value is
    deferred to apply, the call and its resource id recorded."""
    (existing,) = template_outputs(load("resource/reference.json"),
                                   {"storageResourceGroup": "data", "storageAccountName": "examplestorage"}).values()
    assert isinstance(existing, Deferred)
    (call,) = existing.calls
    assert (call.function, call.api_version) == ("reference", "2021-04-01")
    assert call.resource_id == (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/data/providers/"
                                "Microsoft.Storage/storageAccounts/examplestorage")


FRUIT = "createArray('apple', 'banana', 'orange', 'grape')"


@pytest.mark.parametrize(("expression", "expected"), [
    ("[float('3.0')]", 3.0),  # template-functions-numeric#float
    ("[float(3)]", 3.0),
    # template-functions-array#indexfromend and #tryindexfromend (their variables('items'), inline): secondToLast
    # "orange"; the out-of-bound example (a languageVersion 2.0 template) "(null)"
    (f"[indexFromEnd({FRUIT}, 2)]", "orange"),
    (f"[tryIndexFromEnd({FRUIT}, 2)]", "orange"),
    (f"[tryIndexFromEnd({FRUIT}, 5)]", None),
])
def test_inline_expressions_of_the_pages(expression: str, expected: Any) -> None:
    assert template_outputs({"outputs": {"value": {"value": expression}}})["value"] == expected


def test_substring_outside_the_string_fails_as_documented() -> None:
    """template-functions-string#substring: substring('1234567890', 0, 11) fails: "The index and length
    parameters must refer to a location within the string"."""
    with pytest.raises(TemplateError, match="must refer to a location within the string"):
        template_outputs({"outputs": {"value": {"value": "[substring('1234567890', 0, 11)]"}}})
