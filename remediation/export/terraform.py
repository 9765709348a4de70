"""The plan as Terraform: one root module per wave (applied in order; a wave's waiting operations in a module of
their own), ``main.tf`` holding its resources: azurerm's Arc resources where their arguments express the write
whole (``azurerm_arc_kubernetes_cluster_extension``, ``azurerm_arc_kubernetes_flux_configuration``: creates on
connected clusters, without protected values), ``azapi_resource`` otherwise (updates, since azurerm replaces an
extension whose release train changes; managed clusters; bodies azurerm has no argument for); ``import`` blocks for
targets that exist, ``depends_on`` from the plan graph. Protected values never reach Terraform's state: they are
``sensitive`` ephemeral variables (Key Vault secrets an ephemeral ``azurerm_key_vault_secret``) written only through
azapi's write-only ``sensitive_body``, sent again whenever the export changes (``sensitive_body_version``).
"""

from __future__ import annotations

from typing import Any

from engine import ids
from remediation.export.arm import delete_step
from remediation.export.hcl import Block, Raw, document
from remediation.export.model import Files, Prepared, SecretInput, WaveExport, Write, filled, identifier
from remediation.plan.models import Action

EXTENSIONS = "microsoft.kubernetesconfiguration/extensions"
FLUX_CONFIGURATIONS = "microsoft.kubernetesconfiguration/fluxconfigurations"
CONNECTED_CLUSTERS = "microsoft.kubernetes/connectedclusters"
PROTECTED = "configurationProtectedSettings"
AZURERM_VERSION = "~> 4.0"
AZAPI_VERSION = "~> 2.5"  # sensitive_body and sensitive_body_version
TERRAFORM_VERSION = ">= 1.11"  # import blocks (1.5), ephemeral variables and resources (1.10), write-only arguments
EXTENSION_PROPERTIES = frozenset({"extensionType", "releaseTrain", "version", "scope", "configurationSettings",
                                  PROTECTED, "autoUpgradeMinorVersion"})
KUSTOMIZATION_ARGUMENTS = {"path": "path", "timeoutInSeconds": "timeout_in_seconds",
                           "syncIntervalInSeconds": "sync_interval_in_seconds",
                           "retryIntervalInSeconds": "retry_interval_in_seconds", "prune": "garbage_collection_enabled",
                           "force": "recreating_enabled", "dependsOn": "depends_on"}
GIT_ARGUMENTS = {"url": "url", "syncIntervalInSeconds": "sync_interval_in_seconds",
                 "timeoutInSeconds": "timeout_in_seconds", "httpsUser": "https_user",
                 "localAuthRef": "local_auth_reference"}
REFERENCE_TYPES = ("branch", "tag", "semver", "commit")


def variable_reference(secret: SecretInput) -> Raw:
    if secret.kind == "keyVault":
        return Raw(f"ephemeral.azurerm_key_vault_secret.{secret.name}.value")
    return Raw(f"var.{secret.name}")


def resource_name(write: Write) -> str:
    return identifier(f"{write.operation.id}_{write.operation.resource_id.rsplit('/', 1)[-1]}")


def _parent_id(resource_id: str) -> str:
    parsed = ids.parse_resource_id(resource_id)
    if parsed.parent is not None:
        return parsed.parent.raw
    if len(parsed.segments) > 1:
        return resource_id.rstrip("/").rsplit("/", 2)[0]
    return ids.resource_group_id(resource_id) or f"/subscriptions/{parsed.subscription_id}"


def _on_connected_cluster(write: Write) -> bool:
    parent = ids.parse_resource_id(write.operation.resource_id).parent
    return parent is not None and ids.normalize(parent.type) == CONNECTED_CLUSTERS


def _azurerm_extension(write: Write, body: dict[str, Any]) -> Block | None:
    """The write as ``azurerm_arc_kubernetes_cluster_extension``, or None when its arguments cannot say it all."""
    properties = body.get("properties") or {}
    if set(body) - {"properties", "identity"} or set(properties) - EXTENSION_PROPERTIES:
        return None
    identity = body.get("identity")
    if identity is not None and (not isinstance(identity, dict) or set(identity) != {"type"}
                                 or str(identity["type"]).lower() != "systemassigned"):
        return None
    pinned = properties.get("version") is not None
    if properties.get("autoUpgradeMinorVersion", not pinned) is pinned:  # the provider: auto-upgrade unless pinned
        return None
    scope = properties.get("scope") or {}
    cluster, namespace = scope.get("cluster"), scope.get("namespace")
    if set(scope) - {"cluster", "namespace"} or set(cluster or {}) - {"releaseNamespace"} \
            or set(namespace or {}) - {"targetNamespace"}:
        return None
    arguments: list[tuple[str, Any]] = [("name", write.operation.resource_id.rsplit("/", 1)[-1]),
                                        ("cluster_id", _parent_id(write.operation.resource_id)),
                                        ("extension_type", properties["extensionType"])]
    optional = [("release_train", properties.get("releaseTrain")), ("version", properties.get("version")),
                ("release_namespace", (cluster or {}).get("releaseNamespace")),
                ("target_namespace", (namespace or {}).get("targetNamespace")),
                ("configuration_settings", properties.get("configurationSettings") or None),
                ("configuration_protected_settings", properties.get(PROTECTED) or None)]
    arguments += [(name, value) for name, value in optional if value is not None]
    blocks = [Block("identity", arguments=[("type", "SystemAssigned")])] if identity else []
    return Block("resource", ("azurerm_arc_kubernetes_cluster_extension", resource_name(write)), arguments, blocks)


def _azurerm_flux(write: Write, body: dict[str, Any]) -> Block | None:
    """The write as ``azurerm_arc_kubernetes_flux_configuration``, or None when its arguments cannot say it all."""
    properties = body.get("properties") or {}
    git = properties.get("gitRepository") or {}
    reference = git.get("repositoryRef") or {}
    given = [kind for kind in REFERENCE_TYPES if reference.get(kind)]
    if set(body) != {"properties"} or set(properties) - {"scope", "namespace", "sourceKind", "suspend",
                                                         "gitRepository", "kustomizations"} \
            or properties.get("sourceKind", "GitRepository") != "GitRepository" or not git \
            or set(git) - {*GIT_ARGUMENTS, "repositoryRef"} or len(given) != 1 or set(reference) - {given[0]} \
            or not properties.get("kustomizations") or not properties.get("namespace"):
        return None
    kustomizations = []
    for name, kustomization in properties["kustomizations"].items():
        if set(kustomization or {}) - set(KUSTOMIZATION_ARGUMENTS):
            return None
        kustomizations.append(Block("kustomizations", arguments=[("name", name)] + [
            (KUSTOMIZATION_ARGUMENTS[member], value) for member, value in kustomization.items() if value is not None]))
    repository = Block("git_repository", arguments=[("url", git["url"]), ("reference_type", given[0]),
                                                    ("reference_value", reference[given[0]])] + [
        (GIT_ARGUMENTS[member], value) for member, value in git.items()
        if member not in ("url", "repositoryRef") and value is not None])
    arguments: list[tuple[str, Any]] = [("name", write.operation.resource_id.rsplit("/", 1)[-1]),
                                        ("cluster_id", _parent_id(write.operation.resource_id)),
                                        ("namespace", properties["namespace"])]
    if properties.get("scope"):
        arguments.append(("scope", str(properties["scope"]).lower()))
    if properties.get("suspend") is not None:
        arguments.append(("continuous_reconciliation_enabled", not properties["suspend"]))
    return Block("resource", ("azurerm_arc_kubernetes_flux_configuration", resource_name(write)), arguments,
                 [repository, *kustomizations])


def _split_secrets(body: Any, secret_paths: set[str], path: str = "") -> tuple[Any, Any]:
    """(the body without its secrets, the secrets alone in the same shape) for azapi's body / sensitive_body."""
    if isinstance(body, dict):
        plain: dict[str, Any] = {}
        hidden: dict[str, Any] = {}
        for name, item in body.items():
            inner = f"{path}.{name}" if path else name
            if inner in secret_paths:
                hidden[name] = item
                continue
            kept, secret = _split_secrets(item, secret_paths, inner)
            if secret:
                hidden[name] = secret
            if kept != {} or not secret:  # an object holding only secrets goes in sensitive_body alone
                plain[name] = kept
        return plain, hidden
    return body, None


def _azapi(write: Write, body: dict[str, Any], version: str) -> Block:
    operation = write.operation
    paths = {path for path in write.secrets}
    plain, hidden = _split_secrets(body, paths)
    location = plain.pop("location", None)
    tags = plain.pop("tags", None)
    identity = plain.pop("identity", None)
    arguments: list[tuple[str, Any]] = [("type", f"{operation.resource_type}@{operation.api_version}"),
                                        ("name", operation.resource_id.rsplit("/", 1)[-1])]
    if ids.normalize(operation.resource_type) != "microsoft.resources/resourcegroups":
        arguments.append(("parent_id", _parent_id(operation.resource_id)))
    if location:
        arguments.append(("location", location))
    if tags:
        arguments.append(("tags", tags))
    arguments.append(("body", plain))
    if hidden:
        arguments.append(("sensitive_body", hidden))
        arguments.append(("sensitive_body_version", {path: version for path in sorted(paths)}))
    blocks = []
    if isinstance(identity, dict) and identity.get("type"):
        identity_arguments: list[tuple[str, Any]] = [("type", identity["type"])]
        if identity.get("userAssignedIdentities"):
            identity_arguments.append(("identity_ids", sorted(identity["userAssignedIdentities"])))
        blocks.append(Block("identity", arguments=identity_arguments))
    return Block("resource", ("azapi_resource", resource_name(write)), arguments, blocks)


def resource_block(write: Write, version: str) -> Block:
    """azurerm's resource where it says the write whole and no protected value is involved, else azapi's."""
    body = filled(write, variable_reference)
    kind = ids.normalize(write.operation.resource_type)
    chosen = None
    if write.operation.action is Action.CREATE and _on_connected_cluster(write) and not write.secrets:
        if kind == EXTENSIONS:
            chosen = _azurerm_extension(write, body)
        elif kind == FLUX_CONFIGURATIONS:
            chosen = _azurerm_flux(write, body)
    return chosen or _azapi(write, body, version)


def _module(wave: WaveExport, writes: list[Write], fingerprint: str) -> dict[str, str]:
    version = fingerprint.split(":", 1)[-1][:12]  # a new export sends its protected values again
    blocks = {write.operation.id: resource_block(write, version) for write in writes}
    address = {operation_id: f"{item.labels[0]}.{item.labels[1]}" for operation_id, item in blocks.items()}
    main: list[Block] = []
    inputs: dict[str, tuple[SecretInput, bool]] = {}  # name -> (input, sensitive)
    for write in writes:
        item = blocks[write.operation.id]
        needed = [Raw(address[dependency]) for dependency in write.operation.depends_on if dependency in address]
        if needed:
            item.arguments.append(("depends_on", needed))
        main.append(item)
        if write.exists:
            main.append(Block("import", arguments=[("to", Raw(address[write.operation.id])),
                                                   ("id", write.operation.resource_id)]))
        for secret in write.secrets.values():
            inputs[secret.name] = (secret, True)
        for deferred in write.operation.deferred_values:  # a value read when deploying: the pipeline supplies it
            if deferred.path not in write.secrets:
                name = f"deferred_{identifier(deferred.path)}"
                inputs[name] = (SecretInput(name, "expression", deferred.expression, deferred=deferred), False)
    variables = [Block("variable", (secret.name,), [("description", secret.description),
                                                    ("type", Raw("any" if secret.is_object else "string")),
                                                    *((("sensitive", True), ("ephemeral", True)) if sensitive else ())])
                 for secret, sensitive in inputs.values() if secret.kind != "keyVault"]
    vaults = [Block("ephemeral", ("azurerm_key_vault_secret", secret.name),
                    [("name", secret.secret_name), ("key_vault_id", secret.key_vault_id)])
              for secret, _ in inputs.values() if secret.kind == "keyVault"]
    versions = [Block("terraform", arguments=[("required_version", TERRAFORM_VERSION)], blocks=[Block(
        "required_providers", arguments=[
            ("azurerm", {"source": "hashicorp/azurerm", "version": AZURERM_VERSION}),
            ("azapi", {"source": "Azure/azapi", "version": AZAPI_VERSION})])]),
        Block("provider", ("azurerm",), blocks=[Block("features")]), Block("provider", ("azapi",))]
    header = (f"# arcpolicy export: plan {fingerprint}, wave {wave.number} ({wave.name}); see README.md\n\n")
    files = {"versions.tf": header + document(versions), "main.tf": header + document(vaults + main)}
    if variables:
        files["variables.tf"] = header + document(variables)
    return files


def write_terraform(prepared: Prepared, files: Files) -> list[dict[str, Any]]:
    """Add each wave's root module to ``files``; returns the ordered steps (deletes, then the modules)."""
    steps: list[dict[str, Any]] = []
    for position, wave in enumerate(prepared.waves):
        steps.extend(delete_step(operation, wave) for operation in wave.deletes)
        for waiting in (False, True):
            writes = [write for write in wave.writes if write.waiting is waiting]
            if not writes:
                continue
            folder = f"terraform/{position:02d}-{identifier(wave.name)}{'-waiting' if waiting else ''}"
            for name, text in _module(wave, writes, prepared.fingerprint).items():
                files[f"{folder}/{name}"] = text
            steps.append({"kind": "terraform", "wave": wave.number, "directory": folder, "wait": not waiting,
                          "pipelineParameters": sorted({secret.name for write in writes
                                                        for secret in write.secrets.values()
                                                        if secret.kind != "keyVault"}),
                          "operations": sorted(write.operation.id for write in writes)})
    return steps

