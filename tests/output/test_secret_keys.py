"""One list of secret-looking keys masks outputs, the store and logs alike."""

import io
import json
import logging

import pytest

from engine.models.results import ComplianceState
from engine.output.redact import MASK, redact_record, redact_value
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


def _plain_row(reason: dict | None = None, details: list | None = None, remediation: list | None = None) -> tuple:
    """A scan's row (engine.evaluate.records.Row) of a Compliant record with one reason and details."""
    found = {"message": "m", "path": None, "field": "properties.extensionType", "operator": "equals",
             "expected": ["a", {"b": 1}], "actual": "x", **(reason or {})}
    return ("/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c",
            "Microsoft.Kubernetes/connectedClusters", "eastus", "g", "s",
            ("/providers/Microsoft.Authorization/policyAssignments/a", "a", "/", "d", "d", None, None, None, "audit"),
            ComplianceState.COMPLIANT, (tuple(found.values()),), None, None,
            details or [{"extension": {"name": "flux", "settings": {"a": "b"}}}], remediation, None)


@pytest.mark.parametrize("row", [
    _plain_row(details=[{"extension": {"name": "flux", "settings": {"a": "b", "sharedKey": "v"}}}]),
    _plain_row({"actual": {"nested": [{"password": "p"}]}}),
    _plain_row({"field": "properties.configurationProtectedSettings.k"}),
    _plain_row(remediation=[{"properties": {"configurationProtectedSettings": {"k": "v"}}}]),
    _plain_row({"message": "found remembered-secret-value here"}),
], ids=["details", "reason value", "reason field", "remediation", "value secret by origin"])
def test_the_streamed_scan_masks_every_record_that_needs_it(row: tuple) -> None:
    """A scan writes a record from parts serialised once (engine.evaluate.record_json) unless it may hold a
    secret: each way a record can need masking is caught, and the record written masked."""
    from engine.evaluate.record_json import RecordEncoder
    from engine.evaluate.records import record_document
    from engine.output.json_format import encode_record
    from engine.secret_values import forget_all, remember

    plain = _plain_row()
    assert RecordEncoder("t").encode(plain)[1] == encode_record(record_document(plain, "t"))
    remember("remembered-secret-value")
    try:
        masked = encode_record(redact_record(record_document(row, "t")))
        assert masked != encode_record(record_document(row, "t"))  # masking changes it ...
        assert RecordEncoder("t").encode(row)[1] == masked  # ... and the scan writes it masked
    finally:
        forget_all()
