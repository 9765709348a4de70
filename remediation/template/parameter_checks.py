"""A template parameter's declaration and ARM's validation of the value a deployment gives it.

templates/parameters.md: "Each parameter must be set to one of the data types"; "The deployment
fails during validation if a value is passed in for the parameter that isn't one of the allowed
values"; ``minLength``/``maxLength`` bound a string's characters and an array's items, ``minValue``/
``maxValue`` an integer. Data types and their names are case-insensitive (data-types.md). ARM
compares allowed strings ignoring case (only Bicep's ``@allowed`` is case-sensitive) and checks every
item of an array parameter. A value only known at apply time (``reference()``) is checked by ARM then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.azure_policy.secure import SECURE_TYPES
from remediation.template.compile import TemplateError
from remediation.template.values import Deferred, SecretScalar

DATA_TYPES = {"string": str, "securestring": str, "int": int, "bool": bool, "object": dict,
              "secureobject": dict, "array": list}


@dataclass(frozen=True, slots=True)
class ParameterRules:
    """What a declaration asks of a parameter's value besides its type."""

    allowed: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None


def declared_type(declaration: dict[str, Any], source: str, path: str) -> str:
    """The declaration's data type, lower-case; a missing or non-text type is refused, as ARM does.

    A type name outside data-types.md's list is kept, its values unchecked: Microsoft's own
    built-ins declare one (``Integer``, PostgreSQL/FlexibleServers_LogRetentionDays_DINE.json) and
    what ARM makes of it is not documented.
    """
    kind = declaration.get("type")
    if not isinstance(kind, str) or not kind:
        raise TemplateError(source, f"a parameter's type is one of {', '.join(DATA_TYPES)}", location=f"{path}.type",
                            value=kind)
    return kind.lower()


def declared_rules(declaration: dict[str, Any], source: str, path: str) -> ParameterRules:
    """``allowedValues`` and the length and value bounds, literal values (expressions aren't allowed there)."""
    allowed = declaration.get("allowedValues")
    if allowed is not None and not isinstance(allowed, list):
        raise TemplateError(source, "'allowedValues' is an array", location=f"{path}.allowedValues", value=allowed)
    bounds = {}
    for name in ("minLength", "maxLength", "minValue", "maxValue"):
        bound = declaration.get(name)
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise TemplateError(source, f"'{name}' is an integer", location=f"{path}.{name}", value=bound)
        bounds[name] = bound
    return ParameterRules(None if allowed is None else tuple(allowed), bounds["minLength"], bounds["maxLength"],
                          bounds["minValue"], bounds["maxValue"])


def check_value(name: str, kind: str, rules: ParameterRules, value: Any, source: str, path: str) -> None:
    """Refuse ``value`` for parameter ``name`` where ARM's validation would (shown unless secure)."""
    plain = value.value if isinstance(value, SecretScalar) else value
    if isinstance(plain, Deferred):
        return
    shown = None if kind in SECURE_TYPES or isinstance(value, SecretScalar) else value

    def refuse(why: str) -> None:
        raise TemplateError(source, f"the value of parameter '{name}' {why}", location=path, value=shown)

    wanted = DATA_TYPES.get(kind, object)
    if not isinstance(plain, wanted) or (wanted is int and isinstance(plain, bool)):
        refuse(f"is not of its type '{kind}'")
    if rules.allowed is not None:
        items = plain if kind == "array" else [plain]
        if not all(any(_same(item, allowed) for allowed in rules.allowed) for item in items):
            refuse("is not one of its allowedValues")
    if isinstance(plain, str | list):
        if rules.min_length is not None and len(plain) < rules.min_length:
            refuse(f"is shorter than its minLength {rules.min_length}")
        if rules.max_length is not None and len(plain) > rules.max_length:
            refuse(f"is longer than its maxLength {rules.max_length}")
    if kind == "int":
        if rules.min_value is not None and plain < rules.min_value:
            refuse(f"is less than its minValue {rules.min_value}")
        if rules.max_value is not None and plain > rules.max_value:
            refuse(f"is greater than its maxValue {rules.max_value}")


def _same(value: Any, allowed: Any) -> bool:
    if isinstance(value, str) and isinstance(allowed, str):
        return value.lower() == allowed.lower()
    return type(value) is type(allowed) and value == allowed
