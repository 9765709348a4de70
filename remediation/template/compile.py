"""Compile template JSON values once: expressions in values and in property names, and property copy.

ARM evaluates expressions in property names too (the Flux built-ins key their kustomization by
``[parameters('kustomizationName')]``) and expands ``copy`` arrays inside properties; the shared
expression compiler handles neither, so template values compile here, reusing it per expression.
Every failure names the JSON path inside the definition.
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
from remediation.template.values import Deferred

Compiled = Callable[[Any], Any]


class TemplateError(InputError):
    """A template (or the parameters given to it) that cannot be expanded."""


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


def _is_property_copy(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, dict) and "name" in item and "input" in item for item in value)


def _compile_object(value: dict[str, Any], registry: FunctionRegistry, source: str, path: str) -> Compiled:
    members: list[tuple[Compiled, Compiled]] = []
    loops: list[tuple[str, Compiled, Compiled]] = []
    for key, item in value.items():
        item_path = f"{path}.{key}" if path else key
        if key.lower() == "copy" and _is_property_copy(item):
            for position, loop in enumerate(item):
                loop_path = f"{item_path}[{position}]"
                loops.append((str(loop["name"]), compile_body(loop.get("count", 0), registry, source, loop_path + ".count"),
                              compile_body(loop["input"], registry, source, loop_path + ".input")))
            continue
        members.append((compile_body(key, registry, source, item_path), compile_body(item, registry, source, item_path)))

    def evaluate(context: Any) -> dict[str, Any]:
        result = {str(name(context)): member(context) for name, member in members}
        for loop_name, count, item in loops:
            result[loop_name] = [item(context.with_copy_index(loop_name, index)) for index in range(int(count(context)))]
        return result

    return evaluate
