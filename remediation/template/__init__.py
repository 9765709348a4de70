"""Offline expansion of ARM templates (deployIfNotExists deployments) into concrete resource writes."""

from remediation.template.compile import TemplateError
from remediation.template.dine import DineDeployment
from remediation.template.expand import CompiledTemplate, ExpandedResource, expand_template
from remediation.template.functions import DEPLOYMENT_PARAMETER_FUNCTIONS, TEMPLATE_FUNCTIONS, resource_field
from remediation.template.scope import DeploymentScope

__all__ = [
    "DEPLOYMENT_PARAMETER_FUNCTIONS",
    "TEMPLATE_FUNCTIONS",
    "CompiledTemplate",
    "DeploymentScope",
    "DineDeployment",
    "ExpandedResource",
    "TemplateError",
    "expand_template",
    "resource_field",
]
