"""Compile template JSON values once: expressions in values and in property names, and property copy.

ARM evaluates expressions in property names too (the Flux built-ins key their kustomization by
``[parameters('kustomizationName')]``) and expands ``copy`` arrays inside properties and in
``variables``; the shared expression compiler handles neither, so template values compile here,
reusing it per expression. Every failure names the JSON path inside the definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import InputError
from engine.expressions import (
    EvaluationError,
    ExpressionSyntaxError,
    FunctionRegistry,
    compile_expression,
    is_expression,
)
from engine.limits import MAX_COPY_COUNT
from remediation.template.values import Deferred, SecretScalar, is_secret

Compiled = Callable[[Any], Any]


class TemplateError(InputError):
    """A template (or the parameters given to it) that cannot be expanded."""


def template_object(value: Any, source: str, path: str, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object (``None``, an omitted member, is an empty one), else the
    template's error at ``path``: malformed templates are refused where they go wrong."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(source, f"{what} is an object", location=path, value=value)
    return value


def template_array(value: Any, source: str, path: str, what: str) -> list[Any]:
    """``value`` when it is a JSON array (``None`` is an empty one), else the template's error at ``path``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise TemplateError(source, f"{what} is an array", location=path, value=value)
    return value


def _constant(value: Any) -> Compiled:
    return lambda context: value


def compile_body(value: Any, registry: FunctionRegistry, source: str, path: str) -> Compiled:
    """Compile a JSON value in which strings, property names and property copy may be expressions."""
    if isinstance(value, str):
        if is_expression(value):
            return compile_text(value, registry, source, path)
        return _constant(value[1:] if value.startswith("[[") else value)
    if isinstance(value, dict):
        return _compile_object(value, registry, source, path)
    if isinstance(value, list):
        items = [compile_body(item, registry, source, f"{path}[{index}]") for index, item in enumerate(value)]
        return lambda context: [item(context) for item in items]
    return _constant(value)


def compile_text(text: str, registry: FunctionRegistry, source: str, path: str) -> Compiled:
    """One ``[...]`` expression; a deferred result remembers the expression for reviewers."""
    try:
        compiled = compile_expression(text, registry)
    except ExpressionSyntaxError as error:
        raise TemplateError(source, str(error), location=path) from None

    def evaluate(context: Any) -> Any:
        try:
            result = compiled(context)
        except EvaluationError as error:
            raise TemplateError(source, str(error), location=path, value=text) from None
        if isinstance(result, Deferred) and result.expression is None:
            return result.with_expression(text)
        return result

    return evaluate


def plan_time(value: Any, source: str, path: str, what: str, *, secret_allowed: bool = False) -> Any:
    """A value the plan itself needs (a name, an id, a count, a condition).

    It cannot be deferred; a secret is allowed only where it does not land in the plan
    (``secret_allowed``: a condition or a count), and is then given plain.
    """
    if isinstance(value, Deferred):
        raise TemplateError(source, f"{what} must be known when planning, but it is only known at apply time",
                            location=path, value=value.expression or f"[{value.code}]")
    if is_secret(value):
        if not secret_allowed:
            raise TemplateError(source, f"{what} is computed from a secret, which would show it in the plan",
                                location=path)
        return value.value if isinstance(value, SecretScalar) else str(value)
    return value


def copy_count(value: Any, source: str, path: str) -> int:
    """A copy loop's count: an integer from 0 to ARM's 800 (templates/copy-resources: "count can't
    exceed 800"), known when planning."""
    count = plan_time(value, source, path, "a copy count", secret_allowed=True)
    try:
        number = int(count) if isinstance(count, int | str) and not isinstance(count, bool) else None
    except ValueError:
        number = None
    if number is None or not 0 <= number <= MAX_COPY_COUNT:
        raise TemplateError(source, f"a copy count is an integer from 0 to {MAX_COPY_COUNT}", location=path,
                            value=count if not is_secret(value) else None)
    return number


def compile_variables(variables: Any, registry: FunctionRegistry, source: str,
                      path: str) -> dict[str, Compiled]:
    """A template's ``variables`` by lower-case name; a ``copy`` array declares one array variable
    per loop (``copyIndex('loop')`` inside its ``input``)."""
    compiled: dict[str, Compiled] = {}
    for name, value in template_object(variables, source, path, "'variables'").items():
        if name.lower() != "copy" or not _is_property_copy(value):
            compiled[name.lower()] = compile_body(value, registry, source, f"{path}.{name}")
            continue
        for position, loop in enumerate(value):
            loop_path = f"{path}.copy[{position}]"
            compiled[str(loop["name"]).lower()] = _copy_array(
                str(loop["name"]), compile_body(loop.get("count", 0), registry, source, f"{loop_path}.count"),
                compile_body(loop["input"], registry, source, f"{loop_path}.input"), source, f"{loop_path}.count")
    return compiled


def _copy_array(name: str, count: Compiled, item: Compiled, source: str, path: str) -> Compiled:
    return lambda context: [item(context.with_copy_index(name, index))
                            for index in range(copy_count(count(context), source, path))]


def _is_property_copy(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, dict) and "name" in item and "input" in item for item in value)


def _compile_object(value: dict[str, Any], registry: FunctionRegistry, source: str, path: str) -> Compiled:
    members: list[tuple[str, Compiled, Compiled]] = []
    loops: list[tuple[str, Compiled]] = []
    for key, item in value.items():
        item_path = f"{path}.{key}" if path else key
        if key.lower() == "copy" and _is_property_copy(item):
            for position, loop in enumerate(item):
                loop_path = f"{item_path}[{position}]"
                loops.append((str(loop["name"]), _copy_array(
                    str(loop["name"]), compile_body(loop.get("count", 0), registry, source, loop_path + ".count"),
                    compile_body(loop["input"], registry, source, loop_path + ".input"), source,
                    loop_path + ".count")))
            continue
        members.append((item_path, compile_body(key, registry, source, item_path),
                        compile_body(item, registry, source, item_path)))

    def evaluate(context: Any) -> dict[str, Any]:
        result = {str(plan_time(name(context), source, where, "a property name")): member(context)
                  for where, name, member in members}
        for loop_name, loop in loops:
            result[loop_name] = loop(context)
        return result

    return evaluate
