"""Which parameters of a definition hold secrets, by where their values go (not by their names).

Azure Policy parameters have no secure type, but a value becomes secret through its use:

* it feeds a ``secureString`` / ``secureObject`` parameter of the deployIfNotExists template
  (``then.details.deployment.properties.parameters.<name>.value``; a Key Vault ``reference`` names
  where the secret is, which is not itself secret);
* a condition compares it with a protected-settings path (``configurationProtectedSettings``, which
  ARM stores write-only), so showing it would show the protected value.

An initiative parameter is secret when it flows into a member's secret parameter.
See https://learn.microsoft.com/azure/azure-resource-manager/templates/parameters#secure-parameters
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

PROTECTED_SETTINGS = "configurationprotectedsettings"
SECURE_TYPES = frozenset({"securestring", "secureobject"})
PARAMETER_REFERENCE = re.compile(r"parameters\(\s*'([^']*)'\s*\)", re.IGNORECASE)
LEAF_KEYS = frozenset({"field", "value", "count"})


def referenced_parameters(value: Any) -> set[str]:
    """The (lower-case) names of the parameters an expression, or any expression inside a JSON value, reads."""
    text = value if isinstance(value, str) else json.dumps(value)
    return {name.lower() for name in PARAMETER_REFERENCE.findall(text)}


def touches_protected_settings(value: Any) -> bool:
    """Whether a condition (or expression) reads a protected-settings path."""
    return PROTECTED_SETTINGS in (value if isinstance(value, str) else json.dumps(value)).lower()


def _leaf_conditions(condition: Any) -> Iterator[dict[str, Any]]:
    """Every field/value/count condition of a condition tree (existence conditions and count wheres included)."""
    if isinstance(condition, dict):
        if LEAF_KEYS & {key.lower() for key in condition}:
            yield condition
            return
        for item in condition.values():
            yield from _leaf_conditions(item)
    elif isinstance(condition, list):
        for item in condition:
            yield from _leaf_conditions(item)


def _lower_keys(value: Any) -> dict[str, Any]:
    return {str(key).lower(): item for key, item in value.items()} if isinstance(value, dict) else {}


def _template_secure_inputs(policy_rule: dict[str, Any]) -> set[str]:
    """Policy parameters read by the values given to the DINE template's secure parameters."""
    details = _lower_keys(_lower_keys(_lower_keys(policy_rule).get("then")).get("details"))
    deployment = _lower_keys(_lower_keys(details.get("deployment")).get("properties"))
    declared = _lower_keys(_lower_keys(deployment.get("template")).get("parameters"))
    secure = {name for name, declaration in declared.items()
              if str(_lower_keys(declaration).get("type", "")).lower() in SECURE_TYPES}
    given = _lower_keys(deployment.get("parameters"))
    return {parameter for name in secure for parameter in referenced_parameters(_lower_keys(given.get(name)).get("value"))}


def secure_parameters(policy_rule: dict[str, Any]) -> frozenset[str]:
    """The (lower-case) names of a definition's parameters whose values are secret."""
    secure = _template_secure_inputs(policy_rule)
    for condition in _leaf_conditions(policy_rule):
        if touches_protected_settings(condition):
            secure |= referenced_parameters(condition)
    return frozenset(secure)


def secure_set_parameters(references: list[tuple[dict[str, Any], frozenset[str]]]) -> frozenset[str]:
    """An initiative's secret parameters: those read by the values given to its members' secret
    parameters (``references``: each member's ``parameters`` and that member's secret names)."""
    return frozenset(name for given, secure in references for member, wrapped in given.items()
                     if member.lower() in secure for name in referenced_parameters(wrapped))
