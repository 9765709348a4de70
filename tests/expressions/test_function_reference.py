"""The registries against the documentation's function lists: every function the ARM template function
reference and the Azure Policy docs name is evaluated, or refused with a reason naming why.

The lists are the pages' own (ARM: https://learn.microsoft.com/azure/azure-resource-manager/templates/<page>;
Azure Policy: .../governance/policy/concepts/definition-structure-policy-rule, "Policy functions"). A
function added to a page goes into its list here; the test then fails until it is registered or refused.
"""

from __future__ import annotations

import pytest

from engine.azure_policy.functions import registry_with_parameters
from engine.expressions import FunctionRegistry
from engine.expressions.functions.bicep_only import BICEP_ONLY
from engine.expressions.registry import COMMON_FUNCTIONS
from remediation.template.functions import (
    DEPLOYMENT_PARAMETER_FUNCTIONS,
    PARAMETER_DEFAULT_FUNCTIONS,
    TEMPLATE_FUNCTIONS,
)

ARM_REFERENCE = {
    "template-functions-array": ["array", "concat", "contains", "createArray", "empty", "first", "flatten", "indexOf",
                                 "intersection", "last", "lastIndexOf", "length", "max", "min", "range", "skip", "take",
                                 "tryGet", "tryIndexFromEnd", "union"],
    "template-functions-cidr": ["parseCidr", "cidrSubnet", "cidrHost"],
    "template-functions-comparison": ["coalesce", "equals", "greater", "greaterOrEquals", "less", "lessOrEquals"],
    "template-functions-date": ["dateTimeAdd", "dateTimeFromEpoch", "dateTimeToEpoch", "utcNow"],
    "template-functions-deployment": ["deployment", "environment", "parameters", "variables"],
    "template-functions-lambda": ["filter", "groupBy", "map", "mapValues", "reduce", "sort", "toObject", "lambda",
                                  "lambdaVariables"],
    "template-functions-logical": ["and", "bool", "false", "if", "not", "or", "true"],
    "template-functions-numeric": ["add", "copyIndex", "div", "float", "int", "max", "min", "mod", "mul", "sub"],
    "template-functions-object": ["contains", "createObject", "empty", "intersection", "items", "json", "length",
                                  "null", "objectKeys", "shallowMerge", "tryGet", "union"],
    "template-functions-resource": ["extensionResourceId", "listAccountSas", "listKeys", "listSecrets", "list",
                                    "managementGroupResourceId", "pickZones", "providers", "reference", "references",
                                    "resourceId", "subscriptionResourceId", "tenantResourceId"],
    "template-functions-scope": ["managementGroup", "resourceGroup", "subscription", "tenant"],
    "template-functions-string": ["base64", "base64ToJson", "base64ToString", "buildUri", "concat", "contains",
                                  "dataUri", "dataUriToString", "empty", "endsWith", "first", "format", "guid",
                                  "indexOf", "join", "json", "last", "lastIndexOf", "length", "newGuid", "padLeft",
                                  "parseUri", "replace", "skip", "split", "startsWith", "string", "substring", "take",
                                  "toLower", "toUpper", "trim", "uniqueString", "uri", "uriComponent",
                                  "uriComponentToString"],
}
# ARM functions Bicep's ^ and ?^ index operators compile to (indexFromEnd beside tryIndexFromEnd).
ARM_INDEX_FROM_END = ["indexFromEnd"]
# What templates cannot do offline, and why (checked to be exactly these: a new refusal is a decision).
TEMPLATE_REFUSALS = {"pickZones", "providers", "managementGroup", "references"}

# definition-structure-policy-rule, "Policy functions".
POLICY_EXCLUDED = ["copyIndex", "dateTimeAdd", "dateTimeFromEpoch", "dateTimeToEpoch", "deployment", "environment",
                   "extensionResourceId", "lambda", "listAccountSas", "listKeys", "listSecrets", "list",
                   "managementGroup", "newGuid", "pickZones", "providers", "reference", "resourceId",
                   "subscriptionResourceId", "tenantResourceId", "tenant", "variables"]
# Newer than that list and of the kinds it excludes: refused too, a difference docs/expressions.md states.
POLICY_ALSO_REFUSED = ["managementGroupResourceId", "references"]
# On that list, but evaluated as Microsoft's conformance cases evaluate them (docs/azure-policy-conformance.md).
POLICY_EVALUATED_ANYWAY = ["dateTimeAdd", "dateTimeFromEpoch", "dateTimeToEpoch"]
POLICY_ONLY = ["addDays", "field", "requestContext", "policy", "ipRangeContains", "current"]
POLICY_DIFFERS = ["utcNow"]  # "available to use in a policy rule, but differs from use in an ARM template"


def _called(name: str) -> str:
    """A name as a call would write it: ``list`` stands for the ``list*`` family."""
    return "listAnything" if name == "list" else name


def evaluated(registry: FunctionRegistry, name: str) -> bool:
    spec = registry.lookup(_called(name))
    return spec is not None and spec.refusal is None


def refusal(registry: FunctionRegistry, name: str) -> str | None:
    spec = registry.lookup(_called(name))
    return None if spec is None else spec.refusal


ARM_FUNCTIONS = sorted({name for names in ARM_REFERENCE.values() for name in names} | set(ARM_INDEX_FROM_END))


@pytest.mark.parametrize("name", ARM_FUNCTIONS)
def test_every_arm_template_function_is_evaluated_or_refused_with_a_reason(name: str) -> None:
    registry = PARAMETER_DEFAULT_FUNCTIONS if name in ("utcNow", "newGuid") else TEMPLATE_FUNCTIONS
    if name in TEMPLATE_REFUSALS:
        assert refusal(registry, name), f"{name}() is refused without a reason"
    else:
        assert evaluated(registry, name), f"{name}() is documented but not registered for templates"


def test_templates_refuse_exactly_what_cannot_hold_offline() -> None:
    refused = {name for name in ARM_FUNCTIONS if refusal(TEMPLATE_FUNCTIONS, name)}
    assert refused == TEMPLATE_REFUSALS


POLICY = registry_with_parameters({})


@pytest.mark.parametrize("name", sorted(set(ARM_FUNCTIONS) | set(POLICY_ONLY) | set(POLICY_DIFFERS)))
def test_every_function_is_evaluated_in_policy_rules_unless_the_policy_docs_exclude_it(name: str) -> None:
    if name in POLICY_EVALUATED_ANYWAY:
        assert name in POLICY_EXCLUDED and evaluated(POLICY, name)
    elif name in POLICY_EXCLUDED or name in ARM_REFERENCE["template-functions-lambda"]:
        reason = refusal(POLICY, name)
        assert reason and "exclude it from policy rules" in reason
    elif name in POLICY_ALSO_REFUSED:
        assert refusal(POLICY, name)
    else:
        assert evaluated(POLICY, name), f"{name}() is available in policy rules but not registered"


def test_policy_only_functions_are_not_template_functions() -> None:
    """``field`` and ``policy`` are also read in deployIfNotExists deployments (their templates and
    parameter values); the others exist only in policy rules."""
    for name in ("addDays", "ipRangeContains", "current", "requestContext"):
        assert TEMPLATE_FUNCTIONS.lookup(name) is None and DEPLOYMENT_PARAMETER_FUNCTIONS.lookup(name) is None
    assert evaluated(DEPLOYMENT_PARAMETER_FUNCTIONS, "policy") and evaluated(TEMPLATE_FUNCTIONS, "field")


def test_nothing_undocumented_is_registered() -> None:
    """Every evaluated name is on a list above, or a context function a stage documents elsewhere."""
    documented = {name.lower() for name in [*ARM_FUNCTIONS, *POLICY_ONLY, *POLICY_DIFFERS]}
    for registry in (TEMPLATE_FUNCTIONS, PARAMETER_DEFAULT_FUNCTIONS, DEPLOYMENT_PARAMETER_FUNCTIONS, POLICY):
        assert {name for name in registry.names() if name.lower() not in documented} == set()
        assert {family.lower() for family in registry.families()} <= {"list"}


@pytest.mark.parametrize("name", BICEP_ONLY)
def test_bicep_functions_are_refused_as_bicep_only(name: str) -> None:
    """loadJsonContent and the like are resolved by Bicep when it compiles; ARM has no such function."""
    for registry in (COMMON_FUNCTIONS, TEMPLATE_FUNCTIONS, POLICY):
        assert "Bicep function" in (refusal(registry, name) or "")
