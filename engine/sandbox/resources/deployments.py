"""Microsoft.Resources/deployments: template deployments at resource-group and subscription scope.

A PUT runs the template as ARM's deployment engine does, in incremental mode: the template is expanded
by remediation/template's expander (parameters, variables, ``copy``, ``condition``, nested deployments,
``dependsOn``, extension resources' ``scope``, the template functions), Key Vault parameter references are
read from the sandbox's vaults, and the deployment answers 201 with an ``Azure-AsyncOperation`` like ARM.
Its resources are then written through the sandbox's own ARM handlers (every type's checks apply), each
once everything it depends on has succeeded, ``reference()`` and ``list*()`` read when it starts; the
deployment is Succeeded once all have succeeded, Failed at the first that fails. An extension on a
disconnected cluster stays Pending, and so does the deployment, as ARM's would until its timeout.
``validate`` expands and checks the template without writing; ``whatIf`` says what each resource would
become (Create, Modify, NoChange). Complete mode and linked templates are refused; nested deployments are
not kept as resources of their own.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine import ids
from engine.expressions import EvaluationError
from engine.sandbox import keyvault
from engine.sandbox.resources.containers import RESOURCE_GROUP_API_VERSIONS
from engine.sandbox.resources.registry import ResourceType, lookup, register
from engine.sandbox.validation import Refused
from engine.sandbox.values import timestamp

if TYPE_CHECKING:
    from engine.sandbox.core import Sandbox
    from engine.sandbox.http import Request, Response
    from remediation.plan.models import DeferredValue
    from remediation.template.expand import ExpandedResource

# Microsoft.Resources deployments share the resources folders' api-versions; 2026-06-01 is what
# azure-mgmt-resource-deployments 2.0.0 sends.
DEPLOYMENT_API_VERSIONS = (*RESOURCE_GROUP_API_VERSIONS, "2026-06-01")
DONE_STATES = frozenset({"succeeded"})
FAILED_STATES = frozenset({"failed", "canceled"})
SECURE_TYPES = frozenset({"securestring", "secureobject"})


def _properties(body: Any) -> dict[str, Any]:
    properties = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(properties, dict):
        raise Refused("InvalidRequestContent", "A deployment's body needs 'properties' with a 'template'.")
    if "templateLink" in properties or not isinstance(properties.get("template"), dict):
        raise Refused("InvalidRequestContent", "The sandbox deploys inline templates ('properties.template'); "
                                               "linked templates (templateLink) are not served.")
    mode = str(properties.get("mode", ""))
    if mode.lower() != "incremental":
        raise Refused("InvalidDeploymentMode", f"The sandbox deploys in Incremental mode only (mode '{mode}').")
    for name, member in (("parameters", properties.get("parameters")),
                         ("template.parameters", properties["template"].get("parameters"))):
        if member is not None and not isinstance(member, dict):
            raise Refused("InvalidRequestContent", f"'properties.{name}' must be an object.")
    return properties


def _parameter_values(sandbox: Sandbox, properties: dict[str, Any]) -> dict[str, Any]:
    """``{name: value}`` of the deployment's parameters, Key Vault references read from the vault."""
    values: dict[str, Any] = {}
    for name, entry in (properties.get("parameters") or {}).items():
        if not isinstance(entry, dict) or not ({"value", "reference"} & entry.keys()):
            raise Refused("InvalidTemplate", f"Deployment parameter '{name}' is neither {{\"value\": ...}} nor a "
                                             "Key Vault {\"reference\": ...}.")
        if "value" in entry:
            values[name] = entry["value"]
            continue
        reference = entry["reference"] if isinstance(entry["reference"], dict) else {}
        vault_id = str((reference.get("keyVault") or {}).get("id", ""))
        secret = keyvault.secret_value(sandbox, vault_id, str(reference.get("secretName", "")))
        if secret is None:
            raise Refused("KeyVaultParameterReferenceSecretRetrieveFailed",
                          f"The secret '{reference.get('secretName')}' of Key Vault '{vault_id}' for parameter "
                          f"'{name}' could not be retrieved.")
        values[name] = secret
    return values


def expanded(sandbox: Sandbox, deployment_id: ids.ResourceId, body: Any) -> list[tuple[ExpandedResource,
                                                                                      dict[str, Any]]]:
    """Each resource the deployment writes, with its body as written (secrets and parameters filled in)."""
    from remediation.template.compile import TemplateError
    from remediation.template.expand import CompiledTemplate, expand_template
    from remediation.template.scope import DeploymentScope

    properties = _properties(body)
    group = ids.resource_group_id(deployment_id.raw)
    location = body.get("location") or (sandbox.store.get(group) or {}).get("location") if group else \
        body.get("location")
    if group is None and not location:
        raise Refused("LocationRequired", "A subscription-scope deployment needs a location.")
    scope = DeploymentScope(str(deployment_id.subscription_id), deployment_id.resource_group, str(location))
    try:
        template = CompiledTemplate.compile(properties["template"], f"deployment {deployment_id.name}")
        secrets: dict[str, dict[str, Any]] = {}
        resources = expand_template(template, _parameter_values(sandbox, properties), scope, deployment_id.name,
                                    template_values=secrets, now=None)
    except (TemplateError, EvaluationError, ValueError) as error:
        raise Refused("InvalidTemplate", f"Deployment template validation failed: {error}") from None
    except (AttributeError, TypeError, KeyError):  # a member of the wrong JSON kind the expander does not name
        raise Refused("InvalidTemplate", "Deployment template validation failed: a template member has the wrong "
                                         "kind (an object, array or string where another is expected).") from None
    from remediation.apply.compare import set_path

    written = []
    for resource in resources:
        resource_body = copy.deepcopy(resource.body)
        for path, value in secrets.get(ids.normalize(resource.resource_id), {}).items():
            set_path(resource_body, path, value)
        written.append((resource, resource_body))
    return written


def _state(sandbox: Sandbox, resource_id: str) -> str:
    resource = sandbox.store.get(resource_id)
    if resource is None:
        return "missing"
    return str((resource.get("properties") or {}).get("provisioningState", "Succeeded")).lower()


@dataclass
class _Step:
    resource: ExpandedResource
    body: dict[str, Any]
    started: bool = False


@dataclass
class DeploymentJob:
    """A running deployment: its resources, started in dependency order as their dependencies succeed."""

    deployment_id: str
    base_url: str
    steps: list[_Step]
    started_at: float
    outputs: list[str] = field(default_factory=list)
    succeeded: set[str] = field(default_factory=set)  # normalized ids of resources seen Succeeded

    def advance(self, sandbox: Sandbox) -> bool:
        deployment = sandbox.store.get(self.deployment_id)
        if deployment is None:
            return True
        for step in self.steps:  # the expander's order is topological: one pass starts all that can start
            if step.started:
                continue
            states = [self._state(sandbox, dependency) for dependency in step.resource.depends_on]
            if any(state in FAILED_STATES or state == "missing" for state in states):
                return self._finish(sandbox, deployment, "Failed", step.resource.resource_id,
                                    "A resource it depends on failed.")
            if not all(state in DONE_STATES for state in states):
                continue
            error = self._start(sandbox, step)
            if error is not None:
                return self._finish(sandbox, deployment, "Failed", step.resource.resource_id, error)
        unsettled = [step.resource.resource_id for step in self.steps
                     if ids.normalize(step.resource.resource_id) not in self.succeeded]
        for resource_id in unsettled:
            state = self._state(sandbox, resource_id)
            if state in FAILED_STATES:
                error = ((sandbox.store.get(resource_id) or {}).get("properties") or {}).get("errorInfo") or {}
                return self._finish(sandbox, deployment, "Failed", resource_id, str(error.get("message", "it failed")))
        if all(step.started for step in self.steps) and len(self.succeeded) >= len(self.steps):
            return self._finish(sandbox, deployment, "Succeeded")
        return False

    def _state(self, sandbox: Sandbox, resource_id: str) -> str:
        """A resource's provisioning state, lower case; one seen Succeeded is not read again."""
        key = ids.normalize(resource_id)
        if key in self.succeeded:
            return "succeeded"
        state = _state(sandbox, key)
        if state in DONE_STATES:
            self.succeeded.add(key)
        return state

    def _start(self, sandbox: Sandbox, step: _Step) -> str | None:
        """Write one resource through the sandbox's ARM handlers; the error text if ARM refuses it."""
        from engine.sandbox import arm
        from engine.sandbox.http import Request

        step.started = True
        resource = step.resource
        try:
            for deferred in resource.deferred_values:
                _resolve(sandbox, self.base_url, deferred, step.body)
        except Refused as refusal:
            return str(refusal)
        request = Request("PUT", resource.resource_id, {"api-version": resource.api_version}, {},
                          orjson.dumps(step.body), self.base_url)
        try:
            response = arm.handle(sandbox, request, resource.resource_id)
        except Exception as error:  # a job must end, never fail every later request's settle
            return f"InternalServerError: {type(error).__name__}"
        sandbox.count("deploymentWrites")
        if response.status >= 400:
            error = (response.body or {}).get("error") or {}
            return f"{error.get('code', response.status)}: {error.get('message', '')}"
        self.outputs.append(resource.resource_id)
        return None

    def _finish(self, sandbox: Sandbox, deployment: dict[str, Any], state: str, resource_id: str | None = None,
                message: str | None = None) -> bool:
        properties = deployment.setdefault("properties", {})
        properties.update({"provisioningState": state, "timestamp": timestamp(sandbox.now()),
                           "duration": f"PT{max(sandbox.now() - self.started_at, 0):.3f}S",
                           "outputResources": [{"id": resource} for resource in self.outputs]})
        if state == "Failed":
            properties["error"] = {"code": "DeploymentFailed", "message": "At least one resource deployment "
                                   "operation failed.", "details": [{"code": "ResourceDeploymentFailure",
                                                                     "target": resource_id, "message": message}]}
        sandbox.store.put(deployment)
        return True


class _LiveState:
    """What a running deployment reads (``reference()``, ``list*()``): the sandbox's own state, answered by its
    ARM handlers; the reader apply's deferred values use (remediation.apply.deferred) works on it unchanged."""

    def __init__(self, sandbox: Sandbox, base_url: str):
        self.sandbox = sandbox
        self.base_url = base_url

    def read(self, resource_id: str, api_version: str) -> dict[str, Any] | None:
        return self.sandbox.store.get(resource_id)

    def latest_api_version(self, resource_id: str) -> str:
        resource_type = lookup(ids.parse_resource_id(resource_id).type)
        return max(resource_type.api_versions) if resource_type and resource_type.api_versions else ""

    def list_action(self, resource_id: str, action: str, api_version: str, body: Any = None) -> Any:
        from engine.sandbox import arm
        from engine.sandbox.http import Request

        request = Request("POST", f"{resource_id}/{action}", {"api-version": api_version}, {},
                          orjson.dumps(body) if body is not None else b"", self.base_url)
        answer = arm.handle(self.sandbox, request, request.path)
        if answer.status >= 400:
            raise Refused("InvalidTemplate", f"{action}('{resource_id}'): {(answer.body or {}).get('error')}")
        return answer.body


def _resolve(sandbox: Sandbox, base_url: str, deferred: DeferredValue, body: dict[str, Any]) -> None:
    """Fill a ``reference()`` / ``list*()`` value (or an expression of them) in from the live state, as ARM does
    when the resource deploys."""
    from remediation.apply.compare import set_path
    from remediation.apply.deferred import LiveStateMissing, resolve_deferred

    try:
        value = resolve_deferred(deferred, _LiveState(sandbox, base_url))  # type: ignore[arg-type]
    except LiveStateMissing as missing:
        raise Refused("InvalidTemplate", str(missing)) from None
    set_path(body, deferred.path, value)


def _shown_parameters(properties: dict[str, Any]) -> dict[str, Any]:
    """The parameters as ARM shows a deployment's: secure ones by type only, Key Vault ones by reference."""
    declared = {name.lower(): str(declaration.get("type", "string")) if isinstance(declaration, dict) else "string"
                for name, declaration in (properties["template"].get("parameters") or {}).items()}
    shown: dict[str, Any] = {}
    for name, entry in (properties.get("parameters") or {}).items():
        kind = declared.get(name.lower(), "string")
        shown[name] = {"type": kind} if kind.lower() in SECURE_TYPES else {"type": kind, **entry}
    return shown


def put_deployment(sandbox: Sandbox, request: Request, deployment_id: ids.ResourceId) -> Response:
    """Create a deployment and start running its template (201 with an ``Azure-AsyncOperation``)."""
    from engine.sandbox import arm

    previous = sandbox.store.get(deployment_id.raw)
    if previous is not None and previous["properties"].get("provisioningState") == "Running":
        raise Refused("DeploymentActive", f"The deployment '{deployment_id.name}' is still running.", 409)
    try:
        body = request.json()
    except ValueError:
        raise Refused("InvalidRequestContent", "The request content is not valid JSON.") from None
    resources = expanded(sandbox, deployment_id, body)
    properties = _properties(body)
    now = sandbox.now()
    template_hash = hashlib.sha256(orjson.dumps(properties["template"], option=orjson.OPT_SORT_KEYS)).hexdigest()
    deployment = {
        "id": deployment_id.raw, "name": deployment_id.name, "type": "Microsoft.Resources/deployments",
        **({"location": body["location"]} if body.get("location") else {}),
        "properties": {"provisioningState": "Running", "mode": "Incremental", "timestamp": timestamp(now),
                       "correlationId": str(uuid.uuid4()), "templateHash": template_hash,
                       "parameters": _shown_parameters(properties), "outputs": {}, "outputResources": [],
                       "dependencies": [{"id": resource.resource_id, "dependsOn": [{"id": dependency}
                                                                                   for dependency in resource.depends_on]}
                                        for resource, _ in resources if resource.depends_on]}}
    sandbox.store.put(deployment)
    sandbox.jobs.append(DeploymentJob(deployment_id.raw, request.base_url,
                                      [_Step(resource, written) for resource, written in resources], now))
    sandbox.facts_changed()
    return arm.accepted(sandbox, request, deployment_id.raw, "create", 201, deployment)


def validate(sandbox: Sandbox, request: Request, deployment: dict[str, Any], body: Any) -> dict[str, Any]:
    """Expand and check the template, writing nothing: every resource's type and api-version as ARM knows them."""
    from engine.sandbox import arm
    from engine.sandbox.http import Request

    deployment_id = ids.parse_resource_id(deployment["id"])
    resources = expanded(sandbox, deployment_id, body)
    for resource, _ in resources:
        target = arm.Target(resource.resource_id, resource.resource_type,
                            resource=ids.parse_resource_id(resource.resource_id))
        probe = Request("PUT", resource.resource_id, {"api-version": resource.api_version}, {}, b"",
                              request.base_url)
        refused = arm.checked_api_version(sandbox, probe, target)
        if refused is not None:
            error = refused.body["error"]
            raise Refused("InvalidTemplate", f"Deployment template validation failed: {resource.resource_id}: "
                                             f"{error['message']}")
    return {"id": deployment_id.raw, "name": deployment_id.name, "type": "Microsoft.Resources/deployments",
            "properties": {"provisioningState": "Succeeded", "mode": "Incremental",
                           "validatedResources": [{"id": resource.resource_id} for resource, _ in resources]}}


def what_if(sandbox: Sandbox, request: Request, deployment: dict[str, Any], body: Any) -> dict[str, Any]:
    """What each resource of the template would become: Create, Modify (with the fields that change), NoChange."""
    from remediation.apply.compare import READ_ONLY_KEYS, SECRET_KEYS, matches

    deployment_id = ids.parse_resource_id(deployment["id"])
    changes = []
    for resource, written in expanded(sandbox, deployment_id, body):
        before = sandbox.store.get(resource.resource_id)
        shown = {key: value for key, value in written.items() if key.lower() not in SECRET_KEYS}
        if before is None:
            changes.append({"resourceId": resource.resource_id, "changeType": "Create", "after": shown})
            continue
        delta = [{"path": f"properties.{name}", "propertyChangeType": "Modify",
                  "before": (before.get("properties") or {}).get(name), "after": value}
                 for name, value in (written.get("properties") or {}).items()
                 if name.lower() not in READ_ONLY_KEYS | SECRET_KEYS
                 and not matches((before.get("properties") or {}).get(name), value)]
        changes.append({"resourceId": resource.resource_id, "changeType": "Modify" if delta else "NoChange",
                        "before": before, "after": {**before, **shown}, **({"delta": delta} if delta else {})})
    return {"status": "Succeeded", "properties": {"changes": changes}}


DEPLOYMENTS = register(ResourceType(
    "Microsoft.Resources/deployments", DEPLOYMENT_API_VERSIONS, resource_manager=True,
    actions={"validate": validate, "whatIf": what_if}, preflight_actions=frozenset({"validate", "whatif"}),
    write=put_deployment))
