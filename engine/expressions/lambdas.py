"""Lambda values of ARM templates (templates/template-functions-lambda).

``lambda('x', 'i', body)`` compiles once into a :class:`Lambda`: the lambda functions (``filter``,
``map`` ...) call it with each element, and ``lambdaVariables('x')`` in its body reads the value
bound to ``x`` by the innermost enclosing call. Bindings live in a context variable, so compiled
expressions shared between threads stay safe. One lambda function call, with the calls nested in
it, spends one :class:`~engine.expressions.registry.LambdaBudget`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from engine.expressions.registry import LAMBDA_BUDGET, EvaluationError, LambdaBudget, within_size
from engine.expressions.registry import Lambda as LambdaKind

_BINDINGS: ContextVar[dict[str, Any]] = ContextVar("_BINDINGS", default={})  # noqa: B039  (never mutated)


class Lambda(LambdaKind):
    """A compiled lambda bound to the evaluation context it was created in."""

    __slots__ = ("body", "context", "names", "steps")

    def __init__(self, names: tuple[str, ...], body: Callable[[Any], Any], steps: int, context: Any):
        self.names = names  # lower-case: lambdaVariables names are case-insensitive, as every ARM name
        self.body = body
        self.steps = steps  # expression nodes in the body: what one call evaluates at most, nested lambdas aside
        self.context = context

    @property
    def arity(self) -> int:
        return len(self.names)

    def __call__(self, function: str, *values: Any) -> Any:
        """The body's value with ``values`` bound to the lambda's variables (the first ``len(values)``); the
        call's steps and the size of its value (shared values count each time) spend the budget."""
        budget = LAMBDA_BUDGET.get()
        if budget is not None:
            budget.step(self.steps + 1, function)  # the call itself, then its body's steps
        bindings = _BINDINGS.get().copy()
        bindings.update(zip(self.names, values, strict=False))
        token = _BINDINGS.set(bindings)
        try:
            result = self.body(self.context)
        finally:
            _BINDINGS.reset(token)
        if budget is not None and isinstance(result, str | list | dict):
            budget.build(len(result), function)
        return result


def read_variable(name: str) -> Callable[[Any], Any]:
    """``lambdaVariables(name)``: the value bound to ``name`` (the compiler checked it is declared)."""
    lowered = name.lower()

    def read(context: Any) -> Any:
        try:
            return _BINDINGS.get()[lowered]
        except KeyError:
            raise EvaluationError(f"lambdaVariables('{name}'): no value is bound to it here") from None

    return read


def spending(function: Callable[..., Any]) -> Callable[..., Any]:
    """A lambda function that opens a budget when no enclosing lambda function has one open, and whose value
    stays within a template's size as JSON (values its lambda shares count each time they appear)."""
    name = function.__name__.strip("_")

    def call(*arguments: Any) -> Any:
        if LAMBDA_BUDGET.get() is not None:
            return within_size(function(*arguments), f"{name}()'s value")
        token = LAMBDA_BUDGET.set(LambdaBudget())
        try:
            return within_size(function(*arguments), f"{name}()'s value")
        finally:
            LAMBDA_BUDGET.reset(token)

    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    return call
