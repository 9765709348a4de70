"""Values that flow through template evaluation and carry where they came from.

Offline, a template cannot know ``reference()`` or ``listKeys()`` results, and must never hold a
secret in clear in anything it outputs. So a deferred call evaluates to a :class:`Deferred`
(resolved by apply), and a string that came from an assignment parameter or a Key Vault reference
is a :class:`TracedText` that remembers its origin, so redaction can say where apply re-derives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from remediation.plan.models import REDACTED, DeferredValue, SecretSource

PROTECTED_SETTINGS = "configurationprotectedsettings"


class Deferred(dict):  # type: ignore[type-arg]
    """``reference(...)`` / ``listKeys(...)``: a value only apply can know.

    It is a dict so that member access (``reference(id).customerId``) works through the
    expression compiler; every member read extends ``property_path`` instead of failing.
    """

    def __init__(self, function: str, resource_id: str, api_version: str | None,
                 property_path: tuple[str, ...] = (), expression: str | None = None):
        super().__init__()
        self.function = function
        self.resource_id = resource_id
        self.api_version = api_version
        self.property_path = property_path
        self.expression = expression

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __getitem__(self, name: str) -> Deferred:
        return Deferred(self.function, self.resource_id, self.api_version, (*self.property_path, name),
                        self.expression)

    def with_expression(self, expression: str) -> Deferred:
        return Deferred(self.function, self.resource_id, self.api_version, self.property_path, expression)

    def describe(self) -> str:
        """How the value is shown in a plan: the call, not a value."""
        suffix = "".join(f".{name}" for name in self.property_path)
        return f"<deferred: {self.expression or self.function + '(' + repr(self.resource_id) + ')' + suffix}>"

    def to_model(self, path: str) -> DeferredValue:
        return DeferredValue(path=path, function="listKeys" if self.function == "listKeys" else "reference",
                             resource_id=self.resource_id, api_version=self.api_version,
                             property_path=".".join(self.property_path) or None,
                             expression=self.expression or self.describe())


class TracedText(str):
    """A string that remembers where it came from (an assignment parameter, a Key Vault secret).

    ``secret`` marks values of ``secureString`` parameters and Key Vault references: they are
    redacted wherever they land, not only under ``configurationProtectedSettings``.
    """

    source: SecretSource
    secret: bool

    def __new__(cls, value: str, source: SecretSource, secret: bool = False) -> TracedText:
        text = super().__new__(cls, value)
        text.source = source
        text.secret = secret
        return text


@dataclass(frozen=True, slots=True)
class Redacted:
    """A body with its secrets and deferred values taken out, and where each comes from."""

    body: Any
    deferred_values: list[DeferredValue]
    secret_sources: list[SecretSource]


def redact(body: Any, template_source: SecretSource, template_values: dict[str, Any] | None = None) -> Redacted:
    """Replace secrets by ``<redacted>`` and deferred values by their description.

    Every value under ``configurationProtectedSettings`` is a secret; so is any secret-traced
    string anywhere. ``template_source`` is the origin of secrets written literally in a template;
    ``template_values``, when given, receives each of those in clear by path (apply re-derives
    them so, in memory only).
    """
    deferred: list[DeferredValue] = []
    secrets: list[SecretSource] = []

    def walk(value: Any, path: str, protected: bool) -> Any:
        if isinstance(value, Deferred):
            model = value.to_model(path)
            deferred.append(model)
            if protected:
                secrets.append(SecretSource(path=path, kind="deferred", deferred=model))
                return REDACTED
            return value.describe()
        if isinstance(value, dict):
            return {key: walk(item, f"{path}.{key}" if path else key,
                              protected or key.lower() == PROTECTED_SETTINGS) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, f"{path}[{index}]", protected) for index, item in enumerate(value)]
        if isinstance(value, TracedText):
            if protected or value.secret:
                secrets.append(value.source.model_copy(update={"path": path}))
                return REDACTED
            return str(value)
        if protected:
            secrets.append(template_source.model_copy(update={"path": path}))
            if template_values is not None:
                template_values[path] = value
            return REDACTED
        return value

    return Redacted(walk(body, "", False), deferred, secrets)
