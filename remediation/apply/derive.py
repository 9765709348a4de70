"""Re-deriving redacted secrets right before the write that needs them, from where the plan says.

* ``parameter``: the assignment's parameter, from ``--secrets`` / ``--assignment``;
* ``deferred``: the ``listKeys()`` / ``reference()`` call, on the prerequisite's live state;
* ``keyVault``: what ARM's deployment engine does for a Key Vault parameter reference: the secret's
  current value, read from the vault (its ``vaultUri`` from the vault resource through ARM, then
  the Key Vault SecretClient), unless ``--secrets`` supplies it (``keyVaultSecrets``);
* ``template``: a secret written (or computed) in the policy definition's template: the
  definition's deployment, from ``--policy``, re-expanded for the operation's evaluated resource
  (read live from ARM) with the assignment's parameters. Never from the plan.

Values are fetched once per run, held in :class:`Secret` wrappers and remembered for scrubbing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from engine import ids
from engine.azure import AzureRequestError
from engine.azure_policy.policy import CompiledPolicy
from engine.errors import InputError
from engine.evaluate import ScanRequest
from engine.rego.library import DEFINITION_ID_PREFIX as REGO_DEFINITION_PREFIX
from remediation.apply.arm import KEY_VAULT_API_VERSION, ArmGateway
from remediation.apply.interrupt import Interrupted
from remediation.apply.models import OpState
from remediation.apply.secrets import Secret, Secrets
from remediation.plan.from_scan import PolicyKey, compiled_azure_policies, policy_key
from remediation.plan.models import Operation, Reason, SecretSource
from remediation.template import DineDeployment, TemplateError

KEY_VAULT_TYPE = "microsoft.keyvault/vaults"


class NotApplicable(Exception):
    """The operation cannot be written now: the state it ends in and why."""

    def __init__(self, state: OpState, message: str):
        super().__init__(message)
        self.state = state
        self.message = message


def failed(message: str) -> NotApplicable:
    return NotApplicable(OpState.FAILED, message)


@dataclass(frozen=True)
class _Definition:
    """A compiled DINE policy of one (assignment, reference) and its deployment."""

    policy: CompiledPolicy
    deployment: DineDeployment | None  # None: the policy deploys nothing (not a deployIfNotExists)


class TemplateSecrets:
    """``template`` secrets: the policy definitions given with ``--policy``, re-expanded on demand."""

    def __init__(self, request: ScanRequest | None, secrets: Secrets):
        self.given = request is not None
        self._secrets = secrets
        self._assignments = {ids.normalize(assignment.id) for assignment in request.all_assignments()} \
            if request is not None else set()
        self._definitions: dict[PolicyKey, _Definition] = {
            key: _Definition(policy, _deployment(policy))
            for key, policy in (compiled_azure_policies(request) if request is not None else {}).items()}

    def check(self, operation: Operation, source: SecretSource) -> None:
        """Before any write: the definition that wrote the secret is among ``--policy`` (else exit 2).
        A secret written literally in a Rego remediation cannot be re-derived at all: no option helps,
        so that operation fails (see :meth:`values`) rather than the whole apply."""
        reason = operation.reason or Reason()
        if _from_rego(reason):
            return
        definition = reason.policy_definition_id or "its policy definition"
        if not self.given:
            raise InputError("--policy", f"operation {operation.id} has a secret written in the template of "
                             f"{definition} ({source.path}); give that definition with --policy (and its "
                             "assignment with --assignment) to re-derive it", value=reason.policy_assignment_id)
        if ids.normalize(reason.policy_assignment_id or "") not in self._assignments:
            raise InputError("--policy", f"operation {operation.id} has a secret written in the template of "
                             f"{definition} ({source.path}), but its assignment is not among the --policy / "
                             "--assignment files", value=reason.policy_assignment_id)

    def values(self, operation: Operation, arm: ArmGateway) -> dict[str, Any]:
        """The operation's template secrets in clear, by path, from a fresh expansion."""
        reason = operation.reason or Reason()
        if _from_rego(reason):
            raise failed(f"secrets written literally in a Rego remediation ({reason.policy_definition_id}) are not "
                         "supported: apply cannot re-derive them, and the plan never holds them")
        definition = self._definitions.get(policy_key(reason.policy_assignment_id,
                                                      reason.policy_definition_reference_id))
        if definition is None or definition.deployment is None:
            raise failed(f"cannot re-derive secrets written in {reason.policy_definition_id}: apply re-expands "
                         "deployIfNotExists definitions only")
        if not reason.evaluated_resource_id:
            raise failed("cannot re-derive template secrets: the plan names no evaluated resource")
        resource = arm.read_any(reason.evaluated_resource_id)
        if resource is None:
            raise failed(f"cannot re-derive template secrets: the evaluated resource "
                         f"{reason.evaluated_resource_id} no longer exists")
        parameters = dict(definition.policy.parameters)
        if definition.policy.reference_id is None:  # an initiative maps its parameters; a definition takes them
            parameters.update(self._secrets.parameters(reason.policy_assignment_id))
        try:
            found = definition.deployment.template_secrets(resource, parameters, reason.policy_assignment_id,
                                                           operation.resource_id,
                                                           reason.policy_definition_reference_id)
        except TemplateError as error:  # its message and value may quote the template: show where only
            raise failed(f"re-expanding {reason.policy_definition_id} for {reason.evaluated_resource_id} failed "
                         f"at {error.location or 'its deployment'}") from None
        if found is None:
            raise failed(f"re-expanding {reason.policy_definition_id} for {reason.evaluated_resource_id} no "
                         f"longer writes {operation.resource_id}: the definition changed since the plan")
        return {path.lower(): value for path, value in found.items()}


def _from_rego(reason: Reason) -> bool:
    return (reason.policy_definition_id or "").lower().startswith(REGO_DEFINITION_PREFIX)


def _deployment(policy: CompiledPolicy) -> DineDeployment | None:
    try:
        return DineDeployment.from_details(policy.details, policy.definition.id, policy.definition.origin)
    except TemplateError:
        return None


class KeyVaultSecrets:
    """``keyVault`` secrets: from ``--secrets`` when supplied there, else read from the vault, once."""

    def __init__(self, secrets: Secrets):
        self._secrets = secrets
        self._read: dict[tuple[str, str], Secret] = {}
        self._lock = threading.Lock()

    def value(self, source: SecretSource, arm: ArmGateway) -> Secret:
        vault_id, name = source.key_vault_id, source.secret_name
        if not vault_id or not name:
            raise failed(f"cannot re-derive {source.path}: the plan names no Key Vault secret")
        supplied = self._secrets.key_vault_secret(vault_id, name)
        if supplied is not None:
            return supplied
        key = (ids.normalize(vault_id), name.lower())
        with self._lock:
            known = self._read.get(key)
        if known is not None:
            return known
        value = self._fetch(vault_id, name, source.path, arm)
        with self._lock:
            return self._read.setdefault(key, self._secrets.remember(value))

    @staticmethod
    def _fetch(vault_id: str, name: str, path: str, arm: ArmGateway) -> str:
        where = f"Key Vault secret {name!r} of {vault_id} (for {path})"
        try:
            parsed = ids.parse_resource_id(vault_id)
        except ids.ResourceIdError:
            parsed = None
        if parsed is None or ids.normalize(parsed.type) != KEY_VAULT_TYPE:
            raise failed(f"{where}: the Key Vault reference's keyVault.id is not a Microsoft.KeyVault/vaults "
                         "resource id")
        try:
            vault = arm.read(vault_id, KEY_VAULT_API_VERSION)
            if vault is None:
                raise failed(f"{where}: the vault does not exist")
            vault_uri = (vault.get("properties") or {}).get("vaultUri")
            if not isinstance(vault_uri, str) or not vault_uri:
                raise failed(f"{where}: the vault has no properties.vaultUri")
            value = arm.read_secret(vault_uri, name)
        except Interrupted:
            raise
        except AzureRequestError as error:
            raise failed(f"{where}: {error}") from None
        if value is None:
            raise failed(f"{where}: the vault has no such secret; add it, or supply it in --secrets "
                         "(keyVaultSecrets)")
        return value
