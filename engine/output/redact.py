"""Secrets never leave arcpolicy: values under secret-looking keys, and values secret by their
origin (:mod:`engine.secret_values`), are masked in every output.

ARM never returns ``configurationProtectedSettings`` values, but an evaluator's ``actual`` or a
Rego violation's ``details`` may still carry one; masking here covers every format and the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.models.results import PolicyState
from engine.secret_keys import is_secret_key
from engine.secret_values import MASK, scrub_data


def redact_value(value: Any) -> Any:
    """``value`` with everything under a secret-looking key replaced by ``***``."""
    if isinstance(value, dict):
        return {key: (MASK if is_secret_key(key) and item is not None else redact_value(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


def blank_secrets(value: Any, secret: bool = False) -> Any:
    """``value`` with every non-empty value under a secret-looking key replaced by ``***``, keeping the shape.

    For stored inventories: a protected setting keeps its keys (ARM itself returns them with empty values),
    so a policy that tests which settings exist decides a stored cluster as it decided the original.
    """
    if isinstance(value, dict):
        return {key: blank_secrets(item, secret or is_secret_key(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [blank_secrets(item, secret) for item in value]
    return MASK if secret and value not in (None, "") else value


REGO_OWN_FIELDS = ("details", "remediation")


def redact_record(record: dict[str, Any]) -> dict[str, Any]:
    """A policy state's JSON document (:meth:`PolicyState.to_json`) safe to show or store: values under
    secret-looking keys and values secret by origin masked, and a reason about a protected setting showing its
    field name, never the value found. The same object when nothing needed masking.

    A Rego policy writes its violations' ``details`` and ``remediation`` from an input that holds no
    secret value (protected settings arrive as ``""``, engine.rego.library.policy_input), so those
    are masked by origin only (:func:`scrub_data`: values known secret, wherever they travel):
    by key name, an ``enableSecretRotation`` setting or a release-train map keyed by
    ``microsoft.azurekeyvaultsecretsprovider`` would read ``***``.
    """
    own = {field: record[field] for field in REGO_OWN_FIELDS if field in record} \
        if str(record.get("policyDefinitionId", "")).lower().startswith("rego:") else {}
    rest = {key: value for key, value in record.items() if key not in own}
    redacted = scrub_data({**redact_value(rest), **own})
    for reason in redacted.get("reasons", []):
        # A reason about a protected setting shows its field name, never the value found.
        if is_secret_key(reason.get("field", "")):
            reason.update({key: MASK for key in ("expected", "actual") if reason.get(key) is not None})
    if redacted == record:
        return record
    return {key: redacted[key] for key in record}  # the record's own order (its fields')


def holds_secret_keys(reasons: Iterable[tuple[Any, Any, Any]], details: Any, remediation: Any) -> bool:
    """Whether a record's free-form values name a key that looks secret: a reason's ``(field, expected,
    actual)`` about such a field or with such a key inside its values, or such a key in details or remediation."""
    for field, *values in reasons:
        if field is not None and is_secret_key(field):
            return True
        for value in values:
            if isinstance(value, CONTAINERS) and _names_secret_key(value):
                return True
    return _names_secret_key(details) or _names_secret_key(remediation)


CONTAINERS = (dict, list, tuple)


def _names_secret_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(is_secret_key(key) or (isinstance(item, CONTAINERS) and _names_secret_key(item))
                   for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(isinstance(item, CONTAINERS) and _names_secret_key(item) for item in value)
    return False


def redact_state(state: PolicyState) -> PolicyState:
    """A copy of ``state`` safe to show or store (:func:`redact_record`)."""
    record = state.to_json()
    redacted = redact_record(record)
    return state if redacted is record else PolicyState.model_validate(redacted)
