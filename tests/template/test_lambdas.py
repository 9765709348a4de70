"""Lambda expressions (templates/template-functions-lambda): where ``lambda()`` may stand, what
``lambdaVariables()`` reads, index variables, the bounds of their work, secrets and values known only
at apply time flowing through them, and their absence from policy rules."""

from __future__ import annotations

from typing import Any

import pytest

from engine.azure_policy.functions import registry_with_parameters
from engine.expressions import ExpressionSyntaxError, compile_expression
from engine.limits import MAX_LAMBDA_STEPS
from remediation.plan.models import REDACTED
from remediation.template import CompiledTemplate, DeploymentScope, TemplateError, expand_template
from template.outputs import template_outputs

SCOPE = DeploymentScope("00000000-0000-0000-0000-000000000001", "rg-a", "westeurope")


def value(expression: str, **variables: Any) -> Any:
    return template_outputs({"variables": variables, "outputs": {"v": {"value": expression}}})["v"]


@pytest.mark.parametrize(("expression", "message"), [
    ("[lambda('x', 1)]", "only allowed as an argument of a lambda function"),  # "Limitations" of the page
    ("[string(lambda('x', 1))]", "only allowed as an argument"),
    ("[if(true(), lambda('x', 1), 2)]", "only allowed as an argument"),
    ("[reduce(createArray(1), lambda('x', 1), lambda('a', 'b', 1))]", "only allowed as an argument"),
    ("[lambdaVariables('x')]", "outside any lambda"),
    ("[map(createArray(1), lambda('x', lambdaVariables('y')))]", "no enclosing lambda declares it"),
    ("[map(createArray(1), lambda('x', 'x', 1))]", "declares a variable twice"),
    ("[map(createArray(1), lambda(concat('x'), 1))]", "names of its variables as strings"),
    ("[map(createArray(1), lambda('x', lambdaVariables(concat('x'))))]", "as a string"),
])
def test_misplaced_lambdas_and_variables_are_refused_when_compiled(expression: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        value(expression)


def test_nested_lambdas_see_their_own_and_enclosing_variables_case_insensitively() -> None:
    assert value("[map(range(0, 2), lambda('x', map(range(0, 2), lambda('y', "
                 "add(lambdaVariables('X'), lambdaVariables('y'))))))]") == [[0, 1], [1, 2]]
    assert value("[map(range(0, 2), lambda('x', map(createArray(10), lambda('x', lambdaVariables('x')))))]") == \
        [[10], [10]]  # the inner x shadows the outer one


def test_index_variables() -> None:
    assert value("[filter(createArray('a', 'b', 'c', 'd'), lambda('v', 'i', equals(mod(lambdaVariables('i'), 2), 0)))]") \
        == ["a", "c"]
    assert value("[map(createArray('a', 'b'), lambda('v', 'i', concat(string(lambdaVariables('i')), "
                 "lambdaVariables('v'))))]") == ["0a", "1b"]
    assert value("[reduce(createArray(5, 6), 0, lambda('sum', 'v', 'i', add(lambdaVariables('sum'), "
                 "lambdaVariables('i'))))]") == 1


@pytest.mark.parametrize(("expression", "message"), [
    ("[filter(createArray(1), lambda('a', 'b', 'c', true()))]", "lambda of 1 or 2 variables"),
    ("[sort(createArray(1, 2), lambda('a', true()))]", "lambda of 2 variables"),
    ("[toObject(createArray(1), lambda('a', 'b', 'k'))]", "lambda of 1 variables"),
    ("[filter(createArray(1), lambda('a', 'yes'))]", "expects a boolean"),
    ("[toObject(createArray(1), lambda('a', lambdaVariables('a')))]", "a key must be a string"),
    ("[groupBy(createArray(1), lambda('a', lambdaVariables('a')))]", "a key must be a string"),
    ("[map(createObject('a', 1), lambda('a', 1))]", "expects an array"),
    ("[mapValues(createArray(1), lambda('a', 1))]", "expects an object"),
    ("[map(createArray(1), 5)]", "expects a lambda"),
])
def test_wrong_lambdas_are_errors_naming_the_function(expression: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        value(expression)


def test_sort_is_stable_and_map_values_keeps_names() -> None:
    pairs = "createArray(createObject('k', 1, 'n', 'a'), createObject('k', 0, 'n', 'b'), createObject('k', 1, 'n', 'c'))"
    assert [item["n"] for item in value(f"[sort({pairs}, lambda('x', 'y', less(lambdaVariables('x').k, "
                                        "lambdaVariables('y').k)))]")] == ["b", "a", "c"]
    assert value("[mapValues(createObject('A', 1, 'b', 2), lambda('v', mul(lambdaVariables('v'), 10)))]") == \
        {"A": 10, "b": 20}


def test_a_lambda_function_call_is_bounded_in_steps_and_in_what_it_builds() -> None:
    """ARM documents no bound on a lambda's work; ours (engine/limits.py) stop nested loops over the
    largest arrays (10,000 x 10,000 steps) and bodies building megabytes per element at once."""
    with pytest.raises(TemplateError, match=f"more than {MAX_LAMBDA_STEPS:,} expression steps"):
        value("[map(range(0, 10000), lambda('x', map(range(0, 10000), lambda('y', lambdaVariables('y')))))]")
    with pytest.raises(TemplateError, match="builds more than"):
        value("[map(range(0, 100), lambda('x', length(padLeft(string(lambdaVariables('x')), 4000000))))]")
    assert len(value("[map(range(0, 10000), lambda('x', add(lambdaVariables('x'), 1)))]")) == 10_000


def test_secrets_stay_secret_through_lambdas() -> None:
    template = {"parameters": {"token": {"type": "secureString"}},
                "resources": [{"type": "Microsoft.KubernetesConfiguration/extensions", "apiVersion": "2023-05-01",
                               "name": "ext", "scope": "Microsoft.Kubernetes/connectedClusters/c1", "properties": {
                                   "tokens": "[map(createArray(parameters('token')), lambda('t', concat('Bearer ', "
                                             "lambdaVariables('t'))))]",
                                   "count": "[length(filter(createArray(parameters('token'), 'x'), "
                                            "lambda('t', not(empty(lambdaVariables('t'))))))]",
                                   "picked": "[filter(createArray('a', 's3cret'), lambda('x', "
                                             "equals(lambdaVariables('x'), parameters('token'))))]"}}]}
    (written,) = expand_template(CompiledTemplate.compile(template, "t.json"), {"token": "s3cret"}, SCOPE, "d")
    assert written.body["properties"]["tokens"] == [REDACTED]
    assert written.body["properties"]["count"] == REDACTED
    assert written.body["properties"]["picked"] == [REDACTED]  # chosen by comparing with the secret


def test_values_known_only_at_apply_time_are_refused_in_lambdas() -> None:
    """A lambda cannot be carried to apply time: mapping over reference() fails with one line."""
    with pytest.raises(TemplateError, match="lambda"):
        value("[map(reference('/subscriptions/s/resourceGroups/g/providers/A.B/c/d', '2020-01-01').items, "
              "lambda('x', lambdaVariables('x')))]")


@pytest.mark.parametrize("expression", ["[filter(createArray(1), lambda('x', true()))]", "[lambda('x', 1)]",
                                        "[lambdaVariables('x')]"])
def test_policy_rules_have_no_lambdas(expression: str) -> None:
    """definition-structure-policy-rule, "Policy functions": lambda() is excluded from policy rules."""
    with pytest.raises(ExpressionSyntaxError, match="exclude it from policy rules"):
        compile_expression(expression, registry_with_parameters({}))
