"""The ``then.details.deployment`` of a deployIfNotExists definition, expanded for one resource.

Azure Policy fills the deployment's parameters from the assignment (``parameters()``) and the
evaluated resource (``field()``), deploys to the resource's group (to ``details.resourceGroupName`` when
given: "If a template deployment is executed, it's deployed in the resource group of this value"; with
``deploymentScope: subscription``, to its subscription at ``deployment.location``), and names the deployment
itself. This module does the same offline, compiling each definition once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.expressions import EvaluationError
from engine.expressions.arm_hashes import unique_string
from engine.ids import normalize, parse_resource_id
from remediation.plan.models import SecretSource
from remediation.template.compile import Compiled, TemplateError, compile_body, template_object
from remediation.template.expand import (
    CompiledTemplate,
    ExpandedResource,
    TemplateValues,
    compile_deployment_parameters,
    expand_template,
)
from remediation.template.functions import DEPLOYMENT_PARAMETER_FUNCTIONS, resource_field
from remediation.template.scope import DeploymentScope
from remediation.template.values import TracedText

DETAILS_PATH = "properties.policyRule.then.details"


class PolicyParameters:
    """The context of a DINE's deployment parameter values: assignment parameters and ``field()``."""

    def __init__(self, resource: dict[str, Any], parameters: dict[str, Any], policy: dict[str, str],
                 scope: DeploymentScope, deployment_name: str):
        self.resource = resource
        self._parameters = {name.lower(): (name, value) for name, value in parameters.items()}
        self._policy = policy
        self.assignment_id = policy["assignmentId"] or None
        self.scope = scope
        self.deployment_name = deployment_name

    def parameter(self, name: str) -> Any:
        entry = self._parameters.get(name.lower())
        if entry is None:
            raise EvaluationError(f"the assignment gives no value for parameter '{name}' and the definition "
                                  "has no defaultValue")
        declared, value = entry
        if isinstance(value, str):
            return TracedText(value, SecretSource(path="", kind="parameter", parameter=declared,
                                                  policy_assignment_id=self.assignment_id))
        return value

    def field(self, path: str) -> Any:
        return resource_field(self.resource, path)

    def policy(self) -> dict[str, str]:
        return dict(self._policy)

    def variable(self, name: str) -> Any:
        raise EvaluationError("variables() is not available in a policy's deployment parameters")

    def copy_index(self, loop: str | None) -> int:
        raise EvaluationError("copyIndex() is not available in a policy's deployment parameters")

    def reference_target(self, name_or_id: str) -> str:
        return name_or_id

    def with_copy_index(self, loop: str | None, index: int) -> PolicyParameters:
        raise EvaluationError("copy is not available in a policy's deployment parameters")


@dataclass(slots=True)
class DineDeployment:
    """A DINE definition's deployment, compiled once, expanded per (assignment, resource)."""

    definition_id: str
    source: str
    subscription_scope: bool
    location: Compiled | None
    resource_group: Compiled | None  # details.resourceGroupName
    parameters: dict[str, Compiled]
    template: CompiledTemplate
    defaults: dict[str, Any]

    @classmethod
    def from_definition(cls, definition: dict[str, Any], source: str | None = None) -> DineDeployment:
        """Compile a definition's ``then.details.deployment``; raises TemplateError when malformed."""
        origin = source or str(definition.get("id") or definition.get("name") or "policy definition")
        properties = template_object(definition.get("properties", definition), origin, "properties", "'properties'")
        rule = template_object(properties.get("policyRule"), origin, "properties.policyRule", "'policyRule'")
        then = template_object(rule.get("then"), origin, "properties.policyRule.then", "'then'")
        declared = template_object(properties.get("parameters"), origin, "properties.parameters", "'parameters'")
        details = then.get("details")
        defaults = {name: declaration["defaultValue"]
                    for name, declaration in declared.items()
                    if isinstance(declaration, dict) and "defaultValue" in declaration}
        return cls.from_details(details, str(definition.get("id") or origin), origin, defaults)

    @classmethod
    def from_details(cls, details: Any, definition_id: str, source: str,
                     defaults: dict[str, Any] | None = None) -> DineDeployment:
        """Compile ``then.details`` (as the policy engine hands it over) of one definition."""
        if not isinstance(details, dict) or not isinstance(details.get("deployment"), dict):
            raise TemplateError(source, "not a deployIfNotExists definition: no then.details.deployment",
                                location=DETAILS_PATH)
        deployment = details["deployment"]
        path = f"{DETAILS_PATH}.deployment"
        deployment_properties = template_object(deployment.get("properties"), source, f"{path}.properties",
                                                "a deployment's 'properties'")
        if "template" not in deployment_properties:
            raise TemplateError(source, "deployment has no inline template", location=path)
        location = deployment.get("location")
        group = details.get("resourceGroupName")
        return cls(
            definition_id=definition_id,
            source=source,
            subscription_scope=str(details.get("deploymentScope", "resourceGroup")).lower() == "subscription",
            location=None if location is None else compile_body(location, DEPLOYMENT_PARAMETER_FUNCTIONS, source,
                                                                  f"{path}.location"),
            resource_group=None if group is None else compile_body(group, DEPLOYMENT_PARAMETER_FUNCTIONS, source,
                                                                   f"{DETAILS_PATH}.resourceGroupName"),
            parameters=compile_deployment_parameters(deployment_properties.get("parameters"),
                                                     DEPLOYMENT_PARAMETER_FUNCTIONS, source,
                                                     f"{path}.properties.parameters"),
            template=CompiledTemplate.compile(deployment_properties["template"], source,
                                              f"{path}.properties.template"),
            defaults=defaults or {},
        )

    def expand(self, resource: dict[str, Any], assignment_parameters: dict[str, Any] | None = None,
               assignment_id: str | None = None, *, reference_id: str | None = None,
               set_definition_id: str | None = None, template_values: TemplateValues | None = None,
               now: datetime | None = None) -> list[ExpandedResource]:
        """The resources the remediation deployment for ``resource`` writes (see
        :func:`expand_template` for ``template_values`` and ``now``); ``reference_id`` and
        ``set_definition_id`` say which initiative member this is, for ``policy()``."""
        parsed = parse_resource_id(resource["id"])
        if parsed.subscription_id is None:
            raise TemplateError(self.source, "the evaluated resource has no subscription", value=resource["id"])
        deployment_name = "PolicyDeployment_" + unique_string(assignment_id or "", resource["id"], self.definition_id)
        group_scope = DeploymentScope(parsed.subscription_id, parsed.resource_group, resource.get("location"))
        parameters = {**self.defaults, **(assignment_parameters or {})}
        policy = {"assignmentId": assignment_id or "", "definitionId": self.definition_id,
                  "setDefinitionId": set_definition_id or "", "definitionReferenceId": reference_id or ""}
        context = PolicyParameters(resource, parameters, policy, group_scope, deployment_name)
        scope = group_scope
        if self.resource_group is not None and not self.subscription_scope:
            group = self.resource_group(context)
            if not isinstance(group, str) or not group:
                raise TemplateError(self.source, "resourceGroupName must name a resource group",
                                    location=f"{DETAILS_PATH}.resourceGroupName", value=group)
            scope = DeploymentScope(parsed.subscription_id, str(group), resource.get("location"))
        elif self.subscription_scope or parsed.resource_group is None:
            location = self.location(context) if self.location is not None else resource.get("location")
            scope = DeploymentScope(parsed.subscription_id, None, str(location) if location else None)
        values = {name: compiled(context) for name, compiled in self.parameters.items()}
        return expand_template(self.template, values, scope, deployment_name, template_values=template_values,
                               now=now, evaluated_resource=resource)

    def template_secrets(self, resource: dict[str, Any], assignment_parameters: dict[str, Any] | None,
                         assignment_id: str | None, target_id: str,
                         reference_id: str | None = None) -> dict[str, Any] | None:
        """The secrets written in the template itself (``template`` secret sources) of ``target_id``,
        in clear by path, as the deployment for ``resource`` writes them; None when it does not
        write ``target_id``. Apply re-derives those secrets with this, never from the plan."""
        values: TemplateValues = {}
        written = {normalize(expanded.resource_id)
                   for expanded in self.expand(resource, assignment_parameters, assignment_id,
                                               reference_id=reference_id, template_values=values)}
        return values.get(normalize(target_id), {}) if normalize(target_id) in written else None
