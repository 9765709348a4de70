"""ARM: resources, collections, POST actions and operation status, as Azure Resource Manager answers.

Every request names a resource type (the resource's, the listed one's, or the polled operation's);
its :class:`~engine.sandbox.resources.ResourceType` says which api-versions are accepted and which
kept swagger describes it. Writes follow the published semantics (:mod:`engine.sandbox.validation`): a
PUT replaces the resource (defaults filled, read-only and unknown properties dropped, create-only ones
fixed), a PATCH is a JSON merge patch, answered 200 without an operation when it changes nothing. Lists
page with ``nextLink`` where the spec declares ``x-ms-pageable``. Cluster extension resources provision
asynchronously on the simulated clock: 201/202 with ``Azure-AsyncOperation`` (and ``Location`` on
202) pointing at an operation whose status goes InProgress -> Succeeded or Failed, so the SDK's
ARMPolling drives them unchanged.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from engine import ids
from engine.sandbox import lifecycle, protected
from engine.sandbox.core import Sandbox
from engine.sandbox.http import Request, Response, arm_error
from engine.sandbox.resources import REGISTRY, Parent, ResourceType, lookup
from engine.sandbox.resources.registry import ENVELOPE_SCHEMA, well_formed_api_version
from engine.sandbox.swagger import Schema
from engine.sandbox.validation import Refused, cleaned, create_only_changes, merge_patch, with_defaults
from engine.sandbox.values import SANDBOX_TENANT_ID, deterministic_uuid, timestamp

OPERATION_MARKER = "/operations/"
OPERATION_STATUS = {"Succeeded": "Succeeded", "Failed": "Failed", "Deleted": "Succeeded"}
SKIP_TOKEN = "$skiptoken"
BUSY_STATES = ("Creating", "Updating", "Deleting")
IDENTITY_WITH_PRINCIPAL = "systemassigned"


@dataclass(frozen=True)
class Target:
    """What an ARM path names: a resource, a collection of one type under a scope, or an action."""

    path: str
    type: str  # the resource type the request is about
    resource: ids.ResourceId | None = None  # a resource (GET/PUT/PATCH/DELETE, or the target of an action)
    scope: str | None = None  # a collection's parent path ("" for the tenant)
    action: str | None = None
    provider: str | None = None  # a provider namespace (``GET /subscriptions/{id}/providers/{namespace}``)


def _target(method: str, path: str) -> Target | None:
    if path.lower() == "/subscriptions":
        return Target(path, "Microsoft.Resources/subscriptions", scope="")
    try:
        resource = ids.parse_resource_id(path)
    except ids.ResourceIdError:
        resource = None
    if resource is not None:
        if resource.namespace is not None and not resource.segments:
            return Target(path, "Microsoft.Resources/providers", provider=resource.namespace)
        return Target(path, resource.type, resource=resource)
    parent, _, last = path.rpartition("/")
    if not parent:
        return None
    if method == "POST":
        try:
            owner = ids.parse_resource_id(parent)
        except ids.ResourceIdError:
            return None
        return Target(path, owner.type, resource=owner, action=last)
    scope, _, namespace = parent.rpartition("/")
    if scope.lower().endswith("/providers"):
        return Target(path, f"{namespace}/{last}", scope=scope[: -len("/providers")])
    if last.lower() == "resourcegroups":
        return Target(path, "Microsoft.Resources/resourceGroups", scope=parent)
    try:
        owner = ids.parse_resource_id(parent)
    except ids.ResourceIdError:
        return None
    return Target(path, f"{owner.type}/{last}", scope=parent)  # a child resource collection


def handle(sandbox: Sandbox, request: Request, path: str) -> Response:
    """Answer one ARM request (after authentication and the throttling buckets)."""
    base, marker, operation_id = path.rpartition(OPERATION_MARKER)
    if marker and request.method == "GET" and "/" not in operation_id and _target("GET", base) is not None:
        target = _target("GET", base)
        assert target is not None
        return checked_api_version(sandbox, request, target) or operation_status(sandbox, request, operation_id)
    target = _target(request.method, path)
    if target is None:
        return arm_error(400, "InvalidResourceId", f"'{path}' is not a resource id or collection.")
    refused = checked_api_version(sandbox, request, target)
    if refused is not None:
        return refused
    sandbox.settle()
    resource_type = lookup(target.type)
    try:
        if target.provider is not None:
            return _provider(request, target)
        if target.action is not None:
            return _action(sandbox, request, target, resource_type)
        if target.resource is None:
            return _list(sandbox, request, target, resource_type)
        return _resource(sandbox, request, target.resource, resource_type)
    except Refused as refusal:
        return arm_error(refusal.status, refusal.code, str(refusal))


# ---- api-versions ----------------------------------------------------------------------------
def checked_api_version(sandbox: Sandbox, request: Request, target: Target) -> Response | None:
    """ARM's answer to a missing, malformed or unregistered api-version for the target's type."""
    version = request.query.get("api-version")
    if not version:
        return arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is "
                                                            "required for all requests.")
    resource_type = lookup(target.type)
    supported = "', '".join(sorted(resource_type.api_versions, reverse=True)) if resource_type else ""
    if not well_formed_api_version(version):
        hint = f" The supported versions are '{supported}'." if supported else ""
        return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.{hint}")
    if resource_type is None or not resource_type.api_versions or version in resource_type.api_versions:
        return None  # a type without a registered list: any well-formed api-version
    if resource_type.resource_manager:
        return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid. The "
                                                            f"supported versions are '{supported}'.")
    location = _location_of(sandbox, target)
    return arm_error(400, "NoRegisteredProviderFound", f"No registered resource provider found for location "
                     f"'{location}' and API version '{version}' for type '{resource_type.type.split('/', 1)[1]}'. "
                     f"The supported api-versions are '{supported}'.")


def _location_of(sandbox: Sandbox, target: Target) -> str:
    """The location ARM names in NoRegisteredProviderFound: the resource's or its nearest container's."""
    path = target.path if target.resource is not None else target.scope or ""
    while path:
        stored = sandbox.store.get(path)
        if stored is not None and stored.get("location"):
            return str(stored["location"])
        path = path.rpartition("/")[0]
    return "global"


# ---- containers --------------------------------------------------------------------------------
def _missing_container(sandbox: Sandbox, path: str, *, itself: bool = False) -> Response | None:
    """404 in ARM's words when the subscription, resource group or parent resource of ``path`` (or the
    scope ``path`` itself, with ``itself``) does not exist."""
    try:
        parsed = ids.parse_resource_id(path)
    except ids.ResourceIdError:
        return None
    subscription = parsed.subscription_id
    if subscription and sandbox.store.get(f"/subscriptions/{subscription}") is None \
            and (itself or parsed.resource_group is not None or parsed.namespace is not None):
        return arm_error(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
    group = ids.resource_group_id(path)
    is_group = parsed.namespace is None and parsed.resource_group is not None
    if group is not None and (itself or not is_group) and sandbox.store.get(group) is None:
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{parsed.resource_group}' could not be "
                                                        "found.")
    parent = _parent_path(parsed)
    if itself and parsed.segments:
        parent = path
    if parent is not None and sandbox.store.get(parent) is None:
        name = parent.rstrip("/").rpartition("/")[2]
        return arm_error(404, "ParentResourceNotFound", "Can not perform requested operation on nested resource. "
                                                         f"Parent resource '{name}' not found.")
    return None


def _parent_path(parsed: ids.ResourceId) -> str | None:
    """The resource a nested or extension resource hangs off (None for top-level resources)."""
    if len(parsed.segments) > 1:
        return parsed.raw.rstrip("/").rsplit("/", 2)[0]
    if parsed.parent is not None and parsed.parent.segments:
        return parsed.parent.raw
    return None


def not_found(resource_id: ids.ResourceId) -> Response:
    """ARM's 404 for a resource that does not exist (a subscription and a group have their own codes)."""
    if resource_id.namespace is None and resource_id.resource_group is not None:
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{resource_id.resource_group}' could not be "
                                                        "found.")
    if resource_id.namespace is None:
        return arm_error(404, "SubscriptionNotFound", f"The subscription '{resource_id.subscription_id}' could not be "
                                                       "found.")
    return arm_error(404, "ResourceNotFound", f"The Resource '{resource_id.type}/{resource_id.name}' under resource "
                                              f"group '{resource_id.resource_group}' was not found.")


# ---- reads -------------------------------------------------------------------------------------
def _resource(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId,
              resource_type: ResourceType | None) -> Response:
    if request.method in ("GET", "HEAD"):
        missing = _missing_container(sandbox, resource_id.raw)
        if missing is not None:
            return Response(404) if request.method == "HEAD" else missing
        resource = sandbox.store.get(resource_id.raw)
        if resource is None:
            return Response(404) if request.method == "HEAD" else not_found(resource_id)
        return Response(204) if request.method == "HEAD" else Response(200, resource)
    handler = {"PUT": put, "PATCH": patch, "DELETE": delete}.get(request.method)
    if handler is None or (resource_type is not None and not resource_type.writable):
        return arm_error(405, "MethodNotAllowed", f"{request.method} is not supported on {resource_id.type}.")
    if request.method == "PUT" and resource_type is not None and resource_type.write is not None:
        missing = _missing_container(sandbox, resource_id.raw)
        return missing or resource_type.write(sandbox, request, resource_id)
    return handler(sandbox, request, resource_id, resource_type)


def _list(sandbox: Sandbox, request: Request, target: Target, resource_type: ResourceType | None) -> Response:
    if request.method != "GET":
        return arm_error(405, "MethodNotAllowed", f"{request.method} is not supported on a collection.")
    scope = target.scope or ""
    if scope:
        missing = _missing_container(sandbox, scope, itself=True)
        if missing is not None:
            return missing
    type_key = ids.normalize(resource_type.type if resource_type else target.type)
    by_subscription = bool(scope) and resource_type is not None and resource_type.parent is Parent.RESOURCE_GROUP \
        and ids.parse_resource_id(scope).resource_group is None
    operation = resource_type.operation("GET", target.path) if resource_type else None
    pageable = operation.pageable if operation is not None else True
    page_size = sandbox.options.arm_page_size if pageable else None
    after = _position(request.query.get(SKIP_TOKEN))
    if not scope:
        rows = sandbox.store.of_type(None, type_key, after, page_size)
    elif by_subscription:
        rows = sandbox.store.of_type(ids.parse_resource_id(scope).subscription_id or "", type_key, after, page_size)
    else:
        rows = sandbox.store.children(target.path, after, page_size)
    body: dict[str, Any] = {"value": [resource for _, resource in rows]}
    if page_size is not None and len(rows) > page_size:
        body["value"] = body["value"][:page_size]
        body["nextLink"] = (f"{request.base_url}{target.path}?api-version={request.query['api-version']}"
                            f"&{SKIP_TOKEN}={_token(rows[page_size - 1][0])}")
    return Response(200, body)


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _position(token: str | None) -> str | None:
    """The key after which the next page starts (``$skiptoken`` is opaque to clients)."""
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        raise Refused("InvalidSkipToken", f"The {SKIP_TOKEN} '{token}' is not valid.") from None


def _provider(request: Request, target: Target) -> Response:
    """A provider's registration: its resource types with the api-versions the sandbox accepts."""
    if request.method != "GET":
        return arm_error(405, "MethodNotAllowed", f"{request.method} is not supported on a provider.")
    namespace = str(target.provider)
    types = {resource_type.type: resource_type for resource_type in REGISTRY.values()
             if resource_type.type.lower().startswith(namespace.lower() + "/")}
    if not types:
        return arm_error(404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.")
    canonical = next(iter(types)).split("/", 1)[0]
    return Response(200, {"id": f"{target.path.rpartition('/providers/')[0]}/providers/{canonical}",
                          "namespace": canonical, "registrationState": "Registered",
                          "registrationPolicy": "RegistrationRequired",
                          "resourceTypes": [{"resourceType": name.split("/", 1)[1], "locations": [],
                                             "apiVersions": sorted(resource_type.api_versions, reverse=True)}
                                            for name, resource_type in types.items()]})


# ---- writes ------------------------------------------------------------------------------------
def _body_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise Refused("InvalidRequestContent", "The request content is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Refused("InvalidRequestContent", "The request content must be a JSON object.")
    return body


def _system_data(sandbox: Sandbox, previous: dict[str, Any] | None) -> dict[str, Any]:
    now = timestamp(sandbox.now())
    created = (previous or {}).get("systemData") or {}
    return {"createdBy": created.get("createdBy", "arcpolicy-sandbox"), "createdByType": "Application",
            "createdAt": created.get("createdAt", now), "lastModifiedBy": "arcpolicy-sandbox",
            "lastModifiedByType": "Application", "lastModifiedAt": now}


def _busy(resource: dict[str, Any] | None) -> bool:
    return (resource or {}).get("properties", {}).get("provisioningState") in BUSY_STATES


def _writable(schema: Schema, resource: dict[str, Any]) -> dict[str, Any]:
    """What a client can write of a stored resource: read-only and server-managed members left out."""
    return cleaned(schema, {name: value for name, value in resource.items() if name not in ("id", "name", "type")})


def _read_only_state(schema: Schema, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The read-only ``properties`` members of the stored resource: the service's, kept across writes."""
    properties = schema.properties.get("properties")
    if previous is None or properties is None:
        return {}
    return {name: value for name, value in (previous.get("properties") or {}).items()
            if (member := properties.properties.get(name)) is not None and member.read_only}


def _with_server_values(sandbox: Sandbox, resource_id: ids.ResourceId, resource_type: ResourceType | None,
                        schema: Schema, written: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The resource as stored: the written members, ARM's envelope and the server-set values."""
    resource: dict[str, Any] = {"id": (previous or {}).get("id", resource_id.raw), "name": resource_id.name,
                                "type": resource_type.type if resource_type else resource_id.type, **written}
    carried = _read_only_state(schema, previous)
    if carried or "properties" in written:
        resource["properties"] = {**carried, **written.get("properties", {})}
    identity = resource.get("identity")
    if isinstance(identity, dict) and IDENTITY_WITH_PRINCIPAL in str(identity.get("type", "")).lower():
        identity["principalId"] = deterministic_uuid(resource_id.key, "principal")
        identity["tenantId"] = SANDBOX_TENANT_ID
    resource["systemData"] = _system_data(sandbox, previous)
    if resource_type is None or not resource_type.lifecycle:
        resource.setdefault("properties", {})["provisioningState"] = "Succeeded"
    return resource


def _check_location(resource_type: ResourceType | None, resource: dict[str, Any],
                    previous: dict[str, Any] | None) -> None:
    if resource_type is not None and resource_type.tracked and not resource.get("location"):
        raise Refused("LocationRequired", "The location property is required for this definition.")
    if "location" in resource:
        resource["location"] = ids.location_name(str(resource["location"]))
    if previous is not None and previous.get("location") and resource.get("location") \
            and ids.location_name(str(previous["location"])) != resource["location"]:
        raise Refused("InvalidResourceLocation", f"The resource '{previous.get('name')}' already exists in location "
                                                 f"'{previous['location']}'. A resource with the same name cannot "
                                                 f"be created in location '{resource['location']}'.")


def _target_of_write(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId,
                     resource_type: ResourceType | None) -> tuple[dict[str, Any], dict[str, Any] | None] | Response:
    """(the request body, the stored resource or None), or ARM's refusal of the write."""
    body = _body_object(request)
    missing = _missing_container(sandbox, resource_id.raw)
    if missing is not None:
        return missing
    previous = sandbox.store.get(resource_id.raw)
    if previous is not None and resource_type is not None and resource_type.lifecycle and _busy(previous):
        return arm_error(409, "Conflict", f"{resource_id.name} has an operation in progress "
                                          f"({previous['properties']['provisioningState']}); retry when it completes.")
    return body, previous


def _stored(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId, resource_type: ResourceType | None,
            schema: Schema, written: dict[str, Any], previous: dict[str, Any] | None, secrets: dict[str, Any],
            *, replace: bool) -> dict[str, Any]:
    """The checked write as the resource to store: create-only members unchanged, server values set, the
    type's checks passed, protected values recorded as digests and blanked."""
    changed = [place for place in create_only_changes(schema, previous, written) if place != "location"] \
        if previous is not None else []
    if changed:
        raise Refused("PropertyChangeNotAllowed", f"Changing property '{changed[0]}' is not allowed.")
    resource = _with_server_values(sandbox, resource_id, resource_type, schema, written, previous)
    if resource_type is not None and resource_type.prepare is not None:
        resource_type.prepare(sandbox, request, resource, previous)
    protected.record(sandbox, resource_id.raw, secrets, replace=replace)
    return protected.blanked(schema, resource)


def _written(sandbox: Sandbox, request: Request, resource: dict[str, Any], resource_type: ResourceType | None,
             phase: str, status: int) -> Response:
    """Answer a write: a cluster extension resource starts its operation, anything else is stored at once."""
    if resource_type is not None and resource_type.lifecycle:
        return _start(sandbox, request, resource, phase, status)
    sandbox.store.put(resource)
    return Response(200 if status == 202 else status, resource)


def put(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId,
        resource_type: ResourceType | None) -> Response:
    """Create or replace: the body is the whole resource (what it leaves out is gone or defaulted)."""
    target = _target_of_write(sandbox, request, resource_id, resource_type)
    if isinstance(target, Response):
        return target
    body, previous = target
    schema = resource_type.body_schema("PUT", request.path) if resource_type else ENVELOPE_SCHEMA
    written = with_defaults(schema, cleaned(schema, body))
    _check_location(resource_type, written, previous)
    resource = _stored(sandbox, request, resource_id, resource_type, schema, written, previous,
                       protected.written_settings(body.get("properties")), replace=True)
    return _written(sandbox, request, resource, resource_type, "update" if previous else "create",
                    200 if previous else 201)


def patch(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId,
          resource_type: ResourceType | None) -> Response:
    """A JSON merge patch of the writable members; 200 without an operation when nothing changes."""
    target = _target_of_write(sandbox, request, resource_id, resource_type)
    if isinstance(target, Response):
        return target
    body, previous = target
    if previous is None:
        return not_found(resource_id)
    put_schema = resource_type.body_schema("PUT", request.path) if resource_type else ENVELOPE_SCHEMA
    patch_schema = resource_type.body_schema("PATCH", request.path) if resource_type else ENVELOPE_SCHEMA
    changes = cleaned(patch_schema, body, patch=True)
    current = with_defaults(put_schema, _writable(put_schema, previous))
    written = with_defaults(put_schema, cleaned(put_schema, merge_patch(current, changes)))
    secrets = protected.written_settings(changes.get("properties"))
    if protected.blanked(put_schema, written) == current and protected.unchanged(sandbox, resource_id.raw, secrets):
        return Response(200, previous)
    resource = _stored(sandbox, request, resource_id, resource_type, put_schema, written, previous, secrets,
                       replace=False)
    return _written(sandbox, request, resource, resource_type, "update", 202)


def delete(sandbox: Sandbox, request: Request, resource_id: ids.ResourceId,
           resource_type: ResourceType | None) -> Response:
    """Delete (with everything below it); cluster extension resources asynchronously unless ``forceDelete``."""
    missing = _missing_container(sandbox, resource_id.raw)
    if missing is not None:
        return missing
    previous = sandbox.store.get(resource_id.raw)
    if previous is None:
        return Response(204)
    if resource_type is not None and resource_type.lifecycle \
            and str(request.query.get("forceDelete", "")).lower() != "true":
        return _start(sandbox, request, previous, "delete", 202)
    sandbox.store.delete_under(resource_id.raw)
    sandbox.store.finish(resource_id.key)
    sandbox.facts_changed()
    return Response(200)


# ---- long-running operations -------------------------------------------------------------------
def _start(sandbox: Sandbox, request: Request, resource: dict[str, Any], phase: str, status: int) -> Response:
    """Start a cluster extension resource's operation on the simulated clock; answer as ARM accepts it."""
    cluster_id = ids.owning_cluster_id(resource["id"])
    cluster = sandbox.store.get(cluster_id) if cluster_id else None
    if cluster is None:
        return arm_error(404, "ParentResourceNotFound", f"Cluster {cluster_id} does not exist or is not accessible.")
    now = sandbox.now()
    created = lifecycle.created_at(resource, now)
    outcome = lifecycle.settle(resource, phase, cluster, sandbox.architectures(cluster), now, created, now,
                               sandbox.options.provisioning_seconds)
    key = ids.normalize(resource["id"])
    with sandbox.store.lock:
        sandbox.store.start(key, ids.normalize(cluster["id"]), phase, now, created)
        sandbox.apply_outcome(resource, outcome)
        sandbox.facts_changed()
        return accepted(sandbox, request, resource["id"], phase, status, None if phase == "delete" else resource)


def accepted(sandbox: Sandbox, request: Request, resource_id: str, phase: str, status: int,
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
        properties = (resource or {}).get("properties", {})
        body["error"] = properties.get("errorInfo") or properties.get("error") or {
            "code": "ResourceGone", "message": "The resource no longer exists."}
    headers = {"Retry-After": str(sandbox.options.poll_after_seconds)} if status == "InProgress" else {}
    return Response(200, body, headers)


def _query(request: Request) -> str:
    return "&".join(f"{name}={value}" for name, value in request.query.items())


# ---- POST actions ------------------------------------------------------------------------------
def _action(sandbox: Sandbox, request: Request, target: Target, resource_type: ResourceType | None) -> Response:
    owner = target.resource
    assert owner is not None and target.action is not None
    missing = _missing_container(sandbox, owner.raw)
    if missing is not None:
        return missing
    resource = sandbox.store.get(owner.raw)
    preflight = target.action.lower() in (resource_type.preflight_actions if resource_type else ())
    if resource is None and not preflight:
        return not_found(owner)
    actions = {name.lower(): handler for name, handler in (resource_type.actions if resource_type else {}).items()}
    handler = actions.get(target.action.lower())
    if handler is None:
        return arm_error(404, "NoRegisteredProviderFound",
                         f"Action '{target.action}' is not supported for type {owner.type} by the sandbox.")
    try:
        body = request.json()
    except ValueError:
        raise Refused("InvalidRequestContent", "The request content is not valid JSON.") from None
    answer = handler(sandbox, request, resource or {"id": owner.raw, "name": owner.name}, body)
    return answer if isinstance(answer, Response) else Response(200, answer)

