"""Function registries: each function is one small registered unit.

The common registry holds the functions Azure Policy and ARM templates share; a stage makes a
child registry (:meth:`FunctionRegistry.extend`) and registers its context functions on it
(``field`` and ``parameters`` for policy rules; ``resourceId``, ``reference`` for templates).
Names are looked up case-insensitively, as ARM does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


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


class Interceptor(Protocol):
    """How a stage makes its own kinds of values flow through expressions.

    A stage whose values carry marks (a value known only later, a secret) registers one on its
    registry: compiled calls go through :meth:`wrap` (once per call site, at compile time), and
    member access and indexing through :meth:`member` / :meth:`index`, which get the plain
    operation to fall back on. Registries without one compile exactly as before.
    """

    def wrap(self, spec: FunctionSpec) -> Callable[..., Any]: ...

    def member(self, value: Any, name: str, plain: Callable[[Any, str], Any]) -> Any: ...

    def index(self, value: Any, position: Any, plain: Callable[[Any, Any], Any]) -> Any: ...


class FunctionRegistry:
    def __init__(self, parent: FunctionRegistry | None = None, interceptor: Interceptor | None = None):
        self._parent = parent
        self._interceptor = interceptor
        self._functions: dict[str, FunctionSpec] = {}
        self._families: dict[str, FunctionSpec] = {}

    def extend(self, interceptor: Interceptor | None = None) -> FunctionRegistry:
        """A child registry: sees every function of this one, adds or overrides its own."""
        return FunctionRegistry(self, interceptor)

    @property
    def interceptor(self) -> Interceptor | None:
        """This registry's interceptor, else its parent's."""
        if self._interceptor is not None or self._parent is None:
            return self._interceptor
        return self._parent.interceptor

    def function(self, name: str, min_args: int = 0, max_args: int | None = None, *, lazy: bool = False,
                 uses_context: bool = False, pure: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``implementation`` under ``name``."""

        def register(implementation: Callable[..., Any]) -> Callable[..., Any]:
            self._functions[name.lower()] = FunctionSpec(name, implementation, min_args, max_args, lazy,
                                                         uses_context, pure and not uses_context)
            return implementation

        return register

    def family(self, prefix: str, min_args: int = 0, max_args: int | None = None, *,
               uses_context: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``implementation`` for every name ``prefix<Something>`` (ARM's
        ``list*`` functions); it receives the name as written first, then the context if any."""

        def register(implementation: Callable[..., Any]) -> Callable[..., Any]:
            self._families[prefix.lower()] = FunctionSpec(prefix, implementation, min_args, max_args,
                                                          uses_context=uses_context, pure=False)
            return implementation

        return register

    def lookup(self, name: str) -> FunctionSpec | None:
        lowered = name.lower()
        spec = self._functions.get(lowered)
        if spec is None:
            spec = next((_member_of(family, name) for prefix, family in self._families.items()
                         if lowered.startswith(prefix) and len(lowered) > len(prefix)), None)
        if spec is None and self._parent is not None:
            return self._parent.lookup(name)
        return spec

    def names(self) -> set[str]:
        inherited = self._parent.names() if self._parent is not None else set()
        return inherited | {spec.name for spec in self._functions.values()}


def _member_of(family: FunctionSpec, name: str) -> FunctionSpec:
    implementation = family.implementation
    return FunctionSpec(name, lambda *arguments: implementation(name, *arguments), family.min_args,
                        family.max_args, uses_context=family.uses_context, pure=False)


COMMON_FUNCTIONS = FunctionRegistry()
