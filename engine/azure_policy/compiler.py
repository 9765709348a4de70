"""Compile a policy rule's condition tree into evaluator nodes, once per assignment.

Each node evaluates with :meth:`Node.test` (the hot path: closures, expected values prepared
once) and explains a verdict with :meth:`Node.explain` (only for records that need reasons).
Compile errors are :class:`InputError` naming the file, the path inside the policy
(``policyRule.if.allOf[1].field``) and the offending value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from engine.azure_policy.aliases import AliasTable
from engine.azure_policy.casing import value_key
from engine.azure_policy.conditions import ConditionError, Operator, comparison_key, find_operator
from engine.azure_policy.fields import (
    DEFAULT_ALIASES,
    MISSING,
    FieldError,
    FieldReference,
    UnknownAliasError,
    compile_field,
)
from engine.azure_policy.functions import RuleContext, runtime_reference
from engine.azure_policy.reasons import reason
from engine.azure_policy.secure import referenced_parameters, touches_protected_settings
from engine.errors import InputError
from engine.expressions import EvaluationError, ExpressionSyntaxError, FunctionRegistry, compile_value
from engine.expressions.compiler import constant_value
from engine.limits import (
    MAX_FIELD_COUNTS_PER_ARRAY,
    MAX_IF_CONDITIONS,
    MAX_THEN_CONDITIONS,
    MAX_VALUE_COUNT_EVALUATIONS,
    MAX_VALUE_COUNT_ITERATIONS,
    MAX_VALUE_COUNTS_PER_RULE,
    cut_value,
)
from engine.models.results import Reason
from engine.secret_values import MASK

SECRET_MARKERS = ("protectedsettings", "password", "secret", "token")


class Node:
    """A compiled condition or logical operator.

    ``test(context) -> bool`` is the hot path: a closure built once at compile time (logical
    operators call their children's closures directly, conditions have their operand, operator
    and prepared expected value bound in). :meth:`explain` runs only for records that need reasons.
    """

    __slots__ = ("path", "test")

    path: str
    test: Callable[[RuleContext], bool]

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        """The leaf conditions that produced ``outcome`` for this resource."""
        raise NotImplementedError

    def reason_count(self, context: RuleContext, outcome: bool) -> int:
        """``len(self.explain(context, outcome))`` without building the reasons (ranks candidates)."""
        raise NotImplementedError

    def deciding(self, context: RuleContext, outcome: bool) -> list[tuple[Condition, bool]]:
        """The leaf conditions :meth:`explain` would explain, each with the outcome to explain, in the
        same order, without building reasons: ranks candidates, then explains the chosen ones with
        :func:`explain_deciding` without testing the conditions again."""
        raise NotImplementedError

    def type_keys(self) -> frozenset[str] | None:
        """The (lower-case) resource types this condition can hold for; None when any type may."""
        return None


def explain_deciding(context: RuleContext, deciding: list[tuple[Condition, bool]]) -> list[Reason]:
    """``node.explain(context, outcome)`` from ``node.deciding(context, outcome)``."""
    return [leaf.reason(context, outcome) for leaf, outcome in deciding]


def _all_of(tests: tuple[Callable[[RuleContext], bool], ...]) -> Callable[[RuleContext], bool]:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda context: first(context) and second(context)

    def test(context: RuleContext) -> bool:
        for child in tests:  # noqa: SIM110  (a plain loop: no generator per call on the hot path)
            if not child(context):
                return False
        return True

    return test


def _any_of(tests: tuple[Callable[[RuleContext], bool], ...]) -> Callable[[RuleContext], bool]:
    if len(tests) == 1:
        return tests[0]

    def test(context: RuleContext) -> bool:
        for child in tests:  # noqa: SIM110  (a plain loop: no generator per call on the hot path)
            if child(context):
                return True
        return False

    return test


class AllOf(Node):
    __slots__ = ("children",)

    def __init__(self, path: str, children: list[Node]):
        self.path, self.children = path, children
        self.test = _all_of(tuple(child.test for child in children))

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        return [reason for child in self._children_with(context, outcome)
                for reason in child.explain(context, outcome)]

    def reason_count(self, context: RuleContext, outcome: bool) -> int:
        return sum(child.reason_count(context, outcome) for child in self._children_with(context, outcome))

    def deciding(self, context: RuleContext, outcome: bool) -> list[tuple[Condition, bool]]:
        return [leaf for child in self._children_with(context, outcome) for leaf in child.deciding(context, outcome)]

    def _children_with(self, context: RuleContext, outcome: bool) -> list[Node]:
        """The children whose test gives ``outcome``. Past a false child, allOf's evaluation stopped: a
        later child that cannot be evaluated (``requestContext().identity.idtyp`` after ``contains(...)``
        failed) ends the list instead of failing the explanation."""
        found: list[Node] = []
        for child in self.children:
            try:
                result = child.test(context)
            except (EvaluationError, ConditionError):
                if found and not outcome:
                    break
                raise
            if result == outcome:
                found.append(child)
        return found

    def type_keys(self) -> frozenset[str] | None:
        known = [keys for keys in (child.type_keys() for child in self.children) if keys is not None]
        return frozenset.intersection(*known) if known else None


class AnyOf(Node):
    __slots__ = ("children",)

    def __init__(self, path: str, children: list[Node]):
        self.path, self.children = path, children
        self.test = _any_of(tuple(child.test for child in children))

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        if outcome:
            first = next(child for child in self.children if child.test(context))
            return first.explain(context, True)
        return [reason for child in self.children for reason in child.explain(context, False)]

    def reason_count(self, context: RuleContext, outcome: bool) -> int:
        if outcome:
            return next(child for child in self.children if child.test(context)).reason_count(context, True)
        return sum(child.reason_count(context, False) for child in self.children)

    def deciding(self, context: RuleContext, outcome: bool) -> list[tuple[Condition, bool]]:
        if outcome:
            return next(child for child in self.children if child.test(context)).deciding(context, True)
        return [leaf for child in self.children for leaf in child.deciding(context, False)]

    def type_keys(self) -> frozenset[str] | None:
        keys = [child.type_keys() for child in self.children]
        return None if any(item is None for item in keys) else frozenset().union(*keys)  # type: ignore[arg-type]


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, path: str, child: Node):
        self.path, self.child = path, child
        inner = child.test
        self.test = lambda context: not inner(context)

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        return self.child.explain(context, not outcome)

    def reason_count(self, context: RuleContext, outcome: bool) -> int:
        return self.child.reason_count(context, not outcome)

    def deciding(self, context: RuleContext, outcome: bool) -> list[tuple[Condition, bool]]:
        return self.child.deciding(context, not outcome)


Operand = Callable[[RuleContext], Any]
FieldReader = Callable[[dict[str, Any], dict[str, Any]], Any]


def _string_test(name: str, operand: Operand, prepared: Any,
                 read: FieldReader | None) -> Callable[[RuleContext], bool] | None:
    """Dedicated closures for the commonest conditions (``equals``/``in`` and their negations, constant
    expected value): strings compare lower-cased without the generic operator call. ``read`` is the
    ``(resource, current)`` reader of a plain field operand (None for values and counts)."""
    if name in ("equals", "notequals"):
        negate = name == "notequals"
        if read is not None:  # a plain field: read the resource directly, one call less per test
            def field_equals(context: RuleContext) -> bool:
                actual = read(context.resource, context.current)
                key = (actual.lower() if actual.isascii() else value_key(actual)) if actual.__class__ is str else comparison_key(actual)
                return (key == prepared) is not negate

            return field_equals

        def equals(context: RuleContext) -> bool:
            actual = operand(context)
            key = (actual.lower() if actual.isascii() else value_key(actual)) if actual.__class__ is str else comparison_key(actual)
            return (key == prepared) is not negate

        return equals
    if name in ("in", "notin"):
        negate = name == "notin"

        def member(context: RuleContext) -> bool:
            actual = operand(context)
            key = (actual.lower() if actual.isascii() else value_key(actual)) if actual.__class__ is str else comparison_key(actual)
            return (key in prepared) is not negate

        return member
    return None


class Condition(Node):
    """``{field|value|count: ..., <operator>: expected}``."""

    __slots__ = ("describe", "expected", "expected_source", "is_array", "operand", "operator", "prepared", "read",
                 "secret", "shown_expected", "subject")

    def __init__(self, path: str, subject: str, operand: Operand, is_array: bool, operator: Operator,
                 expected: Callable[[RuleContext], Any], expected_source: Any, read: FieldReader | None = None,
                 secret: bool = False, normalize: Callable[[Any], Any] | None = None):
        """``normalize`` (a location field's) applies to both sides: the field's values and the expected one."""
        is_constant, value = constant_value(expected)
        if normalize is not None:
            operand, read = _normalized(operand, normalize), None
            if is_constant:
                value = normalize(value)
            else:
                expected = _normalized(expected, normalize)
        self.path, self.subject, self.operand, self.is_array, self.read = path, subject, operand, is_array, read
        self.operator, self.expected, self.expected_source = operator, expected, expected_source
        if is_constant:
            operator.check_written(value)
        self.prepared = operator.prepare(value) if is_constant else None
        self.describe = not is_constant
        self.shown_expected = _short(value) if is_constant else None  # as reasons show it
        # a secret condition's reason shows neither side: either may be (or reveal) the secret value
        self.secret = secret or any(marker in subject.lower() for marker in SECRET_MARKERS)
        self.test = self._compile_test()

    def _compile_test(self) -> Callable[[RuleContext], bool]:
        operand, operator_test, prepared = self.operand, self.operator.test, self.prepared
        if self.describe:
            prepare, expected = self.operator.prepare, self.expected
            if self.is_array:
                return lambda context: _all_items(operator_test, operand(context), prepare(expected(context)))
            return lambda context: operator_test(operand(context), prepare(expected(context)))
        if self.is_array:
            return lambda context: _all_items(operator_test, operand(context), prepared)
        return _string_test(self.operator.name.lower(), operand, prepared, self.read) or (
            lambda context: operator_test(operand(context), prepared))

    def type_keys(self) -> frozenset[str] | None:
        if self.describe or self.is_array or self.subject.lower() != "type":
            return None
        name = self.operator.name.lower()
        if name == "equals":
            return frozenset({self.prepared})
        if name == "in":
            return frozenset(self.prepared)
        return None

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        return [self.reason(context, outcome)]

    def deciding(self, context: RuleContext, outcome: bool) -> list[tuple[Condition, bool]]:
        return [(self, outcome)]

    def reason(self, context: RuleContext, outcome: bool) -> Reason:
        """This condition's reason for ``outcome`` on ``context``'s resource."""
        actual = self.operand(context)
        expected = cut_value(self.expected(context))  # a 40,000-item notIn is not repeated on every record
        shown_actual = "<missing>" if actual is MISSING else cut_value(actual)
        shown_expected = _short(expected) if self.shown_expected is None else self.shown_expected
        if self.secret:
            shown_actual = expected = MASK
            shown_expected = repr(MASK)
        return reason(f"{self.subject} {self.operator.describe(outcome)} {shown_expected} (actual {_short(shown_actual)})",
                      self.path, self.subject, self.operator.name, expected, None if actual is MISSING else shown_actual)

    def reason_count(self, context: RuleContext, outcome: bool) -> int:
        return 1


def _normalized(operand: Operand, normalize: Callable[[Any], Any]) -> Operand:
    return lambda context: normalize(operand(context))


def _all_items(test: Callable[[Any, Any], bool], actual: Any, prepared: Any) -> bool:
    """An array field's condition: every element satisfies it (an empty array's none do); a missing array
    (MISSING) satisfies nothing, as Microsoft's conformance cases evaluate ``[*]`` over it."""
    return isinstance(actual, list) and all(test(item, prepared) for item in actual)


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value).replace("'", '"')
    return text if len(text) <= 80 else text[:77] + "..."


LOGICAL_KEYS = ("allof", "anyof", "not")


class InvalidAliasError(InputError):
    """A rule names an alias arcpolicy neither knows nor infers (Azure's "invalid alias")."""


@dataclass(frozen=True)
class RuleCompiler:
    """Compiles condition JSON with one function registry (the assignment's parameters folded in).

    Fields resolve against ``aliases``; a name the table lacks is read by its fallback (arcpolicy's
    table: Azure's default convention) unless ``infer_aliases`` is False; ``inferred`` collects those
    (name -> the property path read).
    """

    registry: FunctionRegistry
    source: str
    infer_aliases: bool = True
    aliases: AliasTable = DEFAULT_ALIASES
    inferred: dict[str, str] = dataclass_field(default_factory=dict)
    secure: frozenset[str] = frozenset()  # the (lower-case) names of the secret parameters
    value_counts: list[str] = dataclass_field(default_factory=list)  # the places of the rule's value counts
    # condition expressions compiled in the if and in the then, and field counts per (lower-case) array alias:
    # docs "policy rule", "Limits enforced during authoring"
    conditions: dict[str, int] = dataclass_field(default_factory=dict)
    field_counts: dict[str, int] = dataclass_field(default_factory=dict)

    def compile_field(self, name: Any, path: str, counted: tuple[str, ...]) -> FieldReference:
        try:
            reference = compile_field(name, counted, self.infer_aliases, self.aliases)
        except UnknownAliasError as error:
            raise InvalidAliasError(self.source, str(error), location=path, value=name) from None
        except FieldError as error:
            raise self.error(path, str(error), name) from None
        if reference.inferred and reference.alias is not None:
            self.inferred.setdefault(reference.name, ".".join(reference.alias.path).replace(".[*]", "[*]"))
        return reference

    def error(self, path: str, message: str, value: Any = None) -> InputError:
        return InputError(self.source, message, location=path, value=value)

    def expression(self, value: Any, path: str) -> Callable[[RuleContext], Any]:
        try:
            return compile_value(value, self.registry)
        except ExpressionSyntaxError as error:
            raise self.error(path, f"bad expression: {error}", value) from None

    def compile(self, condition: Any, path: str, counted: tuple[str, ...] = ()) -> Node:
        if not isinstance(condition, dict) or not condition:
            raise self.error(path, "expected a condition object or a logical operator", condition)
        keys = {key.lower(): key for key in condition}
        logical = [key for key in LOGICAL_KEYS if key in keys]
        if logical:
            if len(condition) != 1:
                raise self.error(path, f"'{keys[logical[0]]}' must be the only key of its object", sorted(condition))
            key = keys[logical[0]]
            body = condition[key]
            if logical[0] == "not":
                return Not(path, self.compile(body, f"{path}.{key}", counted))
            if not isinstance(body, list):
                raise self.error(f"{path}.{key}", "expected a list of conditions", body)
            # An empty list is all of nothing (true) or any of nothing (false), as Microsoft's conformance cases
            # evaluate it; Azure's schema (minItems 1) only refuses to create such a definition.
            children = [self.compile(item, f"{path}.{key}[{index}]", counted) for index, item in enumerate(body)]
            return (AllOf if logical[0] == "allof" else AnyOf)(path, children)
        return self.condition(condition, path, keys, counted)

    def condition(self, condition: dict[str, Any], path: str, keys: dict[str, str],
                  counted: tuple[str, ...]) -> Condition:
        block, limit = ("then", MAX_THEN_CONDITIONS) if path.startswith("policyRule.then") else ("if", MAX_IF_CONDITIONS)
        self.conditions[block] = self.conditions.get(block, 0) + 1
        if self.conditions[block] > limit:
            raise self.error(path, f"a policy rule's {block} holds at most {limit} condition expressions "
                                   "(Azure Policy's limit)")
        operator = find_operator(condition)
        if operator is None:
            raise self.error(path, "no condition operator (equals, like, in, exists ...)", sorted(condition))
        subjects = [key for key in ("field", "value", "count") if key in keys]
        if len(subjects) != 1:
            raise self.error(path, "a condition needs exactly one of 'field', 'value' or 'count'", sorted(condition))
        extra = set(keys) - {subjects[0], operator.name.lower()}
        if extra:
            raise self.error(path, "unexpected keys in condition", sorted(keys[key] for key in extra))
        subject_key = keys[subjects[0]]
        subject_path = f"{path}.{subject_key}"
        operator_key = keys[operator.name.lower()]
        expected = self.expression(condition[operator_key], f"{path}.{operator_key}")
        read: FieldReader | None = None
        normalize: Callable[[Any], Any] | None = None
        if subjects[0] == "field":
            subject, operand, is_array, read, normalize = self.field_operand(condition[subject_key], subject_path,
                                                                             counted)
        elif subjects[0] == "value":
            subject, operand, is_array = f"value {_short(condition[subject_key])}", self.expression(
                condition[subject_key], subject_path), False
        else:
            subject, operand, is_array = self.count_operand(condition[subject_key], subject_path, counted)
        secret = touches_protected_settings(condition) or bool(referenced_parameters(condition) & self.secure)
        try:
            return Condition(path, subject, operand, is_array, operator, expected, condition[operator_key], read,
                             secret, normalize)
        except ConditionError as error:
            raise self.error(f"{path}.{operator_key}", str(error), condition[operator_key]) from None

    def field_operand(self, name: Any, path: str, counted: tuple[str, ...]) -> tuple[
            str, Operand, bool, FieldReader | None, Callable[[Any], Any] | None]:
        """The field's subject, operand, whether it is an array, its plain reader (constant non-array names)
        and how its values are normalized (``location``)."""
        compiled_name = self.expression(name, path)
        is_constant, constant_name = constant_value(compiled_name)
        if not is_constant:
            # A field name built by an expression: resolved per resource, through the field cache; its values
            # as a list (one value, or a [*] alias's selected values) that the condition holds for every one of.
            def dynamic(context: RuleContext) -> Any:
                reference = runtime_reference(context, compiled_name(context))
                value = reference.get(context.resource, context.current)
                return (value if isinstance(value, list) else MISSING) if reference.is_array else [value]

            return str(name), dynamic, True, None, None
        reference = self.compile_field(constant_name, path, counted)
        return (reference.name, _field_getter(reference), reference.is_array,
                None if reference.is_array else reference.get, reference.normalize)

    def count_operand(self, count: Any, path: str, counted: tuple[str, ...]) -> tuple[str, Operand, bool]:
        if not isinstance(count, dict):
            raise self.error(path, "expected {field|value, name, where}", count)
        keys = {key.lower(): key for key in count}
        unexpected = set(keys) - {"field", "value", "name", "where"}
        if unexpected or ("field" in keys) == ("value" in keys):
            raise self.error(path, "a count needs exactly one of 'field' or 'value' (and optional 'name', 'where')",
                             sorted(count))
        if "field" in keys:
            if "name" in keys:  # docs "policy rule", field count: its properties are count.field and count.where
                raise self.error(f"{path}.{keys['name']}", "a field count has no 'name' (only a value count names "
                                 "its member; current() of a field count takes the array alias)", count[keys["name"]])
            return self.field_count(count, keys, path, counted)
        return self.value_count(count, keys, path, counted)

    def field_count(self, count: dict[str, Any], keys: dict[str, str], path: str,
                    counted: tuple[str, ...]) -> tuple[str, Operand, bool]:
        name = count[keys["field"]]
        reference = self.compile_field(name, f"{path}.{keys['field']}", counted)
        if not reference.is_array or not name.endswith("[*]"):
            raise self.error(f"{path}.{keys['field']}", "a field count needs an array alias ending in [*]", name)
        self.field_counts[name.lower()] = self.field_counts.get(name.lower(), 0) + 1
        if self.field_counts[name.lower()] > MAX_FIELD_COUNTS_PER_ARRAY:
            raise self.error(path, f"a policy rule holds at most {MAX_FIELD_COUNTS_PER_ARRAY} field count "
                                   "expressions per array (Azure Policy's limit)", name)
        # the members as field() selects them: a missing array (also one nested in a member) adds none
        select = reference.select or reference.get
        where = self.where(count, keys, path, (*counted, name))
        key = name.lower()

        def count_elements(context: RuleContext) -> int:
            items = select(context.resource, context.current)
            items = items if isinstance(items, list) else []
            if where is None:
                return len(items)
            return _count_where(context, items, key, where, name)

        return f"count of {name}", count_elements, False

    def value_count(self, count: dict[str, Any], keys: dict[str, str], path: str,
                    counted: tuple[str, ...]) -> tuple[str, Operand, bool]:
        self.value_counts.append(path)
        if len(self.value_counts) > MAX_VALUE_COUNTS_PER_RULE:
            raise self.error(path, f"a policy rule holds at most {MAX_VALUE_COUNTS_PER_RULE} value count "
                             "expressions (Azure Policy's limit)")
        written = count[keys["value"]]
        if isinstance(written, list) and len(written) > MAX_VALUE_COUNT_ITERATIONS:
            raise self.error(f"{path}.{keys['value']}", f"a value count iterates at most "
                             f"{MAX_VALUE_COUNT_ITERATIONS} times (Azure Policy's limit), this array has "
                             f"{len(written)} items")
        values = self.expression(written, f"{path}.{keys['value']}")
        name = count.get(keys.get("name", "name"), "")
        if not isinstance(name, str):
            raise self.error(f"{path}.name", "a count name must be a string", name)
        where = self.where(count, keys, path, counted)
        key = name.lower()

        def count_values(context: RuleContext) -> int:
            items = values(context)
            if not isinstance(items, list):
                raise EvaluationError(f"a value count needs an array, got {type(items).__name__}")
            if where is None:
                return len(items)
            enclosing = context.value_count_iterations
            iterations = enclosing * len(items)
            if iterations > MAX_VALUE_COUNT_EVALUATIONS:
                raise EvaluationError(f"a value count iterates {iterations} times, its enclosing value counts' "
                                      f"iterations included; arcpolicy allows {MAX_VALUE_COUNT_EVALUATIONS}")
            context.value_count_iterations = iterations
            try:
                return _count_where(context, items, key, where, None)
            finally:
                context.value_count_iterations = enclosing

        return f"count of {name or 'value'}", count_values, False

    def where(self, count: dict[str, Any], keys: dict[str, str], path: str, counted: tuple[str, ...]) -> Node | None:
        if "where" not in keys:
            return None
        return self.compile(count[keys["where"]], f"{path}.{keys['where']}", counted)


def _count_where(context: RuleContext, items: list[Any], key: str, where: Node, counted_field: str | None) -> int:
    """How many of ``items`` satisfy ``where``, each seen through ``current()`` (and the field)."""
    saved_current = context.current.pop(key, MISSING)
    saved_counted = context.counted
    if counted_field is not None:
        context.counted = (*saved_counted, counted_field)
    total = 0
    try:
        for item in items:
            context.current[key] = item
            total += where.test(context)
    finally:
        context.current.pop(key, None)
        if saved_current is not MISSING:
            context.current[key] = saved_current
        context.counted = saved_counted
    return total


def _field_getter(reference: FieldReference) -> Operand:
    get = reference.get
    if reference.is_array:
        def array_values(context: RuleContext) -> Any:
            value = get(context.resource, context.current)
            return value if isinstance(value, list) else MISSING

        return array_values

    def field(context: RuleContext) -> Any:
        return get(context.resource, context.current)

    return field

