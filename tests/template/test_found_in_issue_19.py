"""What issue 19 found missing or wrong in the expression functions, each a regression test citing the
page that fixes the answer (https://learn.microsoft.com/azure/azure-resource-manager/templates/<page>,
and policy/concepts/definition-structure-policy-rule for ``ipRangeContains``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.azure_policy.functions import RuleContext, registry_with_parameters
from engine.expressions import EvaluationError, compile_expression
from template.outputs import template_outputs


def value(expression: str) -> Any:
    return template_outputs({"outputs": {"v": {"value": expression}}})["v"]


# "24 documented ARM template functions are missing": one documented use of each.
@pytest.mark.parametrize(("expression", "expected"), [
    ("[uri('http://contoso.com/resources/', 'nested/azuredeploy.json')]",  # template-functions-string#uri
     "http://contoso.com/resources/nested/azuredeploy.json"),
    ("[uriComponent('http://contoso.com/resources/nested/azuredeploy.json')]",  # #uricomponent
     "http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json"),
    ("[uriComponentToString('http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json')]",
     "http://contoso.com/resources/nested/azuredeploy.json"),
    ("[dataUri('Hello')]", "data:text/plain;charset=utf8;base64,SGVsbG8="),  # #datauri
    ("[dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')]", "Hello, World!"),  # #datauritostring
    ("[buildUri(createObject('scheme', 'https', 'host', 'contoso.com', 'port', 8443, 'path', 'a/b', 'query', 'x=1'))]",
     "https://contoso.com:8443/a/b?x=1"),
    ("[parseUri('https://contoso.com/a/b?x=1')]",
     {"scheme": "https", "host": "contoso.com", "port": 443, "path": "/a/b", "query": "?x=1"}),
    ("[dateTimeAdd('2020-04-07 14:53:14Z', 'P3Y')]", "2023-04-07 14:53:14Z"),  # template-functions-date
    ("[dateTimeAdd('2020-04-07T14:53:14Z', 'PT1H', 'yyyy-MM-dd HH:mm')]", "2020-04-07 15:53"),
    ("[items(createObject('b', 2, 'a', 1))]", [{"key": "a", "value": 1}, {"key": "b", "value": 2}]),
    ("[objectKeys(createObject('a', 1, 'b', 2))]", ["a", "b"]),  # template-functions-object
    ("[shallowMerge(createArray(createObject('one', 'a'), createObject('two', 'b'), createObject('two', 'c')))]",
     {"one": "a", "two": "c"}),
    ("[flatten(createArray(createArray('one', 'two'), createArray('three')))]", ["one", "two", "three"]),
    ("[join(createArray('one', 'two', 'three'), ',')]", "one,two,three"),  # template-functions-string#join
    ("[filter(range(0, 10), lambda('i', equals(0, mod(lambdaVariables('i'), 2))))]", [0, 2, 4, 6, 8]),
    ("[map(range(0, 3), lambda('i', mul(lambdaVariables('i'), 2)))]", [0, 2, 4]),  # template-functions-lambda
    ("[reduce(createArray(5, 3, 2, 8), 1, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next'))))]",
     19),
    ("[sort(createArray(3, 1, 2), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))]", [1, 2, 3]),
    ("[toObject(createArray('a', 'b'), lambda('x', toUpper(lambdaVariables('x'))))]", {"A": "a", "B": "b"}),
    ("[groupBy(createArray('foo', 'bar', 'baz'), lambda('x', substring(lambdaVariables('x'), 0, 1)))]",
     {"f": ["foo"], "b": ["bar", "baz"]}),
    ("[mapValues(createObject('foo', 'foo'), lambda('val', toUpper(lambdaVariables('val'))))]", {"foo": "FOO"}),
    ("[parseCidr('10.144.0.0/20').broadcast]", "10.144.15.255"),  # template-functions-cidr
    ("[cidrSubnet('10.144.0.0/20', 24, 3)]", "10.144.3.0/24"),
    ("[cidrHost('10.144.3.0/24', 0)]", "10.144.3.1"),
])
def test_the_missing_functions_exist(expression: str, expected: Any) -> None:
    assert value(expression) == expected


def test_union_merges_nested_objects() -> None:
    """template-functions-object#union, the deep-merge example: nested objects merge, arrays are replaced."""
    first = "json('{\"property\":{\"one\":\"a\",\"two\":\"b\",\"three\":\"c1\"},\"nestedArray\":[1,2]}')"
    second = "json('{\"property\":{\"three\":\"c2\",\"four\":\"d\",\"five\":\"e\"},\"nestedArray\":[3,4]}')"
    assert value(f"[union({first}, {second})]") == {
        "property": {"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"}, "nestedArray": [3, 4]}


@pytest.mark.parametrize(("expression", "expected"), [
    ("[indexOf(createArray('one', 'two', 'three'), 'two')]", 1),  # template-functions-array#indexof
    ("[indexOf(createArray('one', 'two', 'three'), 'Three')]", -1),  # case-sensitive in arrays
    ("[indexOf(createArray(4, 5, 6), '5')]", -1),
    ("[indexOf(createArray(createArray(1), createArray(4, 5, 6)), createArray(4, 5, 6))]", 1),
    ("[lastIndexOf(createArray(1, 2, 3, 1), 1)]", 3),  # template-functions-array#lastindexof
    ("[indexOf('abcdef', 'CD')]", 2),  # strings stay case-insensitive (template-functions-string#indexof)
])
def test_index_of_and_last_index_of_take_arrays(expression: str, expected: int) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(("format_", "expected"), [
    (None, "20190305T175318Z"), ("d", "03/05/2019"), ("M d", "3 5"),  # template-functions-date#utcnow
    ("yyyy-MM-dd", "2019-03-05"), ("u", "2019-03-05 17:53:18Z"),
])
def test_utc_now_takes_dotnet_standard_and_custom_formats(format_: str | None, expected: str) -> None:
    call = "utcNow()" if format_ is None else f"utcNow('{format_}')"
    template = {"parameters": {"now": {"type": "string", "defaultValue": f"[{call}]"}},
                "outputs": {"v": {"value": "[parameters('now')]"}}}
    assert template_outputs(template, now=datetime(2019, 3, 5, 17, 53, 18, tzinfo=UTC))["v"] == expected


@pytest.mark.parametrize(("function", "expected"), [
    ("greater", True), ("greaterOrEquals", True), ("less", False), ("lessOrEquals", False),
])
def test_string_comparisons_give_the_documented_results_for_upper_and_lower_case(function: str, expected: bool) -> None:
    """template-functions-comparison: firstString 'A', secondString 'a', checkStrings as the tables say."""
    assert value(f"[{function}('A', 'a')]") is expected


@pytest.mark.parametrize(("range_", "target", "expected"), [
    ("192.168.0.1-192.168.0.9", "192.168.0.5", True), ("192.168.0.1-192.168.0.9", "192.168.0.10", False),
    ("2001:0DB8::-2001:0DB8::3:FFFF", "2001:0DB8::3:FFFE", True),
])
def test_ip_range_contains_takes_start_end_ranges(range_: str, target: str, expected: bool) -> None:
    compiled = compile_expression(f"[ipRangeContains('{range_}', '{target}')]", registry_with_parameters({}))
    assert compiled(None) is expected


def test_ip_range_contains_fails_evaluation_on_mixed_families() -> None:
    compiled = compile_expression("[ipRangeContains(field('tags.range'), '10.0.0.1')]", registry_with_parameters({}))
    resource = {"id": "/subscriptions/s/resourceGroups/g/providers/A.B/c/d", "name": "d", "type": "A.B/c",
                "tags": {"range": "2001:0DB8::/110"}}
    with pytest.raises(EvaluationError, match="mixing IPv4 and IPv6"):
        compiled(RuleContext(resource, datetime(2026, 1, 1, tzinfo=UTC), {}))
