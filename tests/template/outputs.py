"""A template's ``outputs`` as ARM would report them, offline: the documentation's examples are
templates whose results are their outputs, and the expander writes resources, not outputs.

The outputs are evaluated by the expander's own pieces (``CompiledTemplate``, ``Deployment``,
``compile_body``), with the template registry: the deployment context is the product's, nothing is
stubbed. An output with a ``copy`` ({"count", "input"}) is an array, as in ARM.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from remediation.plan.models import SecretSource
from remediation.template import CompiledTemplate, DeploymentScope
from remediation.template.compile import compile_body, copy_count
from remediation.template.expand import Deployment
from remediation.template.functions import TEMPLATE_FUNCTIONS
from remediation.template.generated import GeneratedValues

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
SCOPE = DeploymentScope(SUBSCRIPTION, "examplegroup", "southcentralus")
NOW = datetime(2019, 3, 5, 17, 53, 18, tzinfo=UTC)


def template_outputs(template: dict[str, Any], parameters: dict[str, Any] | None = None, *,
                     scope: DeploymentScope = SCOPE, now: datetime = NOW,
                     name: str = "deployment") -> dict[str, Any]:
    """Each output's value; raises the expander's ``TemplateError`` where it would."""
    compiled = CompiledTemplate.compile({"resources": [], **template}, "docs-example.json")
    context = Deployment(compiled, scope, name, parameters or {}, SecretSource(path="", kind="template"),
                         GeneratedValues(now, name))
    outputs = {}
    for output_name, output in (template.get("outputs") or {}).items():
        path = f"outputs.{output_name}"
        loop = output.get("copy")
        if loop is None:
            outputs[output_name] = compile_body(output["value"], TEMPLATE_FUNCTIONS, compiled.source, path)(context)
            continue
        count = copy_count(compile_body(loop["count"], TEMPLATE_FUNCTIONS, compiled.source, path)(context),
                           compiled.source, path)
        item = compile_body(loop["input"], TEMPLATE_FUNCTIONS, compiled.source, path)
        outputs[output_name] = [item(context.with_copy_index(None, index)) for index in range(count)]
    return outputs
