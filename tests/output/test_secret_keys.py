"""One list of secret-looking keys masks outputs, the store and logs alike."""

import io
import json
import logging

import pytest

from engine.output.redact import MASK, redact_value
from engine.secret_keys import is_secret_key
from engine.structured_logging import JsonLinesFormatter, ScanContextFilter, redact, scan_context


@pytest.mark.parametrize("key", ["configurationProtectedSettings", "primarySharedKey", "workspaceKey", "accountKey",
                                 "apiKey", "sshPrivateKey", "password", "clientSecret", "sasToken", "httpsKey"])
def test_secret_keys_are_recognised(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["extensionType", "releaseTrain", "releaseNamespace", "keyVault", "provisioningState"])
def test_ordinary_keys_are_not(key):
    assert not is_secret_key(key)


def test_values_under_secret_keys_are_masked_at_any_depth():
    value = {"primarySharedKey": "k1", "properties": {"workspaceKey": "k2", "apiKey": "k3",
                                                       "releaseTrain": "Stable", "list": [{"accountKey": "k4"}]}}
    masked = redact_value(value)
    assert "k1" not in json.dumps(masked) and "k4" not in json.dumps(masked)
    assert masked["properties"]["releaseTrain"] == "Stable"
    assert masked["properties"]["workspaceKey"] == MASK


def test_log_messages_and_json_extra_fields_are_masked():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(ScanContextFilter())
    logger = logging.getLogger("arcpolicy.test.secrets")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with scan_context("scan-1"):
            logger.info("workspaceKey=abc123 applied", extra={"settings": {"sshPrivateKey": "PRIVATE"}})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert "abc123" not in stream.getvalue() and "PRIVATE" not in stream.getvalue()
    assert line["scanId"] == "scan-1" and line["settings"]["sshPrivateKey"] == MASK
    assert redact("configurationProtectedSettings: {x}") != "configurationProtectedSettings: {x}"


def _plain_record() -> dict:
    return {"resourceId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c",
            "policyAssignmentId": "/providers/Microsoft.Authorization/policyAssignments/a", "complianceState": "Compliant",
            "reasons": [{"message": "m", "field": "properties.extensionType", "expected": ["a", {"b": 1}],
                         "actual": "x"}], "details": [{"extension": {"name": "flux", "settings": {"a": "b"}}}]}


@pytest.mark.parametrize("change", [
    lambda record: record["details"][0]["extension"]["settings"].update(sharedKey="v"),
    lambda record: record["reasons"][0].update(actual={"nested": [{"password": "p"}]}),
    lambda record: record["reasons"][0].update(field="properties.configurationProtectedSettings.k"),
    lambda record: record.update(remediation=[{"properties": {"configurationProtectedSettings": {"k": "v"}}}]),
    lambda record: record["reasons"][0].update(message="found remembered-secret-value here"),
], ids=["details", "reason value", "reason field", "remediation", "value secret by origin"])
def test_the_streamed_scans_secret_check_finds_every_record_that_needs_masking(change) -> None:
    from engine.output.json_format import encode_record
    from engine.output.redact import may_hold_secrets, redact_record
    from engine.secret_values import forget_all, remember

    plain = _plain_record()
    assert not may_hold_secrets(plain, encode_record(plain)) and redact_record(plain) is plain
    remember("remembered-secret-value")
    try:
        record = _plain_record()
        change(record)
        assert redact_record(record) is not record  # masking changes it ...
        assert may_hold_secrets(record, encode_record(record))  # ... and the check says so
    finally:
        forget_all()
