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
