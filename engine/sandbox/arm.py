"""ARM resource operations: extensions and flux configurations with their lifecycle, and a
generic store for everything else a deployIfNotExists template creates.

Long-running operations follow ARM's asynchronous pattern: 201/202 with ``Azure-AsyncOperation``
(and ``Location`` on 202) pointing at an operation whose status goes InProgress -> Succeeded or
Failed, so the SDK's ARMPolling drives them unchanged.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from engine import ids
from engine.sandbox import keyvault, lifecycle
from engine.sandbox.core import Request, Response, Sandbox, arm_error, timestamp

OPERATION_MARKER = "/operations/"
OPERATION_STATUS = {"Succeeded": "Succeeded", "Failed": "Failed", "Deleted": "Succeeded"}
KEY_SECRET = "listkeys_secret"
PROTECTED_DIGESTS = "protected-settings-sha256"


def _system_data(sandbox: Sandbox, previous: dict[str, Any] | None) -> dict[str, Any]:
    now = timestamp(sandbox.now())
    created = (previous or {}).get("systemData") or {}
    return {"createdBy": created.get("createdBy", "arcpolicy-sandbox"), "createdByType": "Application",
            "createdAt": created.get("createdAt", now), "lastModifiedBy": "arcpolicy-sandbox",
            "lastModifiedByType": "Application", "lastModifiedAt": now}


def _deterministic_uuid(*parts: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256("/".join(parts).encode()).digest()[:16], version=4))


JSON_KINDS: tuple[tuple[type, str], ...] = ((dict, "an object"), (list, "an array"), (str, "a string"),
                                           (bool, "a boolean"), (int, "a number"), (float, "a number"))
# The envelope members ARM deserializes into objects; a body with another JSON kind there is a 400.
ENVELOPE_OBJECTS = {"properties": dict, "identity": dict, "tags": dict, "sku": dict, "plan": dict,
                    "extendedLocation": dict, "zones": list}


def _json_kind(value: Any) -> str:
    return next((name for kind, name in JSON_KINDS if isinstance(value, kind)), "null")


def _invalid_members(members: dict[str, Any], expected: dict[str, type], prefix: str = "") -> Response | None:
    """A 400 naming the first member whose JSON kind is not the expected one (absent and null are fine)."""
    for name, kind in expected.items():
        value = members.get(name)
        if value is not None and (not isinstance(value, kind) or (kind is str and isinstance(value, bool))):
            return arm_error(400, "InvalidRequestContent", "The request content was invalid and could not be "
                             f"deserialized: '{prefix}{name}' must be {_json_kind(kind())}, not {_json_kind(value)}.")
    return None


def _body_object(request: Request) -> dict[str, Any] | Response:
    try:
        body = request.json()
    except ValueError:
        return arm_error(400, "InvalidRequestContent", "The request content is not valid JSON.")
    if not isinstance(body, dict):
        return arm_error(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return _invalid_members(body, ENVELOPE_OBJECTS) or body


# ---- long-running operations ----------------------------------------------------------------
def _accepted(sandbox: Sandbox, request: Request, resource_id: str, phase: str, status: int,
              body: Any) -> Response:
    operation_id = str(uuid.uuid4())
    sandbox.store.add_operation(operation_id, ids.normalize(resource_id), phase)
    url = f"{request.base_url}{resource_id}{OPERATION_MARKER}{operation_id}?api-version={request.query['api-version']}"
    headers = {"Azure-AsyncOperation": url, "Retry-After": str(sandbox.options.poll_after_seconds)}
    if status == 202:
        headers["Location"] = url + "&monitor=location"
    return Response(status, body, headers)


def operation_status(sandbox: Sandbox, request: Request, operation_id: str) -> Response:
    found = sandbox.store.operation(operation_id)
    if found is None:
        return arm_error(404, "OperationNotFound", f"Operation {operation_id} was not found.")
    resource_key, phase = found
    sandbox.settle()
    resource = sandbox.store.get(resource_key)
    state = "Deleted" if resource is None else resource["properties"].get("provisioningState", "Succeeded")
    if phase != "delete" and state == "Deleted":
        state = "Failed"
    status = OPERATION_STATUS.get(state, "InProgress")
    if phase == "delete" and resource is not None:
        status = "InProgress"
    if request.query.get("monitor") == "location":  # Location polling: 202 until done, then the result
        if status == "InProgress":
            return Response(202, None, {"Location": f"{request.base_url}{request.path}?{_query(request)}",
                                        "Retry-After": str(sandbox.options.poll_after_seconds)})
        return Response(204) if resource is None else Response(200, resource)
    body: dict[str, Any] = {"id": request.path, "name": operation_id, "status": status}
    if status == "Failed":
        body["error"] = (resource or {}).get("properties", {}).get("errorInfo") or {
            "code": "ResourceGone", "message": "The resource no longer exists."}
    headers = {"Retry-After": str(sandbox.options.poll_after_seconds)} if status == "InProgress" else {}
    return Response(200, body, headers)


def _query(request: Request) -> str:
    return "&".join(f"{name}={value}" for name, value in request.query.items())


# ---- extension and flux configuration lifecycles --------------------------------------------
@dataclass(frozen=True)
class LifecycleKind:
    """A cluster child resource that provisions asynchronously (extension, flux configuration)."""

    canonical_type: str
    validate: Callable[[Sandbox, dict[str, Any], dict[str, Any], str], Response | None]
    typed_properties: dict[str, type]  # properties whose JSON kind ARM's schema fixes

    def put(self, sandbox: Sandbox, request: Request, resource_id: ids.ResourceId) -> Response:
        body = _body_object(request)
        if isinstance(body, Response):
            return body
        cluster = sandbox.store.get(resource_id.parent.raw) if resource_id.parent else None
        if cluster is None:
            return arm_error(404, "ParentResourceNotFound",
                             f"Cluster {resource_id.parent} does not exist or is not accessible.")
        previous = sandbox.store.get(resource_id.raw)
        if previous is not None and _busy(previous):
            return arm_error(409, "Conflict", f"{resource_id.name} has an operation in progress "
                             f"({previous['properties']['provisioningState']}); retry when it completes.")
        refused = _invalid_members(body.get("properties") or {}, self.typed_properties, "properties.")
        if refused is not None:
            return refused
        properties = copy.deepcopy((previous or {}).get("properties") or {})
        properties.update(body.get("properties") or {})
        refused = self.validate(sandbox, cluster, properties, resource_id.raw)
        if refused is not None:
            return refused
        resource = {"id": resource_id.raw, "name": resource_id.name, "type": self.canonical_type}
        if body.get("identity") or (previous or {}).get("identity"):
            identity = dict(body.get("identity") or previous.get("identity"))  # type: ignore[union-attr]
            if identity.get("type") == "SystemAssigned":
                identity.setdefault("principalId", _deterministic_uuid(resource_id.key, "principal"))
            resource["identity"] = identity
        resource["systemData"] = _system_data(sandbox, previous)
        resource["properties"] = _stored_properties(properties)
        _digest_protected_settings(sandbox, resource_id.raw, body)
        return self._start(sandbox, request, resource, cluster, "update" if previous else "create",
                           200 if previous else 201)

    def patch(self, sandbox: Sandbox, request: Request, resource_id: ids.ResourceId) -> Response:
        body = _body_object(request)
        if isinstance(body, Response):
            return body
        previous = sandbox.store.get(resource_id.raw)
        if previous is None:
            return arm_error(404, "ResourceNotFound", f"{resource_id} was not found.")
        if _busy(previous):
            return arm_error(409, "Conflict", f"{resource_id.name} has an operation in progress.")
        refused = _invalid_members(body.get("properties") or {}, self.typed_properties, "properties.")
        if refused is not None:
            return refused
        cluster = sandbox.store.get(resource_id.parent.raw)  # type: ignore[union-attr]
        resource = copy.deepcopy(previous)
        for name, value in (body.get("properties") or {}).items():
            current = resource["properties"].get(name)
            merged = {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
            resource["properties"][name] = merged
        resource["properties"] = _stored_properties(resource["properties"])
        resource["systemData"] = _system_data(sandbox, previous)
        _digest_protected_settings(sandbox, resource_id.raw, body)
        return self._start(sandbox, request, resource, cluster, "update", 202)  # type: ignore[arg-type]

    def delete(self, sandbox: Sandbox, request: Request, resource_id: ids.ResourceId) -> Response:
        previous = sandbox.store.get(resource_id.raw)
        if previous is None:
            return Response(204)
        cluster = sandbox.store.get(resource_id.parent.raw)  # type: ignore[union-attr]
        return self._start(sandbox, request, previous, cluster, "delete", 202)  # type: ignore[arg-type]

    def _start(self, sandbox: Sandbox, request: Request, resource: dict[str, Any], cluster: dict[str, Any],
               phase: str, status: int) -> Response:
        now = sandbox.now()
        created = lifecycle.created_at(resource, now)
        outcome = lifecycle.settle(resource, phase, cluster, sandbox.architectures(cluster), now, created, now,
                                   sandbox.options.provisioning_seconds)
        key = ids.normalize(resource["id"])
        with sandbox.store.lock:
            sandbox.store.start(key, ids.normalize(cluster["id"]), phase, now, created)
            sandbox.apply_outcome(resource, outcome)
            sandbox.facts_changed()
            response = _accepted(sandbox, request, resource["id"], phase, status,
                                 None if phase == "delete" else resource)
        return response


def _busy(resource: dict[str, Any]) -> bool:
    return resource.get("properties", {}).get("provisioningState") in ("Creating", "Updating", "Deleting")


def _digest_protected_settings(sandbox: Sandbox, resource_id: str, body: dict[str, Any]) -> None:
    """Keep a SHA-256 per protected setting written (never the value), so tests can check which
    value reached ARM; ARM itself never returns them."""
    protected = (body.get("properties") or {}).get("configurationProtectedSettings")
    if isinstance(protected, dict) and protected:
        digests = {**protected_setting_digests(sandbox, resource_id),
                   **{name: hashlib.sha256(str(value).encode()).hexdigest() for name, value in protected.items()}}
        sandbox.store.set_fact(ids.normalize(resource_id), PROTECTED_DIGESTS, orjson.dumps(digests).decode())


def protected_setting_digests(sandbox: Sandbox, resource_id: str) -> dict[str, str]:
    """``{setting: sha256 hex of the value last written}`` of an extension or flux configuration."""
    stored = sandbox.store.fact(ids.normalize(resource_id), PROTECTED_DIGESTS)
    return orjson.loads(stored) if stored else {}


def _stored_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """Protected settings are write-only in ARM: their names are kept, their values never returned."""
    stored = dict(properties)
    protected = stored.get("configurationProtectedSettings")
    stored["configurationProtectedSettings"] = dict.fromkeys(protected, "") if isinstance(protected, dict) else {}
    stored.setdefault("statuses", [])
    return stored


def _validate_extension(sandbox: Sandbox, cluster: dict[str, Any], properties: dict[str, Any],
                        resource_id: str) -> Response | None:
    kind = str(properties.get("extensionType") or "").lower()
    if not kind:
        return arm_error(400, "InvalidRequestContent", "properties.extensionType is required.")
    properties.setdefault("autoUpgradeMinorVersion", True)
    properties.setdefault("releaseTrain", "Stable")
    properties.setdefault("isSystemExtension", False)
    properties.setdefault("currentVersion", None)
    properties.setdefault("errorInfo", None)
    if lifecycle.is_namespace_scoped({"properties": properties}):
        return None
    collection = f"{cluster['id']}/providers/Microsoft.KubernetesConfiguration/extensions"
    for sibling in sandbox.store.children(collection):
        if not ids.same(sibling["id"], resource_id) and lifecycle.extension_type(sibling) == kind \
                and sibling["properties"].get("provisioningState") != "Deleting":
            return arm_error(409, "Conflict", f"Extension type {kind} is cluster-scoped and already installed "
                             f"on this cluster as '{sibling['name']}'; only one instance is allowed.")
    return None


def _validate_flux(sandbox: Sandbox, cluster: dict[str, Any], properties: dict[str, Any],
                   resource_id: str) -> Response | None:
    properties.setdefault("scope", "cluster")
    properties.setdefault("sourceKind", "GitRepository")
    properties.setdefault("suspend", False)
    properties.setdefault("complianceState", "Pending")
    return None


# The JSON kinds of the properties the sandbox reads (Microsoft.KubernetesConfiguration 2023-05-01 schema).
EXTENSION_PROPERTIES = {"extensionType": str, "releaseTrain": str, "version": str, "scope": dict,
                        "configurationSettings": dict, "configurationProtectedSettings": dict,
                        "autoUpgradeMinorVersion": bool, "aksAssignedIdentity": dict, "plan": dict}
FLUX_PROPERTIES = {"scope": str, "namespace": str, "sourceKind": str, "suspend": bool, "gitRepository": dict,
                   "bucket": dict, "azureBlob": dict, "ociRepository": dict, "kustomizations": dict,
                   "configurationProtectedSettings": dict}
LIFECYCLE_KINDS = {
    ids.EXTENSION_TYPE: LifecycleKind("Microsoft.KubernetesConfiguration/extensions", _validate_extension,
                                      EXTENSION_PROPERTIES),
    ids.FLUX_CONFIGURATION_TYPE: LifecycleKind("Microsoft.KubernetesConfiguration/fluxConfigurations",
                                               _validate_flux, FLUX_PROPERTIES),
}


# ---- the generic resource store ------------------------------------------------------------
def _workspace_defaults(sandbox: Sandbox, request: Request, resource: dict[str, Any]) -> None:
    resource["properties"].setdefault("customerId", _deterministic_uuid(ids.normalize(resource["id"]), "customer"))


CREATE_DEFAULTS: dict[str, Callable[[Sandbox, Request, dict[str, Any]], None]] = {
    "microsoft.operationalinsights/workspaces": _workspace_defaults,
    keyvault.VAULT_TYPE: keyvault.vault_defaults,
}


def generic_put(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId) -> Response:
    body = _body_object(request)
    if isinstance(body, Response):
        return body
    if resource_id.parent is not None and sandbox.store.get(resource_id.parent.raw) is None:
        return arm_error(404, "ParentResourceNotFound", f"{resource_id.parent} does not exist.")
    group = ids.resource_group_id(resource_id.raw) if resource_id.namespace else None
    if group is not None and sandbox.store.get(group) is None:
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{resource_id.resource_group}' could not "
                         "be found.")
    previous = sandbox.store.get(resource_id.raw)
    resource: dict[str, Any] = {"id": resource_id.raw, "name": resource_id.name, "type": resource_id.type}
    for name in ("location", "kind", "sku", "identity", "tags", "plan", "zones", "extendedLocation"):
        if name in body:
            resource[name] = body[name]
    resource["systemData"] = _system_data(sandbox, previous)
    resource["properties"] = {**(body.get("properties") or {}), "provisioningState": "Succeeded"}
    defaults = CREATE_DEFAULTS.get(ids.normalize(resource_id.type))
    if defaults is not None:
        defaults(sandbox, request, resource)
    sandbox.store.put(resource)
    return Response(200 if previous else 201, resource)


def generic_patch(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId) -> Response:
    body = _body_object(request)
    if isinstance(body, Response):
        return body
    resource = sandbox.store.get(resource_id.raw)
    if resource is None:
        return arm_error(404, "ResourceNotFound", f"{resource_id} was not found.")
    if "tags" in body:
        resource["tags"] = body["tags"]
    resource.setdefault("properties", {}).update(body.get("properties") or {})
    resource["systemData"] = _system_data(sandbox, resource)
    sandbox.store.put(resource)
    return Response(200, resource)


def generic_delete(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId) -> Response:
    if sandbox.store.get(resource_id.raw) is None:
        return Response(204)
    sandbox.store.delete_under(resource_id.raw)
    return Response(200)


# ---- POST actions --------------------------------------------------------------------------
def _secret(sandbox: Sandbox, resource: dict[str, Any], name: str) -> str:
    """A stable key per resource, derived from a per-sandbox secret (never stored in the clear)."""
    secret = sandbox.store.meta(KEY_SECRET)
    if secret is None:
        secret = uuid.uuid4().hex + uuid.uuid4().hex
        sandbox.store.set_meta(KEY_SECRET, secret)
    digest = hmac.new(secret.encode(), f"{ids.normalize(resource['id'])}/{name}".encode(), hashlib.sha512)
    return base64.b64encode(digest.digest()).decode()


def _workspace_keys(sandbox: Sandbox, resource: dict[str, Any]) -> dict[str, Any]:
    return {"primarySharedKey": _secret(sandbox, resource, "primary"),
            "secondarySharedKey": _secret(sandbox, resource, "secondary")}


def _storage_keys(sandbox: Sandbox, resource: dict[str, Any]) -> dict[str, Any]:
    return {"keys": [{"keyName": name, "value": _secret(sandbox, resource, name), "permissions": "FULL"}
                     for name in ("key1", "key2")]}


ACTIONS: dict[tuple[str, str], Callable[[Sandbox, dict[str, Any]], dict[str, Any]]] = {
    ("microsoft.operationalinsights/workspaces", "listkeys"): _workspace_keys,
    ("microsoft.operationalinsights/workspaces", "sharedkeys"): _workspace_keys,
    ("microsoft.storage/storageaccounts", "listkeys"): _storage_keys,
}


def action(sandbox: Sandbox, request: Request, target: str, name: str) -> Response:
    resource = sandbox.store.get(target)
    if resource is None:
        return arm_error(404, "ResourceNotFound", f"{target} was not found.")
    handler = ACTIONS.get((ids.normalize(resource["type"]), name.lower()))
    if handler is None:
        return arm_error(404, "NoRegisteredProviderFound",
                         f"Action '{name}' is not supported for type {resource['type']} by the sandbox.")
    return Response(200, handler(sandbox, resource))
