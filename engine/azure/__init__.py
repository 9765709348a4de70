"""Talking to Azure (or the sandbox): connection options, credentials, retries and pacing.

Shared by every stage that reads inventory through Resource Graph or writes through ARM.
"""

from engine.azure.connection import ArmConnection, CredentialKind, SandboxCredential
from engine.azure.retry import AzureRequestError, QuotaPacer, RetryPolicy, with_retries

__all__ = ["ArmConnection", "AzureRequestError", "CredentialKind", "QuotaPacer", "RetryPolicy",
           "SandboxCredential", "with_retries"]
