"""Rego policies: the embedded engines (regorus, regopy), the OPA-server engine and the policy-author contract.

See docs/rego.md for the contract (input document, ``violation`` / ``applicable`` rules,
METADATA annotations) that every policy under ``--policy`` follows.
"""

from engine.rego.engine_kinds import DEFAULT_ENGINE, ENGINES
from engine.rego.engines import Diagnostic, RegoRuntimeError
from engine.rego.library import (
    DEFINITION_ID_PREFIX,
    RegoLibrary,
    RegoPolicy,
    RegoRemediation,
    RegoVerdict,
    RegoViolation,
    policy_input,
)

__all__ = ["DEFAULT_ENGINE", "DEFINITION_ID_PREFIX", "ENGINES", "Diagnostic", "RegoLibrary", "RegoPolicy", "RegoRemediation",
           "RegoRuntimeError", "RegoVerdict", "RegoViolation", "policy_input"]
