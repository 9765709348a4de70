"""ARM template functions that need the deployment: each one registered unit.

``TEMPLATE_FUNCTIONS`` extends the common registry with the deployment-context functions
(parameters, variables, scope and resource-id functions, copyIndex, and the deferred
reference and ``list*`` functions), with :data:`~remediation.template.values.MARKS` carrying
deferred values and secret taint through every function. ``DEPLOYMENT_PARAMETER_FUNCTIONS`` adds Azure Policy's ``field()`` for the
``details.deployment`` parameter values a DINE definition fills from the evaluated resource;
``PARAMETER_DEFAULT_FUNCTIONS`` adds ``utcNow()`` and ``newGuid()``, which ARM allows in a
template parameter's ``defaultValue`` only.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from engine.azure_policy.fields import FieldError
from engine.azure_policy.functions import field_reference
from engine.expressions import EvaluationError
from engine.expressions.registry import SCALAR, TEMPLATE_LANGUAGE_FUNCTIONS, TEXT
from remediation.template.generated import GeneratedValues
from remediation.template.scope import RESOURCE_GROUP_TYPE, DeploymentScope, resource_id_at
from remediation.template.values import MARKS, Deferred


class TemplateContext(Protocol):
    """What template functions read from the deployment being evaluated."""

    scope: DeploymentScope
    deployment_name: str

    def parameter(self, name: str) -> Any: ...

    def variable(self, name: str) -> Any: ...

    def copy_index(self, loop: str | None) -> int: ...

    def reference_target(self, name_or_id: str) -> str: ...

    def field(self, path: str) -> Any: ...


class GeneratingContext(TemplateContext, Protocol):
    """A deployment binding its parameters' default values records what they generate."""

    generated: GeneratedValues


class PolicyDeploymentContext(TemplateContext, Protocol):
    """A DINE's deployment parameter values also read the assignment."""

    def policy(self) -> dict[str, str]: ...


TEMPLATE_FUNCTIONS = TEMPLATE_LANGUAGE_FUNCTIONS.extend(MARKS)
T = TEMPLATE_FUNCTIONS
T.refuse("pickZones", "it reads which availability zones a resource type has in a region from Azure's resource "
                      "providers, which an offline plan does not know")
T.refuse("providers", "it is deprecated and reads Azure's resource provider registry, which an offline plan does "
                      "not know")
T.refuse("managementGroup", "it is only available in management group deployments; arcpolicy deploys at resource "
                            "group and subscription scope")
T.refuse("references", "it reads resource collections by symbolic name (languageVersion 2.0 templates), which "
                       "arcpolicy does not expand")

# environment() in global Azure, as template-functions-deployment#environment returns it there.
AZURE_CLOUD = {
    "name": "AzureCloud", "gallery": "https://gallery.azure.com/", "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com", "graphAudience": "https://graph.windows.net/",
    "activeDirectoryDataLake": "https://datalake.azure.net/", "batch": "https://batch.core.windows.net/",
    "media": "https://rest.media.azure.net", "sqlManagement": "https://management.core.windows.net:8443/",
    "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/"
                       "quickstart-templates/aliases.json",
    "resourceManager": "https://management.azure.com/",
    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/",
                       "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
                       "tenant": "common", "identityProvider": "AAD"},
    "suffixes": {"acrLoginServer": ".azurecr.io", "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
                 "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
                 "azureFrontDoorEndpointSuffix": "azurefd.net", "keyvaultDns": ".vault.azure.net",
                 "sqlServerHostname": ".database.windows.net", "storage": "core.windows.net"},
}


@T.function("environment", 0, 0)
def _environment() -> dict[str, Any]:
    """The Azure environment: global Azure (the cloud arcpolicy's fleets are projected into)."""
    return copy.deepcopy(AZURE_CLOUD)


@T.function("parameters", 1, 1, uses_context=True, takes=(TEXT,))
def _parameters(context: TemplateContext, name: str) -> Any:
    return context.parameter(name)


@T.function("variables", 1, 1, uses_context=True, takes=(TEXT,))
def _variables(context: TemplateContext, name: str) -> Any:
    return context.variable(name)


@T.function("copyIndex", 0, 2, uses_context=True, takes=(SCALAR,))
def _copy_index(context: TemplateContext, *arguments: Any) -> int:
    """copyIndex(), copyIndex(offset), copyIndex('loop'), copyIndex('loop', offset)."""
    loop = arguments[0] if arguments and isinstance(arguments[0], str) else None
    offsets = [argument for argument in arguments if isinstance(argument, int)]
    return context.copy_index(loop) + (offsets[0] if offsets else 0)


@T.function("resourceGroup", 0, 0, uses_context=True)
def _resource_group(context: TemplateContext) -> dict[str, Any]:
    scope = context.scope
    if scope.resource_group is None:
        raise EvaluationError("resourceGroup() is not available in a subscription-scope deployment")
    return {"id": scope.id, "name": scope.resource_group, "type": "Microsoft.Resources/resourceGroups",
            "location": scope.location, "properties": {"provisioningState": "Succeeded"}}


@T.function("subscription", 0, 0, uses_context=True)
def _subscription(context: TemplateContext) -> dict[str, Any]:
    scope = context.scope
    return {"id": scope.subscription_scope_id, "subscriptionId": scope.subscription_id,
            "tenantId": scope.tenant_id, "displayName": scope.subscription_id}


@T.function("tenant", 0, 0, uses_context=True)
def _tenant(context: TemplateContext) -> dict[str, Any]:
    return {"id": f"/tenants/{context.scope.tenant_id}", "tenantId": context.scope.tenant_id}


@T.function("deployment", 0, 0, uses_context=True)
def _deployment(context: TemplateContext) -> dict[str, Any]:
    """The deployment's name, mode and state; its ``location`` when it deploys to a subscription, as ARM
    includes it only there (template-functions-deployment#deployment)."""
    deployment: dict[str, Any] = {"name": context.deployment_name,
                                  "properties": {"mode": "Incremental", "provisioningState": "Accepted"}}
    if context.scope.resource_group is None:
        deployment["location"] = context.scope.location
    return deployment


def _split_type_arguments(function: str, arguments: tuple[Any, ...]) -> tuple[list[str], str, list[str]]:
    """(arguments before the type, the type, names): the type is the first argument with '/'."""
    for position, argument in enumerate(arguments):
        if isinstance(argument, str) and "/" in argument:
            return list(arguments[:position]), argument, [str(name) for name in arguments[position + 1:]]
    raise EvaluationError(f"{function}() needs a resource type such as 'Microsoft.Namespace/type'")


def _checked(function: str, base: str, resource_type: str, names: list[str]) -> str:
    try:
        return resource_id_at(base, resource_type, names)
    except ValueError as error:
        raise EvaluationError(f"{function}(): {error}") from None


@T.function("resourceId", 2, None, uses_context=True, takes=(TEXT,))
def _resource_id(context: TemplateContext, *arguments: Any) -> str:
    """resourceId([subscriptionId], [resourceGroupName], type, name...) in the deployment's scope."""
    prefix, resource_type, names = _split_type_arguments("resourceId", arguments)
    if len(prefix) > 2:
        raise EvaluationError("resourceId() takes at most a subscription id and a resource group before the type")
    subscription = prefix[0] if len(prefix) == 2 else context.scope.subscription_id
    group = prefix[-1] if prefix else context.scope.resource_group
    if resource_type.strip("/").lower() == RESOURCE_GROUP_TYPE:  # a group is a subscription's child
        subscription, group = (prefix[0] if prefix else context.scope.subscription_id), None
    base = f"/subscriptions/{subscription}" + (f"/resourceGroups/{group}" if group else "")
    return _checked("resourceId", base, resource_type, names)


@T.function("subscriptionResourceId", 2, None, uses_context=True, takes=(TEXT,))
def _subscription_resource_id(context: TemplateContext, *arguments: Any) -> str:
    prefix, resource_type, names = _split_type_arguments("subscriptionResourceId", arguments)
    subscription = prefix[0] if prefix else context.scope.subscription_id
    return _checked("subscriptionResourceId", f"/subscriptions/{subscription}", resource_type, names)


@T.function("tenantResourceId", 2, None, takes=(TEXT,))
def _tenant_resource_id(*arguments: Any) -> str:
    _, resource_type, names = _split_type_arguments("tenantResourceId", arguments)
    return _checked("tenantResourceId", "/", resource_type, names)


@T.function("managementGroupResourceId", 2, None, takes=(TEXT,))
def _management_group_resource_id(*arguments: Any) -> str:
    """managementGroupResourceId([managementGroupName], type, name...): this needs the management group named,
    arcpolicy deploying at resource group and subscription scope only."""
    prefix, resource_type, names = _split_type_arguments("managementGroupResourceId", arguments)
    if len(prefix) != 1:
        raise EvaluationError("managementGroupResourceId() needs the management group's name before the type "
                              "outside a management group deployment")
    return _checked("managementGroupResourceId",
                    f"/providers/Microsoft.Management/managementGroups/{prefix[0]}", resource_type, names)


@T.function("extensionResourceId", 3, None, takes=(TEXT,))
def _extension_resource_id(base_id: Any, resource_type: Any, *names: Any) -> str:
    if not isinstance(base_id, str) or not base_id.startswith("/"):
        raise EvaluationError(f"extensionResourceId() needs a resource id first, got {base_id!r}")
    return _checked("extensionResourceId", base_id, str(resource_type), [str(name) for name in names])


@T.function("reference", 1, 3, uses_context=True, takes=(TEXT,))
def _reference(context: TemplateContext, target: Any, api_version: Any = None, full: Any = None) -> Deferred:
    """Deferred: a resource's runtime state is read by apply, not guessed by the plan."""
    if full is not None and str(full).lower() != "full":
        raise EvaluationError(f"reference(): the third argument is 'Full' or absent, got {full!r}")
    return Deferred.of_call("reference", context.reference_target(str(target)),
                            None if api_version is None else str(api_version), *(["Full"] if full else []))


@T.family("list", 2, 3, uses_context=True)
def _list(function: str, context: TemplateContext, target: Any, api_version: Any, body: Any = None) -> Deferred:
    """listKeys(), listSecrets() ... (any ``list*`` action): deferred like reference()."""
    return Deferred.of_call(function, context.reference_target(str(target)), str(api_version),
                            *([] if body is None else [body]))


def resource_field(resource: dict[str, Any], path: str) -> Any:
    """Azure Policy's ``field()`` on an ARM resource, as policy rules read it
    (:meth:`engine.azure_policy.fields.FieldReference.value`): envelope fields, tags, ``fullName`` and
    aliases; a missing property is ``""``, a ``[*]`` alias of a missing array ``[]``."""
    try:
        reference = field_reference(path)
    except FieldError as error:
        raise EvaluationError(f"field('{path}'): {error}") from None
    return reference.value(resource, {})


@T.function("field", 1, 1, uses_context=True, takes=(TEXT,))
def _field(context: TemplateContext, path: str) -> Any:
    """Azure Policy resolves ``field()`` in the whole deployment it hands to ARM, template included
    (built-ins read it in template variables and nested deployment names, e.g. the centralized
    flow-log definition): the resource the policy evaluated."""
    return context.field(path)


DEPLOYMENT_PARAMETER_FUNCTIONS = TEMPLATE_FUNCTIONS.extend()


@DEPLOYMENT_PARAMETER_FUNCTIONS.function("policy", 0, 0, uses_context=True)
def _policy(context: PolicyDeploymentContext) -> dict[str, str]:
    """Azure Policy's policy(): assignmentId, definitionId, setDefinitionId, definitionReferenceId."""
    return context.policy()


@T.function("utcNow", 0, 1)
def _utc_now_elsewhere(*arguments: Any) -> str:
    raise EvaluationError("utcNow() is only allowed in a template parameter's defaultValue (as in ARM)")


@T.function("newGuid", 0, 0)
def _new_guid_elsewhere() -> str:
    raise EvaluationError("newGuid() is only allowed in a template parameter's defaultValue (as in ARM)")


PARAMETER_DEFAULT_FUNCTIONS = TEMPLATE_FUNCTIONS.extend()
"""A template parameter's ``defaultValue`` may also generate values (see :mod:`.generated`)."""


@PARAMETER_DEFAULT_FUNCTIONS.function("utcNow", 0, 1, uses_context=True)
def _utc_now(context: GeneratingContext, format_: Any = None) -> str:
    return context.generated.utc_now(None if format_ is None else str(format_))


@PARAMETER_DEFAULT_FUNCTIONS.function("newGuid", 0, 0, uses_context=True)
def _new_guid(context: GeneratingContext) -> str:
    return context.generated.new_guid()
