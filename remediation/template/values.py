"""Values that flow through template evaluation and carry where they came from.

Offline, a template cannot know ``reference()`` or ``list*()`` results, and must never hold a
secret in clear in anything it outputs. So:

* a deferred call evaluates to a :class:`Deferred`; any function, member access or index applied
  to one gives another :class:`Deferred` whose ``code`` is the residual expression apply evaluates
  (every other value substituted as a literal), never a silently wrong value;
* a string that came from an assignment parameter or a Key Vault reference is a
  :class:`TracedText` that remembers its origin; ``secret`` ones (``secureString`` /
  ``secureObject`` parameters, Key Vault secrets) taint every result computed from them
  (:data:`MARKS`, the template registry's interceptor): strings become secret :class:`TracedText`,
  objects and arrays are marked leaf by leaf, other scalars become :class:`SecretScalar`. A
  derived secret's source is ``template``: apply re-expands the template to re-derive it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from engine.expressions import EvaluationError, FunctionSpec
from engine.expressions.lambdas import Lambda
from engine.expressions.registry import LAMBDA
from remediation.plan.models import REDACTED, DeferredValue, SecretSource

PROTECTED_SETTINGS = "configurationprotectedsettings"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]+$")


# ---- deferred values --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeferredCall:
    """One ``reference(...)`` / ``list*(...)`` call, with its arguments known at plan time."""

    function: str  # "reference", "listKeys", "listSecrets" ...
    resource_id: str
    api_version: str | None
    code: str  # the call as residual expression text


class Deferred:
    """A value only apply can know: a deferred call, or an expression computed from such calls.

    ``property_path`` is set while the value is a bare call followed by member reads (the plan
    records it as ``function(resource_id).property_path``); anything else is recorded by its
    residual ``code``.
    """

    __slots__ = ("calls", "code", "expression", "property_path")

    def __init__(self, code: str, calls: tuple[DeferredCall, ...], property_path: tuple[str, ...] | None,
                 expression: str | None = None):
        self.code = code
        self.calls = calls
        self.property_path = property_path
        self.expression = expression

    @classmethod
    def of_call(cls, function: str, resource_id: str, api_version: str | None, *extra: Any) -> Deferred:
        """``function(resource_id, api_version, extra...)``; ``reference(..., 'Full')`` and list
        calls with a request body are recorded by their residual only."""
        arguments = [resource_id, *([api_version] if api_version is not None or extra else []), *extra]
        code = f"{function}({', '.join(render(argument) for argument in arguments)})"
        call = DeferredCall(function, resource_id, api_version, code)
        return cls(code, (call,), None if extra else ())

    @classmethod
    def computed(cls, function: str, values: Iterable[Any]) -> Deferred:
        """``function(values...)`` where some value is deferred: evaluated by apply."""
        values = list(values)
        calls = tuple(dict.fromkeys(call for value in values for call in _deferred_calls(value)))
        return cls(f"{function}({', '.join(render(value) for value in values)})", calls, None)

    def member(self, name: str) -> Deferred:
        code = f"{self.code}.{name}" if _IDENTIFIER.match(name) else f"{self.code}[{render(name)}]"
        path = None if self.property_path is None else (*self.property_path, name)
        return Deferred(code, self.calls, path)

    @classmethod
    def indexed(cls, value: Any, position: Any) -> Deferred:
        """``value[position]`` where either is deferred."""
        if isinstance(value, Deferred) and isinstance(position, str) and not isinstance(position, Deferred):
            return value.member(position)
        calls = tuple(dict.fromkeys([*_deferred_calls(value), *_deferred_calls(position)]))
        return cls(f"{render(value)}[{render(position)}]", calls, None)

    def with_expression(self, expression: str) -> Deferred:
        return Deferred(self.code, self.calls, self.property_path, expression)

    def describe(self) -> str:
        """How the value is shown in a plan: the expression, not a value."""
        return f"<deferred: {self.expression or '[' + self.code + ']'}>"

    def to_model(self, path: str) -> DeferredValue:
        first = self.calls[0]
        expression = self.expression or f"[{self.code}]"
        if self.property_path is not None and len(self.calls) == 1:
            return DeferredValue(path=path, function=first.function, resource_id=first.resource_id,
                                 api_version=first.api_version,
                                 property_path=".".join(self.property_path) or None, expression=expression)
        return DeferredValue(path=path, function=first.function, resource_id=first.resource_id,
                             api_version=first.api_version, expression=expression, residual=f"[{self.code}]",
                             reads=list(dict.fromkeys(call.resource_id for call in self.calls)))


def _deferred_calls(value: Any) -> list[DeferredCall]:
    if isinstance(value, Deferred):
        return list(value.calls)
    if isinstance(value, dict):
        return [call for item in value.values() for call in _deferred_calls(item)]
    if isinstance(value, list):
        return [call for item in value for call in _deferred_calls(item)]
    return []


def render(value: Any) -> str:
    """A value as expression text that evaluates to it (secrets never: see :data:`MARKS`)."""
    if isinstance(value, Deferred):
        return value.code
    if is_secret(value):
        raise EvaluationError("a secret cannot be combined with a value known only at apply time")
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true()" if value else "false()"
    if value is None:
        return "null()"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return f"createArray({', '.join(render(item) for item in value)})"
    if isinstance(value, dict):
        return f"createObject({', '.join(render(part) for key, item in value.items() for part in (key, item))})"
    if isinstance(value, Lambda):
        raise EvaluationError("a lambda function cannot be applied to a value known only at apply time (from "
                              "reference() or a list function)")
    raise EvaluationError(f"cannot carry a {type(value).__name__} value to apply time")


# ---- traced and secret values -----------------------------------------------------------------
class TracedText(str):
    """A string that remembers where it came from (an assignment parameter, a Key Vault secret).

    ``secret`` marks values of ``secureString`` parameters, Key Vault references and anything
    computed from them: they are redacted wherever they land, not only under
    ``configurationProtectedSettings``.
    """

    source: SecretSource
    secret: bool

    def __new__(cls, value: str, source: SecretSource, secret: bool = False) -> TracedText:
        text = super().__new__(cls, value)
        text.source = source
        text.secret = secret
        return text


class SecretScalar:
    """A number, boolean or null computed from a secret: opaque to everything but :data:`MARKS`."""

    __slots__ = ("source", "value")

    def __init__(self, value: Any, source: SecretSource):
        self.value = value
        self.source = source

    def __repr__(self) -> str:
        return REDACTED


def is_secret(value: Any) -> bool:
    return isinstance(value, SecretScalar) or (isinstance(value, TracedText) and value.secret)


def derived_source(sources: list[SecretSource]) -> SecretSource:
    """Where apply re-derives a value computed from secrets: the template, re-expanded.

    A value computed from a Key Vault secret keeps the vault and secret: re-expansion cannot read
    the vault, so redaction refuses it (:class:`UnplannableValue`) instead of planning a wrong one.
    """
    vault = next((source for source in sources if source.kind == "keyVault" or source.key_vault_id), None)
    assignment = next((source.policy_assignment_id for source in sources if source.policy_assignment_id), None)
    if vault is None:
        return SecretSource(path="", kind="template", policy_assignment_id=assignment)
    return SecretSource(path="", kind="template", policy_assignment_id=assignment,
                        key_vault_id=vault.key_vault_id, secret_name=vault.secret_name, parameters=vault.parameters)


def mark_secret(value: Any, source: SecretSource) -> Any:
    """``value`` marked secret: strings and scalars themselves, objects and arrays leaf by leaf.

    Values already secret keep their own (more precise) source.
    """
    if is_secret(value) or isinstance(value, Deferred):
        return value
    if isinstance(value, str):
        return TracedText(value, source, secret=True)
    if isinstance(value, dict):
        return {key: mark_secret(item, source) for key, item in value.items()}
    if isinstance(value, list):
        return [mark_secret(item, source) for item in value]
    return SecretScalar(value, source)


def _plain(value: Any) -> Any:
    """What functions see of a secret: its value (secret strings are strings already)."""
    if isinstance(value, SecretScalar):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_PLAIN = frozenset({str, int, bool, float, type(None)})  # exact types that hold neither a mark nor a deferral


def _scan(value: Any, sources: list[SecretSource]) -> bool:
    """Whether ``value`` holds a deferred value; appends the source of every secret it holds."""
    if type(value) is str or value is None or type(value) is int or type(value) is bool:
        return False
    if isinstance(value, Deferred):
        return True
    if isinstance(value, TracedText):
        if value.secret:
            sources.append(value.source)
        return False
    if isinstance(value, SecretScalar):
        sources.append(value.source)
        return False
    if not isinstance(value, dict | list):
        return False
    cache = _SCANNED.get()
    known = None if cache is None else cache.get(id(value))
    if known is not None:
        sources.extend(known[2])
        return known[1]
    found: list[SecretSource] = []
    items = value.values() if isinstance(value, dict) else value
    deferred = any([_scan(item, found) for item in items if type(item) not in _PLAIN])
    sources.extend(found)
    if cache is not None:
        cache[id(value)] = (value, deferred, tuple(found))
    return deferred


# While a lambda function runs, the objects and arrays already scanned, by id (kept alive with what
# their scan found): values its lambda's body shares are scanned once, not once per element.
_SCANNED: ContextVar[dict[int, tuple[Any, bool, tuple[SecretSource, ...]]] | None] = ContextVar("_SCANNED",
                                                                                                default=None)


def _scanning_once(call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` with a cache of scanned values open while it runs (see :data:`_SCANNED`)."""

    def scanning(*arguments: Any) -> Any:
        if _SCANNED.get() is not None:
            return call(*arguments)
        token = _SCANNED.set({})
        try:
            return call(*arguments)
        finally:
            _SCANNED.reset(token)

    return scanning


def _watched(lambda_: Lambda, sources: list[SecretSource]) -> Lambda:
    """``lambda_`` whose values are given plain to the lambda function calling it, the secrets they hold
    recorded in ``sources``; a value only apply can know cannot be carried through a lambda."""
    body = lambda_.body

    def watched(context: Any) -> Any:
        result = body(context)
        if _scan(result, sources):
            raise EvaluationError("a lambda's value is only known at apply time (from reference() or a list "
                                  "function): lambda functions need values known when planning")
        return _plain(result) if sources else result

    return Lambda(lambda_.names, watched, lambda_.steps, lambda_.context)


class _Unknown(Exception):
    """A lazy function's operand is deferred: the whole call is."""


class Marks:
    """The template registry's interceptor: deferral and secret taint through every function."""

    def wrap(self, spec: FunctionSpec) -> Callable[..., Any]:
        return self._lazy(spec) if spec.lazy else self._eager(spec)

    @staticmethod
    def _eager(spec: FunctionSpec) -> Callable[..., Any]:
        implementation, name, skip = spec.implementation, spec.name, 1 if spec.uses_context else 0
        takes_lambdas = bool(spec.takes) and LAMBDA in spec.takes  # type: ignore[operator]

        def call(*arguments: Any) -> Any:
            sources: list[SecretSource] = []
            deferred = any([_scan(value, sources) for value in arguments[skip:]])
            if deferred:
                if skip:
                    raise EvaluationError(f"{name}() needs values known when planning, but an argument is only "
                                          "known at apply time (from reference() or a list function)")
                return Deferred.computed(name, arguments)
            if takes_lambdas:  # secrets a lambda's values derive from taint the whole result
                arguments = tuple(_watched(value, sources) if isinstance(value, Lambda) else value
                                  for value in arguments)
            if not sources:
                result = implementation(*arguments)
                return mark_secret(result, derived_source(sources)) if sources else result
            try:
                result = implementation(*arguments[:skip], *(_plain(value) for value in arguments[skip:]))
            except (EvaluationError, ValueError, TypeError, KeyError, IndexError):
                raise EvaluationError(f"{name}() cannot be evaluated on the secret value it was given") from None
            return mark_secret(result, derived_source(sources)) if sources else result

        return _scanning_once(call) if takes_lambdas else call

    @staticmethod
    def _lazy(spec: FunctionSpec) -> Callable[..., Any]:
        implementation, name, skip = spec.implementation, spec.name, 1 if spec.uses_context else 0

        def call(*arguments: Any) -> Any:
            head, thunks = arguments[:skip], arguments[skip:]
            sources: list[SecretSource] = []

            def watched(thunk: Callable[[], Any]) -> Callable[[], Any]:
                def value() -> Any:
                    result = thunk()
                    if _scan(result, sources):
                        raise _Unknown
                    return _plain(result) if isinstance(result, SecretScalar) else result

                return value

            try:
                result = implementation(*head, *(watched(thunk) for thunk in thunks))
            except _Unknown:  # every operand, to decide at apply time
                return Deferred.computed(name, [thunk() for thunk in thunks])
            return mark_secret(result, derived_source(sources)) if sources else result

        return call

    @staticmethod
    def member(value: Any, name: str, plain: Callable[[Any, str], Any]) -> Any:
        if isinstance(value, Deferred):
            return value.member(name)
        return plain(_plain(value), name)

    @staticmethod
    def index(value: Any, position: Any, plain: Callable[[Any, Any], Any]) -> Any:
        sources: list[SecretSource] = []
        if _scan(position, sources) or isinstance(value, Deferred):
            return Deferred.indexed(value, position)
        result = plain(_plain(value), _plain(position))
        if isinstance(value, SecretScalar):
            sources.append(value.source)
        return mark_secret(result, derived_source(sources)) if sources else result


MARKS = Marks()


# ---- redaction --------------------------------------------------------------------------------
class UnplannableValue(Exception):
    """A value that would land in a plan but can neither be shown nor re-derived by apply."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class Redacted:
    """A body with its secrets and deferred values taken out, and where each comes from."""

    body: Any
    deferred_values: list[DeferredValue]
    secret_sources: list[SecretSource]


def redact(body: Any, template_source: SecretSource, template_values: dict[str, Any] | None = None) -> Redacted:
    """Replace secrets by ``<redacted>`` and deferred values by their description.

    Every value under ``configurationProtectedSettings`` is a secret; so is any secret-marked
    value anywhere. ``template_source`` is the origin of secrets written literally in a template;
    ``template_values``, when given, receives each secret apply re-derives by re-expanding the
    template (written or computed in it) in clear by path (in memory only).
    Raises :class:`UnplannableValue` for a value computed from a Key Vault secret.
    """
    redaction = _Redaction(template_source, template_values)
    return Redacted(redaction.walk(body, "", False), redaction.deferred, redaction.secrets)


class _Redaction:
    """One body's walk (methods, not recursive closures: those are a reference cycle per body)."""

    def __init__(self, template_source: SecretSource, template_values: dict[str, Any] | None):
        self.template_source, self.template_values = template_source, template_values
        self.deferred: list[DeferredValue] = []
        self.secrets: list[SecretSource] = []

    def secret(self, value: Any, source: SecretSource, path: str) -> str:
        if source.kind == "template" and source.key_vault_id:
            raise UnplannableValue(path, f"the value is computed from Key Vault secret '{source.secret_name}', "
                                         "which apply cannot re-derive; pass the secret unchanged")
        self.secrets.append(source.model_copy(update={"path": path}))
        if source.kind == "template" and self.template_values is not None:
            self.template_values[path] = value
        return REDACTED

    def walk(self, value: Any, path: str, protected: bool) -> Any:
        if isinstance(value, Deferred):
            model = value.to_model(path)
            self.deferred.append(model)
            if protected:
                self.secrets.append(SecretSource(path=path, kind="deferred", deferred=model))
                return REDACTED
            return value.describe()
        if isinstance(value, dict):
            return {key: self.walk(item, f"{path}.{key}" if path else key,
                                   protected or key.lower() == PROTECTED_SETTINGS) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, f"{path}[{index}]", protected) for index, item in enumerate(value)]
        if isinstance(value, SecretScalar):
            return self.secret(value.value, value.source, path)
        if isinstance(value, TracedText):
            if protected or value.secret:
                return self.secret(str(value), value.source, path)
            return str(value)
        if protected:
            return self.secret(value, self.template_source, path)
        return value
