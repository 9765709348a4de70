"""The bounds every input is held to, in one place (the README's "Limits" table lists them).

Where Azure documents a limit, arcpolicy applies the same one, so an input Azure would refuse is
refused here too, with exit status 2, instead of costing unbounded time or memory:

* ARM template limits (https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices,
  "Template limits"): 24,576 characters in a template expression, 800 resources including copy count
  (a copy loop's ``count`` may not exceed 800, templates/copy-resources), 4 MB for the template once
  expanded with its variables and parameters, which bounds every string and array a function builds.
* ``range(startIndex, count)``: ``count`` is at most 10,000 (templates/template-functions-array#range).
* ARM integers are 64-bit: arithmetic leaving that range is an error, as in ARM.
* Azure Policy rule limits (policy/concepts/definition-structure-policy-rule, "Policy rule limits"): at
  most 10 ``value count`` expressions per policy rule, and at most 100 iterations of one, checked when
  the definition is written, so on an array written in the rule. Built-ins count over parameters with
  more (MANAExistingVMNVASupport_Modify's default ``allowedOffers`` has 115 items), so the iterations
  of value counts over computed arrays, nested ones multiplied by their parents', are bounded by
  arcpolicy's own 10,000 (range()'s count).

Where Azure documents none (the nesting of JSON documents, the length of a number in a snapshot, the
work of a lambda function: templates/template-functions-lambda lists no bound), the bound is
arcpolicy's own, far above anything a real resource, policy or plan holds.
"""

from __future__ import annotations

from typing import Any

MAX_EXPRESSION_LENGTH = 24_576  # characters in one [expression], ARM's limit
MAX_EXPRESSION_DEPTH = 64  # nested calls, member reads and indexes in one expression (ours)
MAX_COPY_COUNT = 800  # a copy loop's count, ARM's limit
MAX_TEMPLATE_RESOURCES = 800  # resources in one template, copies included, ARM's limit
MAX_RANGE_COUNT = 10_000  # range()'s count, ARM's limit
MAX_VALUE_SIZE = 4 * 1024 * 1024  # characters of a string, items of an array or object a function builds (4 MB)
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1  # ARM's 64-bit integers
MAX_IF_CONDITIONS = 4096  # condition expressions in a policy rule's if, Azure Policy's limit
MAX_THEN_CONDITIONS = 128  # condition expressions in its then (an existenceCondition), Azure Policy's limit
MAX_FIELD_COUNTS_PER_ARRAY = 5  # field count expressions over one array alias in a rule, Azure Policy's limit
MAX_VALUE_COUNTS_PER_RULE = 10  # value count expressions in one policy rule, Azure Policy's limit
MAX_VALUE_COUNT_ITERATIONS = 100  # items of an array written in a value count, Azure Policy's authoring limit
MAX_VALUE_COUNT_EVALUATIONS = 10_000  # iterations of nested value counts over computed arrays, together (ours)
MAX_LAMBDA_STEPS = 250_000  # lambda calls and the steps of their bodies in one map/filter/... call (ours)
MAX_LAMBDA_BUILT = 4 * MAX_VALUE_SIZE  # characters or items its functions and lambdas build in one such call (ours)
MAX_JSON_DEPTH = 64  # nesting of objects and arrays in snapshots, plans, configs (ours)
MAX_NUMBER_LENGTH = 64  # characters of one number in a snapshot or plan (ours; Python refuses > 4,300 digits)


def nesting(value: Any) -> int:
    """How deeply objects and arrays nest in a parsed JSON (or TOML) value, walked without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def too_deep(raw: bytes | str, document: Any) -> bool:
    """Whether a parsed JSON ``document`` nests past :data:`MAX_JSON_DEPTH`: its raw text is checked
    first at C speed (brackets in strings count too), the parsed value only when that is inconclusive."""
    raw = raw if isinstance(raw, bytes) else raw.encode()
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:  # too few brackets to nest that deep
        return False
    return bracket_depths(raw, 0)[0] > MAX_JSON_DEPTH and nesting(document) > MAX_JSON_DEPTH


_ONLY_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def bracket_depths(chunk: bytes, depth: int) -> tuple[int, int]:
    """An upper bound of the deepest nesting within ``chunk`` from ``depth``, and the depth after it;
    brackets in strings count too. At C speed: matched ``[]`` pairs are removed innermost first, one
    level per pass, until only unmatched closers then openers remain."""
    brackets = chunk.translate(_ONLY_BRACKETS, _NOT_BRACKETS)
    passes = 0
    while b"[]" in brackets:
        passes += 1
        if passes > MAX_JSON_DEPTH + 2:
            return depth + passes, depth
        brackets = brackets.replace(b"[]", b"")
    openers = brackets.count(b"[")
    closers = len(brackets) - openers
    return depth + max(0, openers - closers) + passes, depth + openers - closers
