"""What a user sees when the connection options are not right: one line saying which option to fix, at once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from engine.azure.retry import RetryPolicy, describe, with_retries
from engine.cli.main import main
from engine.errors import ServiceError


def test_a_credential_that_gets_no_token_is_named_not_http_none():
    error = ClientAuthenticationError(message="DefaultAzureCredential failed to retrieve a token from the included "
                                              "credentials.\nAttempted credentials: ...")
    text = describe(error)
    assert "HTTP None" not in text and "\n" not in text
    assert text.startswith("cannot get an Azure access token: DefaultAzureCredential failed") and "--credential" in text


def test_an_untrusted_certificate_is_not_retried():
    calls = []

    def request() -> None:
        calls.append(1)
        raise ServiceRequestError("Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1, "
                                  "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))")

    with pytest.raises(ServiceError, match="--ca-bundle"):
        with_retries(request, RetryPolicy(max_attempts=8, base_delay=0.0), sleep=lambda _: None)
    assert len(calls) == 1


def test_the_sandbox_without_its_ca_bundle_fails_at_once_naming_the_option(sandbox, capsys, monkeypatch):
    monkeypatch.delenv("ARCPOLICY_CA_BUNDLE", raising=False)
    assert main(["inventory", "--resource-graph", "--arm-endpoint", sandbox.url, "--credential", "sandbox"]) == 4
    error = capsys.readouterr().err.strip()
    assert error.startswith("arcpolicy: error: ") and "--ca-bundle" in error and len(error.splitlines()) == 1


def test_a_credential_without_a_token_is_one_line(sandbox, tmp_path):
    """As a user sees it (a process of its own: pytest's log capture would hide azure.identity's warnings)."""
    completed = subprocess.run([sys.executable, "-m", "engine", "inventory", "--resource-graph", "--arm-endpoint",
                                sandbox.url, "--ca-bundle", str(sandbox.endpoint.ca_bundle), "--credential", "cli"],
                               capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PATH": str(tmp_path)})  # no Azure CLI to log in with
    assert completed.returncode == 4
    error = completed.stderr.strip()
    assert error.startswith("arcpolicy: error: cannot get an Azure access token") and len(error.splitlines()) == 1, error
