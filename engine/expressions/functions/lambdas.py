"""Lambda functions of ARM templates (templates/template-functions-lambda): ``filter``, ``map``,
``reduce``, ``sort``, ``toObject``, ``groupBy``, ``mapValues``, and the ``lambda`` / ``lambdaVariables``
forms the compiler builds (:mod:`engine.expressions.lambdas`). The Azure Policy docs exclude
``lambda()`` from policy rules, so they are registered for templates only.

A lambda's variables take, in order, the element (``reduce``: the accumulated value, then the
element) and, when declared, the element's index. Each call spends the enclosing budget
(:class:`~engine.expressions.registry.LambdaBudget`).
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

from engine.expressions.functions.values import boolean
from engine.expressions.lambdas import Lambda, spending
from engine.expressions.registry import ANY, ARRAY, LAMBDA, OBJECT, EvaluationError, kind_of
from engine.expressions.registry import TEMPLATE_LANGUAGE_FUNCTIONS as T

T.form("lambda", 2, None)
T.form("lambdaVariables", 1, 1)


def _arity(function: str, lambda_: Lambda, *allowed: int) -> None:
    if lambda_.arity not in allowed:
        counts = " or ".join(str(count) for count in allowed)
        raise EvaluationError(f"{function}() takes a lambda of {counts} variables, got {lambda_.arity}")


def _key(function: str, value: Any) -> str:
    if not isinstance(value, str):
        raise EvaluationError(f"{function}(): a key must be a string, got {kind_of(value)}")
    return value


@T.function("filter", 2, 2, takes=(ARRAY, LAMBDA))
@spending
def _filter(items: list[Any], predicate: Lambda) -> list[Any]:
    """The elements for which the lambda is true."""
    _arity("filter", predicate, 1, 2)
    return [item for index, item in enumerate(items) if boolean(predicate("filter", item, index), "filter")]


@T.function("map", 2, 2, takes=(ARRAY, LAMBDA))
@spending
def _map(items: list[Any], mapping: Lambda) -> list[Any]:
    """The lambda's value for each element, in order."""
    _arity("map", mapping, 1, 2)
    return [mapping("map", item, index) for index, item in enumerate(items)]


@T.function("reduce", 3, 3, takes=(ARRAY, ANY, LAMBDA))
@spending
def _reduce(items: list[Any], initial: Any, combine: Lambda) -> Any:
    """The lambda applied to the value so far and each element in turn, from ``initial``."""
    _arity("reduce", combine, 2, 3)
    value = initial
    for index, item in enumerate(items):
        value = combine("reduce", value, item, index)
    return value


@T.function("sort", 2, 2, takes=(ARRAY, LAMBDA))
@spending
def _sort(items: list[Any], before: Lambda) -> list[Any]:
    """The elements ordered by the lambda: true when its first element goes before its second (stable)."""
    _arity("sort", before, 2)

    def compare(left: Any, right: Any) -> int:
        if boolean(before("sort", left, right), "sort"):
            return -1
        return 1 if boolean(before("sort", right, left), "sort") else 0

    return sorted(items, key=cmp_to_key(compare))


@T.function("toObject", 2, 3, takes=(ARRAY, LAMBDA))
@spending
def _to_object(items: list[Any], key: Lambda, value: Lambda | None = None) -> dict[str, Any]:
    """An object with the key lambda's value as the name of each element (or of the value lambda's value);
    a later element replaces an earlier one of the same name."""
    _arity("toObject", key, 1)
    if value is not None:
        _arity("toObject", value, 1)
    return {_key("toObject", key("toObject", item)): item if value is None else value("toObject", item)
            for item in items}


@T.function("groupBy", 2, 2, takes=(ARRAY, LAMBDA))
@spending
def _group_by(items: list[Any], key: Lambda) -> dict[str, list[Any]]:
    """The elements grouped under the lambda's value for each, groups and their elements in order."""
    _arity("groupBy", key, 1)
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(_key("groupBy", key("groupBy", item)), []).append(item)
    return groups


@T.function("mapValues", 2, 2, takes=(OBJECT, LAMBDA))
@spending
def _map_values(value: dict[str, Any], mapping: Lambda) -> dict[str, Any]:
    """The object with each member's value replaced by the lambda's value for it."""
    _arity("mapValues", mapping, 1)
    return {name: mapping("mapValues", item) for name, item in value.items()}
