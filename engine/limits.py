"""The bounds every input is held to, in one place (the README's "Limits" table lists them).

Where Azure documents a limit, arcpolicy applies the same one, so an input Azure would refuse is
refused here too, with exit status 2, instead of costing unbounded time or memory:

* ARM template limits (https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices,
  "Template limits"): 24,576 characters in a template expression, 800 resources including copy count
  (a copy loop's ``count`` may not exceed 800, templates/copy-resources), 4 MB for the template once
  expanded with its variables and parameters, which bounds every string and array a function builds.
* ``range(startIndex, count)``: ``count`` is at most 10,000 (templates/template-functions-array#range).
* ARM integers are 64-bit: arithmetic leaving that range is an error, as in ARM.
* Azure Policy rule limits (policy/concepts/definition-structure-policy-rule, "Policy rule limits"): an
  expression of a policy rule may hold 81,920 characters (ARM's 24,576 hold in templates) and a call 128
  arguments; while evaluating, a function may return a string of at most 131,072 characters and an
  object or array at most 128 levels deep with at most 32,768 nodes (the rule's record is then an Error:
  "Policies that exceed the limits during evaluation will effectively become a deny policy"); at
  most 10 ``value count`` expressions per policy rule, and at most 100 iterations of one, checked when
  the definition is written, so on an array written in the rule. Built-ins count over parameters with
  more (MANAExistingVMNVASupport_Modify's default ``allowedOffers`` has 115 items), so the iterations
  of value counts over computed arrays, nested ones multiplied by their parents', are bounded by
  arcpolicy's own 10,000 (range()'s count).

* Azure Policy's object limits (azure-resource-manager/management/azure-subscription-service-limits, "Azure
  Policy limits"): a policy definition, initiative or assignment request body is at most 1,048,576 bytes. A
  document (exemptions and attestations alike) whose JSON is larger is refused before it is compiled, so a
  policy file costs memory in proportion to its size.

Where Azure documents none (the nesting of JSON documents, the length of a number in a snapshot, the
work of a lambda function: templates/template-functions-lambda lists no bound), the bound is
arcpolicy's own, far above anything a real resource, policy or plan holds.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

MAX_EXPRESSION_LENGTH = 24_576  # characters in one [expression], ARM's limit
MAX_POLICY_EXPRESSION_LENGTH = 81_920  # characters in one [expression] of a policy rule, Azure Policy's limit
MAX_POLICY_FUNCTION_ARGUMENTS = 128  # arguments of one function call in a policy rule, Azure Policy's limit
MAX_POLICY_STRING = 131_072  # characters of a string a function returns in a policy rule, Azure Policy's limit
MAX_POLICY_OBJECT_DEPTH = 128  # nesting of an object or array a function returns there, Azure Policy's limit
MAX_POLICY_OBJECT_NODES = 32_768  # nodes of an object or array a function returns there, Azure Policy's limit
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
MAX_POLICY_DOCUMENT_BYTES = 1_048_576  # one definition, initiative, assignment ... as JSON, Azure Policy's limit
MAX_REASON_VALUE_LENGTH = 4_096  # characters of a reason's expected or actual value as JSON (ours): cut past it
MAX_JSON_DEPTH = 64  # nesting of objects and arrays in snapshots, plans, configs (ours)
MAX_NUMBER_LENGTH = 64  # characters of one number in a snapshot or plan (ours; Python refuses > 4,300 digits)
MAX_SHARDS = 1000  # shards of one scan (ours: the store numbers a shard's records from its index)


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


CUT_NOTE_ROOM = 48  # characters kept for the note saying what a cut value left out


def json_length(value: Any) -> int:
    """Characters of ``value`` as compact JSON (orjson's; the json module for integers past 64 bits)."""
    try:
        return len(orjson.dumps(value, default=str))
    except TypeError:
        return len(json.dumps(value, default=str, separators=(",", ":")))


def cut_value(value: Any, limit: int = MAX_REASON_VALUE_LENGTH) -> Any:
    """``value`` when its JSON is within ``limit`` characters, else a copy cut to fit: a string's start, an array's
    first items, an object's first members, then a note saying how much was left out (a last item, a member
    ``"..."``). A reason repeats its condition's values on every record: cut, a policy costs its size once."""
    if isinstance(value, str):
        return value if len(value) <= limit else \
            f"{value[:max(limit - CUT_NOTE_ROOM, 0)]}... ({len(value):,} characters)"
    if not isinstance(value, list | dict) or json_length(value) <= limit:
        return value
    budget = limit - CUT_NOTE_ROOM
    items = value.items() if isinstance(value, dict) else enumerate(value)
    kept: dict[Any, Any] = {}
    for key, item in items:
        shown = cut_value(item, budget)
        cost = json_length(shown) + (len(str(key)) + 4 if isinstance(value, dict) else 1)
        if cost > budget:
            break
        kept[key] = shown
        budget -= cost
    left_out = len(value) - len(kept)  # none when only the items were cut
    if isinstance(value, dict):
        return {**kept, "...": f"{left_out:,} more members"} if left_out else kept
    return [*kept.values(), f"... ({left_out:,} more items)"] if left_out else list(kept.values())
