"""The Terraform export: every file parses with a maintained HCL2 parser (python-hcl2), every block's arguments are
the provider's documented ones (tests/export/terraform_schema.py, transcribed from the docs with their source), the
files are laid out as terraform fmt leaves them, and the golden example in docs/export.md is what the export writes.
Terraform itself cannot run here (no provider can reach Azure); the ARM export is the one deployed on the sandbox."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import hcl2

from engine.cli.main import main
from engine.inventory import load_snapshot
from remediation.export import export_plan
from remediation.plan.models import Action, Operation, Plan, Reason, SecretSource, Wave
from tests.apply.plans import API, POLICY_ASSIGNMENT, fleet_plan

from .terraform_schema import (
    AZAPI_IDENTITY_TYPES,
    EPHEMERAL,
    FLUX_REFERENCE_TYPES,
    IMPORT,
    RESOURCES,
    VARIABLE,
    BlockSchema,
)
from .test_arm_export import DEMO_FLEET, _plan_creating_a_resource_group

DOCS = Path(__file__).resolve().parents[2] / "docs" / "export.md"
VERSION = re.compile(r'(?<== )"[0-9a-f]{12}"')  # a sensitive_body_version value
ASSIGNMENT_LINE = re.compile(r"^( *)([A-Za-z_][\w-]*|\"(?:[^\"\\]|\\.)*\") +(=) ")


def unquoted(text: object) -> object:
    return text[1:-1] if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == '"' else text


def check_block(where: str, body: dict, schema: BlockSchema) -> list[str]:
    """What in one parsed block the documented schema does not allow (or misses)."""
    problems = []
    arguments = {name for name, value in body.items() if name != "__is_block__"
                 and not (isinstance(value, list) and value and all(isinstance(item, dict) and item.get("__is_block__")
                                                                    for item in value))}
    blocks = {name: value for name, value in body.items() if name not in arguments and name != "__is_block__"}
    problems += [f"{where}: argument {name} is not documented" for name in sorted(arguments - schema.allowed)]
    problems += [f"{where}: required argument {name} missing" for name in sorted(schema.required - arguments)]
    for name, instances in blocks.items():
        if name not in schema.blocks:
            problems.append(f"{where}: block {name} is not documented")
            continue
        for index, instance in enumerate(instances):
            problems += check_block(f"{where}.{name}[{index}]", instance, schema.blocks[name])
    return problems


def parsed_files(directory: Path) -> dict[Path, dict]:
    return {path: hcl2.loads(path.read_text()) for path in sorted(directory.rglob("*.tf"))}


def schema_problems(documents: dict[Path, dict]) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    kinds: dict[str, int] = {}
    for path, document in documents.items():
        for entry in document.get("resource", []):
            for kind, named in entry.items():
                kind = unquoted(kind)
                for name, body in named.items():
                    kinds[kind] = kinds.get(kind, 0) + 1
                    if kind not in RESOURCES:
                        problems.append(f"{path.name}: resource {kind} has no documented schema")
                        continue
                    problems += check_block(f"{path.name}: {kind}.{unquoted(name)}", body, RESOURCES[kind])
                    if kind == "azapi_resource":
                        if not re.fullmatch(r"[A-Za-z.]+/[A-Za-z/]+@\d{4}-\d{2}-\d{2}(-preview)?",
                                            str(unquoted(body["type"]))):
                            problems.append(f"{name}: type is not <resource-type>@<api-version>")
                        for identity in body.get("identity", []):
                            if unquoted(identity["type"]) not in AZAPI_IDENTITY_TYPES:
                                problems.append(f"{name}: identity type {identity['type']}")
                    for repository in body.get("git_repository", []):
                        if unquoted(repository["reference_type"]) not in FLUX_REFERENCE_TYPES:
                            problems.append(f"{name}: reference_type {repository['reference_type']}")
        for entry in document.get("ephemeral", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    problems += check_block(f"{path.name}: ephemeral {unquoted(kind)}.{unquoted(name)}", body,
                                            EPHEMERAL[unquoted(kind)])
        for body in document.get("import", []):
            problems += check_block(f"{path.name}: import", body, IMPORT)
        for entry in document.get("variable", []):
            for name, body in entry.items():
                problems += check_block(f"{path.name}: variable {unquoted(name)}", body, VARIABLE)
    return problems, kinds


def format_problems(path: Path) -> list[str]:
    """terraform fmt's layout: 2-space indents, no tabs or trailing blanks, one final newline, and the `=` of
    consecutive single-line arguments at one column (a multi-line value ends the run)."""
    text = path.read_text()
    problems = [] if text.endswith("\n") and not text.endswith("\n\n") else [f"{path.name}: final newline"]
    run: list[tuple[int, int, int]] = []  # (line, indent, column of '=')

    def close() -> None:
        if len({column for _, _, column in run}) > 1:
            problems.append(f"{path.name}:{run[0][0]}: '=' not aligned over lines {run[0][0]}-{run[-1][0]}")
        run.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if "\t" in line or line != line.rstrip():
            problems.append(f"{path.name}:{number}: tab or trailing blank")
        indent = len(line) - len(line.lstrip(" "))
        if indent % 2:
            problems.append(f"{path.name}:{number}: indent {indent}")
        match = ASSIGNMENT_LINE.match(line)
        multi_line = line.rstrip().endswith(("{", "["))
        if match is None or multi_line or (run and run[-1][1] != indent):
            close()
        if match is not None and not multi_line:
            run.append((number, indent, match.start(3)))
            continue
        if match is not None and multi_line and f"{match.group(2)} =" not in line:
            problems.append(f"{path.name}:{number}: a multi-line argument is padded")
    close()
    return problems


def test_demo_plan_as_terraform_parses_and_matches_the_documented_schema(tmp_path):
    plan_file, export = tmp_path / "plan.json", tmp_path / "terraform"
    assert main(["plan", "-i", str(DEMO_FLEET), "-p", "builtin:", "--workers", "1", "-o", str(plan_file)]) == 0
    assert main(["export", str(plan_file), "--format", "terraform", "-o", str(export)]) == 0
    documents = parsed_files(export)
    problems, kinds = schema_problems(documents)
    assert problems == []
    assert kinds["azapi_resource"] and kinds["azurerm_arc_kubernetes_cluster_extension"]
    assert [problem for path in documents for problem in format_problems(path)] == []
    manifest = json.loads((export / "manifest.json").read_text())
    plan = json.loads(plan_file.read_text())
    updates = {operation["resourceId"] for operation in plan["operations"] if operation["action"] == "update"}
    imported = {unquoted(block["id"]) for document in documents.values() for block in document.get("import", [])}
    exported = {operation for step in manifest["steps"] for operation in step.get("operations", [])}
    assert imported and imported <= updates  # every import names a target the plan updates
    ids_by_operation = {operation["id"]: operation["resourceId"] for operation in plan["operations"]}
    assert {ids_by_operation[operation] for operation in exported} & updates == imported
    assert [step["kind"] for step in manifest["steps"]].count("terraform") >= 2
    assert "terraform -chdir=" in (export / "deploy.sh").read_text()


def test_flux_configurations_dependencies_and_secrets_in_terraform(sandbox_fleet_file, tmp_path):
    fleet = load_snapshot(sandbox_fleet_file)
    export = tmp_path / "flux"
    export_plan(fleet_plan(fleet), "terraform", export, fleet.resources())
    documents = parsed_files(export)
    problems, kinds = schema_problems(documents)
    assert problems == [] and kinds["azurerm_arc_kubernetes_flux_configuration"]
    resources = {f"{unquoted(kind)}.{unquoted(name)}": body for document in documents.values()
                 for entry in document.get("resource", []) for kind, named in entry.items()
                 for name, body in named.items()}
    flux = [body for address, body in resources.items() if address.startswith("azurerm_arc_kubernetes_flux")]
    assert all(body["depends_on"] for body in flux)
    assert all(reference[2:-1] in resources for body in flux for reference in body["depends_on"])

    plan, _, _ = _plan_creating_a_resource_group(sandbox_fleet_file, tmp_path)
    secret = tmp_path / "secret"
    export_plan(plan, "terraform", secret, fleet.resources())
    documents = parsed_files(secret)
    assert schema_problems(documents)[0] == []
    (main_tf,) = [document for path, document in documents.items() if path.name == "main.tf"]
    extension = next(body for entry in main_tf["resource"] for kind, named in entry.items()
                     for name, body in named.items() if "azuremonitor" in name)
    protected = extension["sensitive_body"]["properties"]["configurationProtectedSettings"]
    assert set(protected) == {'"omsagent.secret.key"', '"proxy.password"'}
    assert all(value.startswith("${var.") for value in protected.values())
    assert "configurationProtectedSettings" not in json.dumps(extension["body"])
    variables = {unquoted(name): body for document in documents.values() for entry in document.get("variable", [])
                 for name, body in entry.items()}
    assert all(variables[value[6:-1]]["sensitive"] and variables[value[6:-1]]["ephemeral"]
               for value in protected.values())


def golden_plan() -> Plan:
    """A small fixed plan: a create azurerm expresses, a Flux configuration after it, an update, a secret."""
    cluster = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-edge/providers/"
               "Microsoft.Kubernetes/connectedClusters/edge-1")
    extensions = f"{cluster}/providers/Microsoft.KubernetesConfiguration/extensions"
    reason = [Reason(policy_assignment_id=POLICY_ASSIGNMENT, evaluated_resource_id=cluster)]
    common = {"cluster_id": cluster, "subscription_id": "00000000-0000-0000-0000-000000000001", "reasons": reason,
              "api_version": API, "resource_type": "Microsoft.KubernetesConfiguration/extensions", "wave": 0}
    flux = {"extensionType": "microsoft.flux", "autoUpgradeMinorVersion": True, "releaseTrain": "Stable",
            "scope": {"cluster": {"releaseNamespace": "flux-system"}}}
    agent = {"extensionType": "contoso.agent", "autoUpgradeMinorVersion": True,
             "scope": {"cluster": {"releaseNamespace": "contoso"}},
             "configurationProtectedSettings": {"apiKey": "<redacted>"}}
    operations = [
        Operation(id="op-1", action=Action.CREATE, resource_id=f"{extensions}/flux", body={"properties": flux},
                  **common),
        Operation(id="op-2", action=Action.CREATE, depends_on=["op-1"],
                  resource_id=f"{cluster}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline",
                  body={"properties": {"scope": "cluster", "namespace": "baseline", "sourceKind": "GitRepository",
                                       "gitRepository": {"url": "https://github.com/contoso/baseline",
                                                         "repositoryRef": {"branch": "main"}},
                                       "kustomizations": {"base": {"path": "./base", "prune": True}}}},
                  **{**common, "resource_type": "Microsoft.KubernetesConfiguration/fluxConfigurations"}),
        Operation(id="op-3", action=Action.UPDATE, resource_id=f"{extensions}/azurepolicy",
                  body={"properties": {"releaseTrain": "Stable"}}, **common),
        Operation(id="op-4", action=Action.CREATE, resource_id=f"{extensions}/agent", body={"properties": agent},
                  secret_sources=[SecretSource(path="properties.configurationProtectedSettings.apiKey",
                                               kind="parameter", parameter="apiKey",
                                               policy_assignment_id=POLICY_ASSIGNMENT)], **common)]
    return Plan(created_at=datetime(2026, 12, 1, tzinfo=UTC), inventory_fingerprint="sha256:golden",
                operations=operations, waves=[Wave(number=0, name="canary", operations=[op.id for op in operations])])


GOLDEN_INVENTORY = [{"id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-edge/providers/"
                           "Microsoft.Kubernetes/connectedClusters/edge-1/providers/Microsoft.KubernetesConfiguration/"
                           "extensions/azurepolicy", "name": "azurepolicy",
                     "type": "Microsoft.KubernetesConfiguration/extensions",
                     "properties": {"extensionType": "microsoft.policyinsights", "autoUpgradeMinorVersion": True,
                                    "releaseTrain": "Preview", "scope": {"cluster": {"releaseNamespace": "kube-system"}},
                                    "provisioningState": "Succeeded", "currentVersion": "1.9.0"}}]


def test_the_golden_example_in_the_docs_is_what_the_export_writes(tmp_path):
    export_plan(golden_plan(), "terraform", tmp_path / "golden", GOLDEN_INVENTORY)
    written = (tmp_path / "golden" / "terraform" / "00-canary" / "main.tf").read_text()
    blocks = re.findall(r"^```hcl\n(.*?)^```", DOCS.read_text(), re.MULTILINE | re.DOTALL)
    # after the header line naming the plan's fingerprint; sensitive_body_version is derived from it too (it changes
    # with plan.json's format, and so on every export, by design)
    assert VERSION.sub("<version>", written.split("\n", 2)[2]) == VERSION.sub("<version>", blocks[0])
    assert VERSION.search(written)
    assert format_problems(tmp_path / "golden" / "terraform" / "00-canary" / "main.tf") == []
    assert schema_problems(parsed_files(tmp_path / "golden"))[0] == []
