"""uniqueString() and guid() give the strings ARM gives, checked against published reference values.

Sources of the expected values:
- uniqueString('test') = rbgf3xv4ufgzg: the README of a uniqueString CLI built on Microsoft's own
  Azure.Deployments.Expression package (the engine ARM and Bicep use), and the bash port
  "uniquestring.sh — Azure ARM/Bicep uniqueString() in pure bash", whose self-test was verified
  against Bicep's output, which also gives the other single/multi-argument values below.
- uniqueString of a VM id = yvjxno3je5on2: microsoft/commercial-marketplace-offer-deploy,
  test/Tests/ArmFunctionsTests.cs, "UniqueStringShouldEqualValueCreatedFromArmTemplate" (the
  value a real ARM deployment output).
- guid('test') = d6a5baf1-8b9b-542a-8525-2982f1f98a0c: the arm2tf Terraform provider's
  acceptance test of its guid resource (TestAccResourceGuid).
- guid of several arguments joins them with '-' before hashing: Microsoft's port of the Azure
  Policy expression functions (Microsoft.WindowsAzure.Governance.PolicyLinter.Core,
  ExpressionBuiltInFunctions.Guid -> JoinStringParametersWithDash, UUID v5 in ARMNamespaceGuid
  11fb06fb-712d-4ddd-98c7-e71bbd588830).
"""

from __future__ import annotations

import uuid

import pytest

from engine.expressions import COMMON_FUNCTIONS, EvaluationError, compile_expression
from engine.expressions.arm_hashes import arm_guid, unique_string
from engine.expressions.compiler import ConstantExpressionError


def evaluate(text: str) -> object:
    return compile_expression(text, COMMON_FUNCTIONS)(None)


@pytest.mark.parametrize(("arguments", "expected"), [
    (("test",), "rbgf3xv4ufgzg"),
    (("hello", "world"), "a7wkljktk6wne"),
    (("abc",), "cgtzqvhu4i23s"),
    (("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg",), "bmg7c6xu4tw46"),
    (("foo", "bar", "baz"), "xzi4ioaxtmth4"),
    (("/subscriptions/31e9f9a0-9fd2-4294-a0a3-0101246d9700/resourceGroups/rg-modm201-20230913120256/providers/"
      "Microsoft.Compute/virtualMachines/bobjacmodm201",), "yvjxno3je5on2"),
])
def test_unique_string_matches_arm(arguments: tuple[str, ...], expected: str) -> None:
    assert unique_string(*arguments) == expected
    assert evaluate("[uniqueString(" + ", ".join(f"'{argument}'" for argument in arguments) + ")]") == expected


def test_unique_string_covers_every_tail_length() -> None:
    # 0..8 bytes past the last full 8-byte block take different tail paths; all give 13 base-32 characters.
    values = {unique_string("x" * length) for length in range(17)}
    assert len(values) == 17
    assert all(len(value) == 13 and set(value) <= set("abcdefghijklmnopqrstuvwxyz234567") for value in values)


def test_guid_matches_arm() -> None:
    assert arm_guid("test") == "d6a5baf1-8b9b-542a-8525-2982f1f98a0c"
    assert evaluate("[guid('test')]") == "d6a5baf1-8b9b-542a-8525-2982f1f98a0c"
    namespace = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")
    assert evaluate("[guid('a', 'b')]") == str(uuid.uuid5(namespace, "a-b")) != evaluate("[guid('ab')]")


@pytest.mark.parametrize("text", ["[uniqueString(1)]", "[guid(createArray('a'))]"])
def test_arguments_must_be_strings_as_arm_requires(text: str) -> None:
    with pytest.raises((EvaluationError, ConstantExpressionError), match="expects a string"):
        evaluate(text)
