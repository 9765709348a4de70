"""Compile expression ASTs into closures, once, so evaluation never re-parses text.

A compiled expression is a function of one argument, the evaluation context (whatever the
stage's context functions expect: a policy evaluation, a template deployment ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.expressions.lambdas import Lambda, read_variable
from engine.expressions.parser import Call, ExpressionSyntaxError, Index, Literal, Member, Node, parse
from engine.expressions.registry import (
    LAMBDA,
    EvaluationError,
    FunctionRegistry,
    FunctionSpec,
    Interceptor,
    kind_of,
    wrong_kind,
)

CompiledExpression = Callable[[Any], Any]


class _Constant:
    """A compiled expression whose value is known at compile time."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __call__(self, context: Any) -> Any:
        return self.value


class _Failed:
    """A compiled expression known at compile time to fail (``first(5)``): it fails when evaluated, so an
    ``if`` branch never taken costs nothing, and a whole expression that is one is refused when compiled."""

    __slots__ = ("error", "position")

    def __init__(self, error: EvaluationError, position: int):
        self.error = error
        self.position = position

    def __call__(self, context: Any) -> Any:
        raise EvaluationError(str(self.error))


class ConstantExpressionError(ExpressionSyntaxError):
    """An expression that fails whatever it is evaluated on (a function given a value it cannot take)."""


def is_expression(value: Any) -> bool:
    """Whether a JSON string is an expression (``[...]``, but not the ``[[`` escape)."""
    return isinstance(value, str) and len(value) >= 2 and value[0] == "[" and value[-1] == "]" and value[1] != "["


def compile_expression(text: str, registry: FunctionRegistry) -> CompiledExpression:
    """Compile ``[...]`` text (brackets included) into a closure; raises ExpressionSyntaxError (and
    :class:`ConstantExpressionError` when the expression can only fail)."""
    limits = registry.limits
    compiled = _compile(parse(text[1:-1], limits.max_length, limits.owner), registry, text)
    if isinstance(compiled, _Failed):
        raise ConstantExpressionError(str(compiled.error), text, compiled.position)
    return compiled


def compile_value(value: Any, registry: FunctionRegistry) -> CompiledExpression:
    """Compile a JSON value in which any string may be an expression (objects and arrays recurse)."""
    if isinstance(value, str):
        if is_expression(value):
            return compile_expression(value, registry)
        literal = value[1:] if value.startswith("[[") else value
        return _Constant(literal)
    if isinstance(value, dict):
        members = {key: compile_value(item, registry) for key, item in value.items()}
        if all(isinstance(member, _Constant) for member in members.values()):
            return _Constant({key: member.value for key, member in members.items()})  # type: ignore[attr-defined]
        return lambda context: {key: member(context) for key, member in members.items()}
    if isinstance(value, list):
        items = [compile_value(item, registry) for item in value]
        if all(isinstance(item, _Constant) for item in items):
            return _Constant([item.value for item in items])  # type: ignore[attr-defined]
        return lambda context: [item(context) for item in items]
    return _Constant(value)


def constant_value(compiled: CompiledExpression) -> tuple[bool, Any]:
    """(True, value) when a compiled expression is a compile-time constant."""
    if isinstance(compiled, _Constant):
        return True, compiled.value
    return False, None


Scope = tuple[str, ...]  # the (lower-case) lambda variables declared around a node


def _compile(node: Node, registry: FunctionRegistry, text: str, scope: Scope = (),
             lambda_allowed: bool = False) -> CompiledExpression:
    if isinstance(node, Literal):
        return _Constant(node.value)
    if isinstance(node, Member):
        target = _compile(node.target, registry, text, scope)
        return target if isinstance(target, _Failed) else _member(target, node.name, registry.interceptor)
    if isinstance(node, Index):
        target, index = _compile(node.target, registry, text, scope), _compile(node.index, registry, text, scope)
        failed = next((part for part in (target, index) if isinstance(part, _Failed)), None)
        return failed or _index(target, index, registry.interceptor)
    return _call(node, registry, text, scope, lambda_allowed)


def _call(node: Call, registry: FunctionRegistry, text: str, scope: Scope,
          lambda_allowed: bool) -> CompiledExpression:
    spec = registry.lookup(node.name)
    position = max(text.find(node.name), 0)
    if spec is None:
        raise ExpressionSyntaxError(f"unknown function '{node.name}'", text, position)
    if spec.refusal is not None:
        raise ExpressionSyntaxError(f"{node.name}() is not evaluated here: {spec.refusal}", text, position)
    count = len(node.arguments)
    most = registry.limits.max_arguments
    if most is not None and count > most:
        raise ExpressionSyntaxError(f"function '{spec.name}' takes at most {most} arguments in "
                                    f"{registry.limits.owner}, got {count}", text, position)
    if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
        expected = (f"{spec.min_args}" if spec.max_args == spec.min_args
                    else f"{spec.min_args} to {spec.max_args}" if spec.max_args is not None
                    else f"at least {spec.min_args}")
        raise ExpressionSyntaxError(f"function '{spec.name}' takes {expected} arguments, got {count}", text,
                                    position)
    if spec.form == "lambda":
        return _lambda(node, registry, text, scope, lambda_allowed)
    if spec.form == "lambdavariables":
        return _lambda_variable(node, text, scope)
    arguments = [_compile(argument, registry, text, scope, _takes_lambda(spec, index))
                 for index, argument in enumerate(node.arguments)]
    interceptor = registry.interceptor
    implementation = spec.implementation if interceptor is None else interceptor.wrap(spec)
    if spec.lazy:
        if spec.uses_context:
            return lambda context: implementation(context, *[_bind(argument, context) for argument in arguments])
        return lambda context: implementation(*[_bind(argument, context) for argument in arguments])
    failed = next((argument for argument in arguments if isinstance(argument, _Failed)), None)
    if failed is not None:
        return failed
    wrong = _wrong_constant_kind(spec, arguments)
    if wrong is not None:
        return _Failed(wrong, position)
    if spec.pure and all(isinstance(argument, _Constant) for argument in arguments):
        try:
            return _Constant(implementation(*[argument.value for argument in arguments]))  # type: ignore[attr-defined]
        except EvaluationError as error:
            return _Failed(error, position)
    if spec.uses_context:
        return lambda context: implementation(context, *[argument(context) for argument in arguments])
    return lambda context: implementation(*[argument(context) for argument in arguments])


def _takes_lambda(spec: FunctionSpec, position: int) -> bool:
    """Whether argument ``position`` of ``spec`` may be a ``lambda(...)`` (ARM allows one only there)."""
    return bool(spec.takes) and spec.takes[min(position, len(spec.takes) - 1)] is LAMBDA  # type: ignore[index]


def _lambda(node: Call, registry: FunctionRegistry, text: str, scope: Scope,
            allowed: bool) -> CompiledExpression:
    """``lambda('x', ..., body)``: a :class:`~.lambdas.Lambda` over the context it is evaluated in."""
    position = max(text.find(node.name), 0)
    if not allowed:
        raise ExpressionSyntaxError("lambda() is only allowed as an argument of a lambda function (filter, map, "
                                    "reduce, sort, toObject, groupBy, mapValues)", text, position)
    *declared, body_node = node.arguments
    if not declared or not all(isinstance(name, Literal) and isinstance(name.value, str) and name.value
                               for name in declared):
        raise ExpressionSyntaxError("lambda() takes the names of its variables as strings, then its body", text,
                                    position)
    names = tuple(str(name.value).lower() for name in declared)  # type: ignore[union-attr]
    if len(set(names)) != len(names):
        raise ExpressionSyntaxError("lambda() declares a variable twice", text, position)
    body = _compile(body_node, registry, text, (*scope, *names))
    if isinstance(body, _Failed):
        return body
    steps = _size(body_node)
    return lambda context: Lambda(names, body, steps, context)


def _lambda_variable(node: Call, text: str, scope: Scope) -> CompiledExpression:
    """``lambdaVariables('x')``: checked against the enclosing lambdas when compiling."""
    position = max(text.find(node.name), 0)
    name = node.arguments[0]
    if not isinstance(name, Literal) or not isinstance(name.value, str):
        raise ExpressionSyntaxError("lambdaVariables() takes the name of a lambda variable as a string", text,
                                    position)
    if name.value.lower() not in scope:
        where = "no enclosing lambda declares it" if scope else "it is outside any lambda"
        raise ExpressionSyntaxError(f"lambdaVariables('{name.value}'): {where}", text, position)
    return read_variable(name.value)


def _size(node: Node) -> int:
    """How many calls, member reads, indexes and literals ``node`` holds: one evaluation's steps."""
    if isinstance(node, Literal):
        return 1
    if isinstance(node, Member):
        return 1 + _size(node.target)
    if isinstance(node, Index):
        return 1 + _size(node.target) + _size(node.index)
    return 1 + sum(_size(argument) for argument in node.arguments)


def _wrong_constant_kind(spec: FunctionSpec, arguments: list[CompiledExpression]) -> EvaluationError | None:
    """A constant argument of a kind the function does not take (``field(5)``), known when compiling."""
    if not spec.takes:
        return None
    return next((wrong for position, argument in enumerate(arguments) if isinstance(argument, _Constant)
                 for wrong in [wrong_kind(spec.name, spec.takes, position, argument.value)] if wrong is not None), None)


def _bind(compiled: CompiledExpression, context: Any) -> Callable[[], Any]:
    return lambda: compiled(context)


def lookup_property(value: Any, name: str) -> Any:
    """``value.name`` with ARM's case-insensitive property names."""
    if not isinstance(value, dict):
        raise EvaluationError(f"cannot read property '{name}' of {type(value).__name__} value")
    if name in value:
        return value[name]
    lowered = name.lower()
    for key, item in value.items():
        if key.lower() == lowered:
            return item
    available = ", ".join(list(value)[:10]) + (", ..." if len(value) > 10 else "")
    raise EvaluationError(f"property '{name[:80]}' does not exist; available: {available or 'none'}")


def _member(target: CompiledExpression, name: str, interceptor: Interceptor | None) -> CompiledExpression:
    if interceptor is None:
        return lambda context: lookup_property(target(context), name)
    return lambda context: interceptor.member(target(context), name, lookup_property)


def index_value(value: Any, position: Any) -> Any:
    """``value[position]``: an array element or (case-insensitively) an object property."""
    if isinstance(value, list):
        if not isinstance(position, int) or isinstance(position, bool):
            raise EvaluationError(f"array index must be an integer, got {kind_of(position)}")
        if not 0 <= position < len(value):
            raise EvaluationError(f"index {position} is out of range for an array of length {len(value)}")
        return value[position]
    if isinstance(value, dict) and isinstance(position, str):
        return lookup_property(value, position)
    raise EvaluationError(f"cannot index {kind_of(value)} with {kind_of(position)}")


def _index(target: CompiledExpression, index: CompiledExpression,
           interceptor: Interceptor | None) -> CompiledExpression:
    if interceptor is None:
        return lambda context: index_value(target(context), index(context))
    return lambda context: interceptor.index(target(context), index(context), index_value)
