"""Function registries: each function is one small registered unit.

The common registry holds the functions Azure Policy and ARM templates share; a stage makes a
child registry (:meth:`FunctionRegistry.extend`) and registers its context functions on it
(``field`` and ``parameters`` for policy rules; ``resourceId``, ``reference`` for templates).
Names are looked up case-insensitively, as ARM does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class EvaluationError(ValueError):
    """An expression that cannot be evaluated (wrong argument type, missing property ...)."""


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A registered function.

    ``lazy`` functions receive zero-argument thunks instead of values (``if``, ``and``, ``or``
    evaluate only what they need); ``uses_context`` functions receive the evaluation context
    first; ``pure`` functions of constant arguments are folded at compile time.
    """

    name: str
    implementation: Callable[..., Any]
    min_args: int
    max_args: int | None
    lazy: bool = False
    uses_context: bool = False
    pure: bool = True


class FunctionRegistry:
    def __init__(self, parent: FunctionRegistry | None = None):
        self._parent = parent
        self._functions: dict[str, FunctionSpec] = {}

    def extend(self) -> FunctionRegistry:
        """A child registry: sees every function of this one, adds or overrides its own."""
        return FunctionRegistry(self)

    def function(self, name: str, min_args: int = 0, max_args: int | None = None, *, lazy: bool = False,
                 uses_context: bool = False, pure: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``implementation`` under ``name``."""

        def register(implementation: Callable[..., Any]) -> Callable[..., Any]:
            self._functions[name.lower()] = FunctionSpec(name, implementation, min_args, max_args, lazy,
                                                         uses_context, pure and not uses_context)
            return implementation

        return register

    def lookup(self, name: str) -> FunctionSpec | None:
        spec = self._functions.get(name.lower())
        if spec is None and self._parent is not None:
            return self._parent.lookup(name)
        return spec

    def names(self) -> set[str]:
        inherited = self._parent.names() if self._parent is not None else set()
        return inherited | {spec.name for spec in self._functions.values()}


COMMON_FUNCTIONS = FunctionRegistry()
