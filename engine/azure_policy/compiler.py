"""Compile a policy rule's condition tree into evaluator nodes, once per assignment.

Each node evaluates with :meth:`Node.test` (the hot path: closures, expected values prepared
once) and explains a verdict with :meth:`Node.explain` (only for records that need reasons).
Compile errors are :class:`InputError` naming the file, the path inside the policy
(``policyRule.if.allOf[1].field``) and the offending value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.azure_policy.conditions import ConditionError, Operator, find_operator
from engine.azure_policy.fields import MISSING, FieldError, FieldReference, compile_field
from engine.azure_policy.functions import RuleContext, field_value
from engine.errors import InputError
from engine.expressions import EvaluationError, ExpressionSyntaxError, FunctionRegistry, compile_value
from engine.expressions.compiler import constant_value
from engine.models.results import Reason

SECRET_MARKERS = ("protectedsettings", "password", "secret", "token")


class Node:
    """A compiled condition or logical operator."""

    __slots__ = ("path",)

    def test(self, context: RuleContext) -> bool:
        raise NotImplementedError

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        """The leaf conditions that produced ``outcome`` for this resource."""
        raise NotImplementedError


class AllOf(Node):
    __slots__ = ("children",)

    def __init__(self, path: str, children: list[Node]):
        self.path, self.children = path, children

    def test(self, context: RuleContext) -> bool:
        return all(child.test(context) for child in self.children)

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        return [reason for child in self.children if child.test(context) == outcome
                for reason in child.explain(context, outcome)]


class AnyOf(Node):
    __slots__ = ("children",)

    def __init__(self, path: str, children: list[Node]):
        self.path, self.children = path, children

    def test(self, context: RuleContext) -> bool:
        return any(child.test(context) for child in self.children)

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        if outcome:
            first = next(child for child in self.children if child.test(context))
            return first.explain(context, True)
        return [reason for child in self.children for reason in child.explain(context, False)]


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, path: str, child: Node):
        self.path, self.child = path, child

    def test(self, context: RuleContext) -> bool:
        return not self.child.test(context)

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        return self.child.explain(context, not outcome)


Operand = Callable[[RuleContext], Any]


class Condition(Node):
    """``{field|value|count: ..., <operator>: expected}``."""

    __slots__ = ("describe", "expected", "expected_source", "is_array", "operand", "operator", "prepared", "subject")

    def __init__(self, path: str, subject: str, operand: Operand, is_array: bool, operator: Operator,
                 expected: Callable[[RuleContext], Any], expected_source: Any):
        self.path, self.subject, self.operand, self.is_array = path, subject, operand, is_array
        self.operator, self.expected, self.expected_source = operator, expected, expected_source
        is_constant, value = constant_value(expected)
        self.prepared = operator.prepare(value) if is_constant else None
        self.describe = not is_constant

    def _prepared(self, context: RuleContext) -> Any:
        return self.operator.prepare(self.expected(context)) if self.describe else self.prepared

    def test(self, context: RuleContext) -> bool:
        actual = self.operand(context)
        prepared = self._prepared(context)
        test = self.operator.test
        if self.is_array:
            return all(test(item, prepared) for item in (actual if isinstance(actual, list) else ()))
        return test(actual, prepared)

    def explain(self, context: RuleContext, outcome: bool) -> list[Reason]:
        actual = self.operand(context)
        expected = self.expected(context)
        verb = "is" if outcome else "is not"
        shown_actual = "<missing>" if actual is MISSING else actual
        if any(marker in self.subject.lower() for marker in SECRET_MARKERS):
            shown_actual = "***"
        return [Reason(message=f"{self.subject} {verb} {self.operator.name} {_short(expected)} "
                               f"(actual {_short(shown_actual)})",
                       path=self.path, field=self.subject, operator=self.operator.name, expected=expected,
                       actual=None if actual is MISSING else shown_actual)]


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value).replace("'", '"')
    return text if len(text) <= 80 else text[:77] + "..."


LOGICAL_KEYS = ("allof", "anyof", "not")


@dataclass(frozen=True)
class RuleCompiler:
    """Compiles condition JSON with one function registry (the assignment's parameters folded in)."""

    registry: FunctionRegistry
    source: str

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
            if not isinstance(body, list) or not body:
                raise self.error(f"{path}.{key}", "expected a non-empty list of conditions", body)
            children = [self.compile(item, f"{path}.{key}[{index}]", counted) for index, item in enumerate(body)]
            return (AllOf if logical[0] == "allof" else AnyOf)(path, children)
        return self.condition(condition, path, keys, counted)

    def condition(self, condition: dict[str, Any], path: str, keys: dict[str, str],
                  counted: tuple[str, ...]) -> Condition:
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
        if subjects[0] == "field":
            subject, operand, is_array = self.field_operand(condition[subject_key], subject_path, counted)
        elif subjects[0] == "value":
            subject, operand, is_array = f"value {_short(condition[subject_key])}", self.expression(
                condition[subject_key], subject_path), False
        else:
            subject, operand, is_array = self.count_operand(condition[subject_key], subject_path, counted)
        try:
            return Condition(path, subject, operand, is_array, operator, expected, condition[operator_key])
        except ConditionError as error:
            raise self.error(f"{path}.{operator_key}", str(error), condition[operator_key]) from None

    def field_operand(self, name: Any, path: str, counted: tuple[str, ...]) -> tuple[str, Operand, bool]:
        compiled_name = self.expression(name, path)
        is_constant, constant_name = constant_value(compiled_name)
        if not is_constant:
            # A field name built by an expression: resolved per resource, through the field cache.
            def dynamic(context: RuleContext) -> Any:
                value = field_value(context, compiled_name(context))
                return MISSING if value is None else value

            return str(name), dynamic, False
        try:
            reference = compile_field(constant_name, counted)
        except FieldError as error:
            raise self.error(path, str(error), constant_name) from None
        return reference.name, _field_getter(reference), reference.is_array

    def count_operand(self, count: Any, path: str, counted: tuple[str, ...]) -> tuple[str, Operand, bool]:
        if not isinstance(count, dict):
            raise self.error(path, "expected {field|value, name, where}", count)
        keys = {key.lower(): key for key in count}
        unexpected = set(keys) - {"field", "value", "name", "where"}
        if unexpected or ("field" in keys) == ("value" in keys):
            raise self.error(path, "a count needs exactly one of 'field' or 'value' (and optional 'name', 'where')",
                             sorted(count))
        if "field" in keys:
            return self.field_count(count, keys, path, counted)
        return self.value_count(count, keys, path, counted)

    def field_count(self, count: dict[str, Any], keys: dict[str, str], path: str,
                    counted: tuple[str, ...]) -> tuple[str, Operand, bool]:
        name = count[keys["field"]]
        try:
            reference = compile_field(name, counted)
        except FieldError as error:
            raise self.error(f"{path}.{keys['field']}", str(error), name) from None
        if not reference.is_array or not name.endswith("[*]"):
            raise self.error(f"{path}.{keys['field']}", "a field count needs an array alias ending in [*]", name)
        elements = _field_getter(reference)
        where = self.where(count, keys, path, (*counted, name))
        key = name.lower()

        def count_elements(context: RuleContext) -> int:
            items = elements(context)
            items = items if isinstance(items, list) else []
            if where is None:
                return len(items)
            return _count_where(context, items, key, where, name)

        return f"count of {name}", count_elements, False

    def value_count(self, count: dict[str, Any], keys: dict[str, str], path: str,
                    counted: tuple[str, ...]) -> tuple[str, Operand, bool]:
        values = self.expression(count[keys["value"]], f"{path}.{keys['value']}")
        name = count.get(keys.get("name", "name"), "")
        if not isinstance(name, str):
            raise self.error(f"{path}.name", "a count name must be a string", name)
        where = self.where(count, keys, path, counted)
        key = name.lower()

        def count_values(context: RuleContext) -> int:
            items = values(context)
            if not isinstance(items, list):
                raise EvaluationError(f"a value count needs an array, got {items!r}")
            if where is None:
                return len(items)
            return _count_where(context, items, key, where, None)

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
            return value if isinstance(value, list) else []

        return array_values
    return lambda context: get(context.resource, context.current)

