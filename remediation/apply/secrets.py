"""The secret values apply is given: assignment parameters and Key Vault secrets from ``--secrets``.

The plan carries only where a secret comes from (:class:`SecretSource`). The values are read from
``--secrets FILE`` right before the write that needs them (:mod:`remediation.apply.derive` fetches
the others), held in :class:`Secret` wrappers that never print, and scrubbed from any error text
that might echo them back.

A secrets file is a policy assignment, an ARM parameters file or ``{name: value}`` (or a list of
those); any of them may also carry ``keyVaultSecrets``: ``[{"keyVault": {"id": VAULT_ID},
"secretName": NAME, "value": VALUE}]``, the values of Key Vault references for a machine that
cannot read the vault.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine import ids
from engine.errors import InputError
from engine.jsonfiles import read_json
from engine.secret_values import MIN_LENGTH, remember, secret_texts

REDACTED = "<redacted>"


class Secret:
    """A secret value: usable through :meth:`reveal`, shown nowhere."""

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        self._value = value

    def reveal(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__


def _assignment_parameters(document: dict[str, Any]) -> dict[str, Any] | None:
    """``{name: value}`` of a policy assignment (or ARM parameters file), None if it is neither."""
    properties = document.get("properties")
    parameters = properties.get("parameters") if isinstance(properties, dict) else document.get("parameters")
    if not isinstance(parameters, dict):
        return None
    return {name: entry.get("value") if isinstance(entry, dict) and "value" in entry else entry
            for name, entry in parameters.items()}


VaultSecretKey = tuple[str, str]  # (normalized vault id, lower-case secret name)


def _key_vault_secrets(path: Path, entries: Any, location: str) -> dict[VaultSecretKey, Secret]:
    """``keyVaultSecrets``: ``[{"keyVault": {"id": ...}, "secretName": ..., "value": ...}]``."""
    if not isinstance(entries, list):
        raise InputError(str(path), "keyVaultSecrets is a list of {keyVault: {id}, secretName, value}",
                         location=location)
    found: dict[VaultSecretKey, Secret] = {}
    for index, entry in enumerate(entries):
        vault = entry.get("keyVault") if isinstance(entry, dict) else None
        vault_id = vault.get("id") if isinstance(vault, dict) else None
        name = entry.get("secretName") if isinstance(entry, dict) else None
        if not isinstance(vault_id, str) or not isinstance(name, str) or not isinstance(entry.get("value"), str):
            raise InputError(str(path), "expected {\"keyVault\": {\"id\": VAULT_ID}, \"secretName\": NAME, "
                             "\"value\": VALUE}", location=f"{location}[{index}]")
        remember(entry["value"])  # a Key Vault value is secret by origin: masked in every output
        found[(ids.normalize(vault_id), name.lower())] = Secret(entry["value"])
    return found


def _read_documents(path: Path) -> Iterator[tuple[str | None, dict[str, Secret], dict[VaultSecretKey, Secret]]]:
    """(assignment id or None, {parameter: value}, {(vault, secret): value}) for each document in a
    secrets file."""
    document = read_json(path, "secrets file (--secrets / --assignment)")
    documents = document if isinstance(document, list) else [document]
    for index, entry in enumerate(documents):
        if not isinstance(entry, dict):
            raise InputError(str(path), "expected an object of parameters or a policy assignment",
                             location=f"item {index}")
        entry = dict(entry)
        vault_secrets = _key_vault_secrets(path, entry.pop("keyVaultSecrets"), f"item {index}.keyVaultSecrets") \
            if "keyVaultSecrets" in entry else {}
        parameters = _assignment_parameters(entry)
        assignment = ids.normalize(entry["id"]) if isinstance(entry.get("id"), str) else None
        values = parameters if parameters is not None else entry
        yield assignment, {name.lower(): Secret(value) for name, value in values.items()}, vault_secrets


class Secrets:
    """Assignment parameter values by (assignment id, parameter name), case-insensitively, Key Vault
    secrets supplied by (vault id, secret name), and every secret met during the run (so error
    texts can be scrubbed of them)."""

    def __init__(self, by_assignment: dict[str | None, dict[str, Secret]] | None = None,
                 vault_secrets: dict[VaultSecretKey, Secret] | None = None):
        self._by_assignment = by_assignment or {}
        self._vault_secrets = vault_secrets or {}
        self._seen: list[Secret] = [*(secret for values in self._by_assignment.values() for secret in values.values()),
                                    *self._vault_secrets.values()]

    @classmethod
    def load(cls, paths: list[Path]) -> Secrets:
        """Read policy assignments (one or a list per file), ARM parameters files or ``{name: value}``,
        each optionally with ``keyVaultSecrets``."""
        by_assignment: dict[str | None, dict[str, Secret]] = {}
        vault_secrets: dict[VaultSecretKey, Secret] = {}
        for path in paths:
            for assignment, values, supplied in _read_documents(path):
                by_assignment.setdefault(assignment, {}).update(values)
                vault_secrets.update(supplied)
        return cls(by_assignment, vault_secrets)

    def parameters(self, assignment_id: str | None) -> dict[str, Any]:
        """Every parameter given for exactly that assignment, revealed (for re-expanding its template)."""
        if assignment_id is None:
            return {}
        return {name: secret.reveal() for name, secret in self._by_assignment.get(ids.normalize(assignment_id),
                                                                                  {}).items()}

    def key_vault_secret(self, vault_id: str, secret_name: str) -> Secret | None:
        """A Key Vault secret supplied in ``keyVaultSecrets`` (None: read it from the vault)."""
        return self._vault_secrets.get((ids.normalize(vault_id), secret_name.lower()))

    def value(self, assignment_id: str | None, parameter: str) -> Secret | None:
        """The parameter of that assignment; else the value a secrets-file entry naming no assignment
        (an ARM parameters file, ``{name: value}``) gives it. Never another assignment's value."""
        name = parameter.lower()
        if assignment_id is not None:
            exact = self._by_assignment.get(ids.normalize(assignment_id), {}).get(name)
            if exact is not None:
                return exact
        return self._by_assignment.get(None, {}).get(name)

    def remember(self, value: Any) -> Secret:
        """Wrap a secret fetched at apply time (e.g. a listKeys() key) so it is scrubbed too."""
        secret = Secret(value)
        self._seen.append(secret)
        remember(value)
        return secret

    def scrub(self, text: str) -> str:
        """``text`` with every secret value met so far replaced by the redaction marker: strings and
        numbers, also inside a secureObject (nested objects and lists), of at least
        :data:`engine.secret_values.MIN_LENGTH` characters, longest first."""
        values = {value for secret in list(self._seen) for value in secret_texts(secret.reveal())
                  if len(value) >= MIN_LENGTH}
        for value in sorted(values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text

