"""Secrets are known by where they come from, and masked in any encoding wherever text leaves."""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import string
from urllib.parse import quote

import pytest

from engine.azure_policy.documents import (
    PolicyAssignment,
    PolicyDefinition,
    PolicyDocuments,
    PolicySetDefinition,
)
from engine.azure_policy.library import AzurePolicyLibrary
from engine.azure_policy.secure import secure_parameters
from engine.errors import InputError
from engine.secret_values import MASK, SecretValues
from engine.structured_logging import logging_configured

SECRET = 'Zq-origin/secret+"value" 42'


def test_every_encoding_of_a_remembered_value_is_masked():
    values = SecretValues()
    values.remember({"outer": [SECRET, 123456789], "short": "abc"})
    raw = SECRET.encode()
    for form in (SECRET, SECRET.upper(), json.dumps(SECRET)[1:-1], quote(SECRET, safe=""),
                 base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="),
                 raw.hex(), raw.hex().upper(), SECRET.replace('"', "&quot;")):
        assert values.scrub(f"before {form} after") == f"before {MASK} after", form
    assert values.scrub("abc and 12345678") == "abc and 12345678"  # too short to mask, or not the number
    assert values.scrub_data({SECRET: [123456789, "x"], "n": 123456789}) == {MASK: [MASK, "x"], "n": MASK}
    values.forget_all()
    assert values.scrub(SECRET) == SECRET


def _rule(condition: dict, deployment: dict | None = None) -> dict:
    then = {"effect": "deployIfNotExists", "details": {"type": "Microsoft.KubernetesConfiguration/extensions",
                                                       "deployment": deployment}} if deployment else {"effect": "audit"}
    return {"if": condition, "then": then}


PROTECTED = "Microsoft.KubernetesConfiguration/extensions/configurationProtectedSettings.token"


@pytest.mark.parametrize(("rule", "secure"), [
    (_rule({"field": PROTECTED, "equals": "[parameters('token')]"}), {"token"}),
    (_rule({"value": "[field('Microsoft.KubernetesConfiguration/extensions/configurationProtectedSettings')]",
            "contains": "[concat(parameters('Prefix'), parameters('other'))]"}), {"prefix", "other"}),
    (_rule({"not": {"count": {"value": "[parameters('list')]", "where": {"field": PROTECTED, "in": "[current()]"}},
                    "greater": 0}}), {"list"}),
    (_rule({"field": "Microsoft.KubernetesConfiguration/extensions/extensionType", "equals": "[parameters('kind')]"}),
     set()),  # a name that sounds like nothing, used for nothing secret
    (_rule({"field": "type", "equals": "x"}, {"properties": {
        "template": {"parameters": {"key": {"type": "secureString"}, "blob": {"type": "SecureObject"},
                                    "plain": {"type": "string"}, "fromVault": {"type": "securestring"}}},
        "parameters": {"key": {"value": "[parameters('apiKey')]"}, "blob": {"value": "[parameters('settings')]"},
                       "plain": {"value": "[parameters('passwordHint')]"},
                       "fromVault": {"reference": {"keyVault": {"id": "[parameters('vaultId')]"},
                                                   "secretName": "[parameters('secretName')]"}}}}}),
     {"apikey", "settings"}),
])
def test_secret_parameters_are_found_by_where_their_values_go(rule, secure):
    assert secure_parameters(rule) == secure


def _library_with_initiative() -> AzurePolicyLibrary:
    member = PolicyDefinition(id="/providers/Microsoft.Authorization/policyDefinitions/member", name="member",
                              parameters={"token": {"type": "String"}},
                              policy_rule=_rule({"field": PROTECTED, "notEquals": "[parameters('token')]"}))
    initiative = PolicySetDefinition(
        id="/providers/Microsoft.Authorization/policySetDefinitions/set", name="set",
        parameters={"setToken": {"type": "String"}, "label": {"type": "String"}},
        policy_definitions=[{"policyDefinitionId": member.id, "parameters": {
            "token": {"value": "[concat(parameters('setToken'), '')]"}}}])
    return AzurePolicyLibrary(PolicyDocuments(definitions=[member], set_definitions=[initiative]))


def test_an_initiative_parameter_feeding_a_secret_member_parameter_is_never_shown():
    library = _library_with_initiative()
    assignment = PolicyAssignment(id="/a/1", name="a1", policy_definition_id="set", source="assignments.json",
                                  parameters={"setToken": {"value": {"nested": SECRET}}, "label": {"value": ["x"]}})
    with pytest.raises(InputError) as raised:
        library.compile(assignment)
    assert "'setToken' must be of type String" in raised.value.one_line() and "nested" not in raised.value.one_line()
    assignment.parameters["setToken"] = {"value": "fine-token"}
    with pytest.raises(InputError) as raised:
        library.compile(assignment)  # a parameter that is not secret is still shown
    assert "'label' must be of type String (got ['x'])" in raised.value.one_line()


def test_log_lines_mask_remembered_values_in_text_json_and_without_a_handler(monkeypatch):
    from engine import secret_values

    secret_values.remember(SECRET)
    try:
        logger = logging.getLogger("engine.test.secrets")
        for log_format in ("text", "json"):
            stream = io.StringIO()
            with logging_configured(log_format, "info", stream):
                logger.warning("apply failed: %s", {"body": base64.b64encode(SECRET.encode()).decode()},
                               extra={"detail": SECRET})
            assert "Zq-origin" not in stream.getvalue() and "WnEtb3JpZ2lu" not in stream.getvalue()
            assert MASK in stream.getvalue()
        stderr = io.StringIO()
        monkeypatch.setattr("sys.stderr", stderr)  # where logging's last resort writes
        monkeypatch.setattr(logging.getLogger(), "handlers", [])
        logger.warning("no handler configured: %s", SECRET)
        assert stderr.getvalue() == f"no handler configured: {MASK}\n"
    finally:
        secret_values.forget_all()


def test_many_values_remembered_at_once_or_one_by_one_are_all_masked_longest_first():
    generator = random.Random(7)
    values = ["".join(generator.choices(string.ascii_letters + string.digits + "+/=-", k=generator.randint(4, 40)))
              for _ in range(300)]
    values += ["abcd", "abcde", "abcdef", "a" * 400]  # sharing prefixes; a chain deeper than the regex nests
    text = " | ".join(values)
    at_once, one_by_one = SecretValues(), SecretValues()
    for value in values:
        at_once.remember(value)
    for value in values[:60]:  # crosses the pending pattern's size several times: frozen, then merged
        one_by_one.remember(value)
        assert one_by_one.scrub(f"<{value}>") == f"<{MASK}>"
    masked = at_once.scrub(text)
    assert masked == " | ".join([MASK] * len(values))  # each value whole, the longest form winning
    assert one_by_one.scrub(" | ".join(values[:60])) == " | ".join([MASK] * 60)
