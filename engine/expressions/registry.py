"""Function registries: each function is one small registered unit.

The common registry holds the functions Azure Policy and ARM templates share; a stage makes a
child registry (:meth:`FunctionRegistry.extend`) and registers its context functions on it
(``field`` and ``parameters`` for policy rules; ``resourceId``, ``reference`` for templates).
Names are looked up case-insensitively, as ARM does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from engine.limits import (
    MAX_EXPRESSION_LENGTH,
    MAX_INTEGER,
    MAX_JSON_DEPTH,
    MAX_LAMBDA_BUILT,
    MAX_LAMBDA_STEPS,
    MAX_VALUE_SIZE,
    MIN_INTEGER,
)


class EvaluationError(ValueError):
    """An expression that cannot be evaluated (wrong argument type, missing property ...)."""


class LambdaBudget:
    """What one lambda function call (``map``, ``filter`` ... and the lambda calls nested in it) may
    spend: expression steps evaluated by lambda bodies, and characters or items of the values its
    functions build. ARM documents no bound; ours keep any lambda from hanging or exhausting memory
    (:data:`~engine.limits.MAX_LAMBDA_STEPS`, :data:`~engine.limits.MAX_LAMBDA_BUILT`)."""

    __slots__ = ("built", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.built = 0

    def step(self, count: int, function: str) -> None:
        self.steps += count
        if self.steps > MAX_LAMBDA_STEPS:
            raise EvaluationError(f"{function}(): its lambda evaluates more than {MAX_LAMBDA_STEPS:,} expression "
                                  "steps in one call")

    def build(self, size: int, function: str) -> None:
        self.built += size
        if self.built > MAX_LAMBDA_BUILT:
            raise EvaluationError(f"{function}() inside a lambda: the lambda function call builds more than "
                                  f"{MAX_LAMBDA_BUILT:,} characters or items in all")


LAMBDA_BUDGET: ContextVar[LambdaBudget | None] = ContextVar("LAMBDA_BUDGET", default=None)


@dataclass(frozen=True, slots=True)
class Kind:
    """What an argument may be, as ARM's function reference types it (``int``, ``string`` ...)."""

    name: str
    types: tuple[type, ...]

    def admits(self, value: Any) -> bool:
        """Whether ``value`` is of this kind: a boolean is no integer, a lambda only a lambda."""
        if isinstance(value, Lambda):
            return Lambda in self.types
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types and object not in self.types)


ANY = Kind("any value", (object,))
TEXT = Kind("a string", (str,))
TEXT_OR_NULL = Kind("a string or null", (str, type(None)))
INTEGER = Kind("an integer", (int,))
NUMBER = Kind("a number", (int, float))
SEQUENCE = Kind("an array or a string", (list, str))
COLLECTION = Kind("an array or an object", (list, dict))
SCALAR = Kind("a string or an integer", (str, int))
ARRAY = Kind("an array", (list,))
OBJECT = Kind("an object", (dict,))


class Lambda:
    """Marker base of :class:`engine.expressions.lambdas.Lambda` values (the kind functions taking a
    lambda declare): defined here so that kinds need not import the lambda runtime."""

    __slots__ = ()


LAMBDA = Kind("a lambda", (Lambda,))


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
    """``value`` if it is within ARM's limits for what a function may build (see :mod:`engine.limits`);
    inside a lambda function its size also counts against the lambda's budget (:mod:`.lambdas`)."""
    if isinstance(value, str | list | dict):
        size = len(value)
        if size > MAX_VALUE_SIZE:
            raise EvaluationError(f"{function}() would build a value of {size:,} characters or items, over "
                                  f"the {MAX_VALUE_SIZE:,} limit of a template")
        budget = LAMBDA_BUDGET.get()
        if budget is not None:
            budget.build(size, function)
    elif isinstance(value, int) and not isinstance(value, bool) and not MIN_INTEGER <= value <= MAX_INTEGER:
        raise EvaluationError(f"{function}() overflows ARM's 64-bit integers")
    return value


def within_size(value: Any, what: str) -> Any:
    """``value`` if its JSON text stays within a template's 4 MB and its nesting within 64 levels.

    Parts shared by reference (a variable used twice in another) count each time they appear, as
    in the JSON they become, but are walked once: the walk stops as soon as the limit is passed.
    """
    _json_size(value, 1, {}, what)
    return value


def _json_size(item: Any, depth: int, sizes: dict[int, int], what: str) -> int:
    """A module-level function, not a closure: a recursive closure is a reference cycle per call, which only
    the cyclic collector frees (and a plan calls this hundreds of thousands of times)."""
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
        total += _json_size(part, depth + 1, sizes, what) + 1
        if total > MAX_VALUE_SIZE:
            raise EvaluationError(f"{what} is over the {MAX_VALUE_SIZE:,}-character limit of a template")
    sizes[id(item)] = total
    return total


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
    first; ``pure`` functions of constant arguments are folded at compile time. A ``refusal`` is
    the reason a documented function is not evaluated here (refused when compiling); a ``form``
    is compiled by the compiler itself (``lambda``, ``lambdaVariables``).
    """

    name: str
    implementation: Callable[..., Any]
    min_args: int
    max_args: int | None
    lazy: bool = False
    uses_context: bool = False
    pure: bool = True
    takes: tuple[Kind, ...] | None = None
    refusal: str | None = None
    form: str | None = None


@dataclass(frozen=True)
class ExpressionLimits:
    """What one expression may hold when compiled: ARM's template limits unless a registry sets others
    (Azure Policy's, for policy rules)."""

    owner: str = "ARM"
    max_length: int = MAX_EXPRESSION_LENGTH
    max_arguments: int | None = None  # arguments of one call (ARM documents none)


ARM_LIMITS = ExpressionLimits()


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
    def __init__(self, parent: FunctionRegistry | None = None, interceptor: Interceptor | None = None,
                 limits: ExpressionLimits | None = None):
        self._parent = parent
        self._interceptor = interceptor
        self._limits = limits
        self._functions: dict[str, FunctionSpec] = {}
        self._families: dict[str, FunctionSpec] = {}

    def extend(self, interceptor: Interceptor | None = None, limits: ExpressionLimits | None = None) -> FunctionRegistry:
        """A child registry: sees every function of this one, adds or overrides its own."""
        return FunctionRegistry(self, interceptor, limits)

    @property
    def limits(self) -> ExpressionLimits:
        """This registry's expression limits, else its parent's (ARM's at the root)."""
        if self._limits is not None:
            return self._limits
        return ARM_LIMITS if self._parent is None else self._parent.limits

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

    def refuse(self, name: str, reason: str, *, family: bool = False) -> None:
        """Register a documented function this registry does not evaluate, with the reason (a family
        refuses every name ``name<Something>``); using it fails when compiling, naming the reason."""
        spec = FunctionSpec(name, _refused, 0, None, pure=False, refusal=reason)
        (self._families if family else self._functions)[name.lower()] = spec

    def form(self, name: str, min_args: int, max_args: int | None) -> None:
        """Register ``name`` as a form the compiler builds itself (``lambda``, ``lambdaVariables``)."""
        self._functions[name.lower()] = FunctionSpec(name, _refused, min_args, max_args, pure=False, form=name.lower())

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
        """The names of the functions this registry evaluates (forms included, refusals not)."""
        return {spec.name for spec in self._specs().values() if spec.refusal is None}

    def refusals(self) -> dict[str, str]:
        """Each refused name (a family's as ``prefix*``) and its reason."""
        refused = {spec.name: spec.refusal for spec in self._specs().values() if spec.refusal is not None}
        return refused | {f"{spec.name}*": spec.refusal for spec in self._family_specs().values()
                          if spec.refusal is not None}

    def families(self) -> set[str]:
        """The prefixes of the function families this registry evaluates (``list`` for ``list*``)."""
        return {spec.name for spec in self._family_specs().values() if spec.refusal is None}

    def _specs(self) -> dict[str, FunctionSpec]:
        inherited = self._parent._specs() if self._parent is not None else {}
        return inherited | self._functions

    def _family_specs(self) -> dict[str, FunctionSpec]:
        inherited = self._parent._family_specs() if self._parent is not None else {}
        return inherited | self._families


def _refused(*arguments: Any) -> Any:
    raise EvaluationError("a refused function or a form is never called")


def _member_of(family: FunctionSpec, name: str) -> FunctionSpec:
    if family.refusal is not None:
        return FunctionSpec(name, _refused, 0, None, pure=False, refusal=family.refusal)
    implementation = family.implementation
    return FunctionSpec(name, lambda *arguments: implementation(name, *arguments), family.min_args,
                        family.max_args, uses_context=family.uses_context, pure=False)


COMMON_FUNCTIONS = FunctionRegistry()
"""The functions Azure Policy rules and ARM templates share."""
POLICY_RULE_FUNCTIONS = COMMON_FUNCTIONS.extend()
"""Policy rules: the common functions, those only policy rules have (the policy stage adds its context
functions on a child), and the template functions the Azure Policy docs exclude, refused."""
TEMPLATE_LANGUAGE_FUNCTIONS = COMMON_FUNCTIONS.extend()
"""ARM templates: the common functions and the template-only ones that need no deployment (dates, lambdas);
the template stage adds its deployment functions on a child."""
