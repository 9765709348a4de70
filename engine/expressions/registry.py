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

from engine.limits import MAX_INTEGER, MAX_JSON_DEPTH, MAX_VALUE_SIZE, MIN_INTEGER


class EvaluationError(ValueError):
    """An expression that cannot be evaluated (wrong argument type, missing property ...)."""


@dataclass(frozen=True, slots=True)
class Kind:
    """What an argument may be, as ARM's function reference types it (``int``, ``string`` ...)."""

    name: str
    types: tuple[type, ...]

    def admits(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types)


ANY = Kind("any value", (object,))
TEXT = Kind("a string", (str,))
TEXT_OR_NULL = Kind("a string or null", (str, type(None)))
INTEGER = Kind("an integer", (int,))
NUMBER = Kind("a number", (int, float))
SEQUENCE = Kind("an array or a string", (list, str))
COLLECTION = Kind("an array or an object", (list, dict))
SCALAR = Kind("a string or an integer", (str, int))


def kind_of(value: Any) -> str:
    """A value's JSON type, for error messages (never the value: it may be a secret)."""
    if value is None:
        return "null"
    return next((name for base, name in _KIND_NAMES if isinstance(value, base)), "a value")


_KIND_NAMES = ((bool, "a boolean"), (str, "a string"), (int, "an integer"), (float, "a number"), (list, "an array"),
               (dict, "an object"))


# What a function may fail with on arguments of the right kinds but bad values (an empty array's max,
# bad base64, an unparsable number ...): the call's error, not arcpolicy's.
_VALUE_FAILURES = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, ZeroDivisionError)


def bounded(value: Any, function: str) -> Any:
    """``value`` if it is within ARM's limits for what a function may build (see :mod:`engine.limits`)."""
    if isinstance(value, str | list | dict):
        if len(value) > MAX_VALUE_SIZE:
            raise EvaluationError(f"{function}() would build a value of {len(value):,} characters or items, over "
                                  f"the {MAX_VALUE_SIZE:,} limit of a template")
    elif isinstance(value, int) and not isinstance(value, bool) and not MIN_INTEGER <= value <= MAX_INTEGER:
        raise EvaluationError(f"{function}() overflows ARM's 64-bit integers")
    return value


def within_size(value: Any, what: str) -> Any:
    """``value`` if its JSON text stays within a template's 4 MB and its nesting within 64 levels.

    Parts shared by reference (a variable used twice in another) count each time they appear, as
    in the JSON they become, but are walked once: the walk stops as soon as the limit is passed.
    """
    sizes: dict[int, int] = {}

    def size(item: Any, depth: int) -> int:
        if isinstance(item, str):
            return len(item) + 2
        if not isinstance(item, dict | list):
            return 8
        known = sizes.get(id(item))
        if known is not None:
            return known
        if depth > MAX_JSON_DEPTH:
            raise EvaluationError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
        total = 2
        for part in (item if isinstance(item, list) else (piece for pair in item.items() for piece in pair)):
            total += size(part, depth + 1) + 1
            if total > MAX_VALUE_SIZE:
                raise EvaluationError(f"{what} is over the {MAX_VALUE_SIZE:,}-character limit of a template")
        sizes[id(item)] = total
        return total

    size(value, 1)
    return value


def wrong_kind(name: str, takes: tuple[Kind, ...], position: int, value: Any) -> EvaluationError | None:
    """The error of passing ``value`` as argument ``position`` (from 0) to a function taking ``takes``."""
    kind = takes[min(position, len(takes) - 1)]
    if kind.admits(value):
        return None
    return EvaluationError(f"{name}() expects {kind.name} as argument {position + 1}, got {kind_of(value)}")


def guarded(name: str, implementation: Callable[..., Any], takes: tuple[Kind, ...] | None,
            skip: int) -> Callable[..., Any]:
    """``implementation`` checking its arguments' kinds (``takes``; the last kind repeats for further
    arguments; the first ``skip`` arguments are the context) and bounding its result; whatever it
    fails with on a bad value becomes an :class:`EvaluationError` naming the function."""

    def call(*arguments: Any) -> Any:
        if takes:
            for position, value in enumerate(arguments[skip:]):
                wrong = wrong_kind(name, takes, position, value)
                if wrong is not None:
                    raise wrong
        try:
            result = implementation(*arguments)
        except EvaluationError:
            raise
        except RecursionError:
            raise EvaluationError(f"{name}(): nested too deeply to evaluate (values in values, or variables "
                                  "reading variables)") from None
        except _VALUE_FAILURES:
            shown = ", ".join(kind_of(value) for value in arguments[skip:])
            raise EvaluationError(f"{name}() cannot be evaluated on ({shown})") from None
        return bounded(result, name)

    return call


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
    takes: tuple[Kind, ...] | None = None


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
                 uses_context: bool = False, pure: bool = True,
                 takes: tuple[Kind, ...] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``implementation`` under ``name``; ``takes`` the kinds of its arguments
        (the last repeats), checked on every call (and at compile time for constant arguments)."""

        def register(implementation: Callable[..., Any]) -> Callable[..., Any]:
            safe = guarded(name, implementation, None if lazy else takes, 1 if uses_context else 0)
            self._functions[name.lower()] = FunctionSpec(name, safe, min_args, max_args, lazy,
                                                         uses_context, pure and not uses_context, takes)
            return implementation

        return register

    def family(self, prefix: str, min_args: int = 0, max_args: int | None = None, *,
               uses_context: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``implementation`` for every name ``prefix<Something>`` (ARM's
        ``list*`` functions); it receives the name as written first, then the context if any."""

        def register(implementation: Callable[..., Any]) -> Callable[..., Any]:
            safe = guarded(prefix, implementation, None, 2 if uses_context else 1)
            self._families[prefix.lower()] = FunctionSpec(prefix, safe, min_args, max_args,
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
