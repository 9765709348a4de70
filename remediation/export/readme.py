"""The README.md and deploy.sh written beside an export: which plan it is, its canary and waves, the order to
deploy in, the inputs the pipeline supplies, and every operation no template carries (deletes are steps of the
order; deferred and skipped operations are listed with their reason), so nothing is silently dropped."""

from __future__ import annotations

import shlex
from typing import Any

from engine.untrusted_text import markdown_cell, markdown_code
from remediation.export.model import Prepared
from remediation.plan.models import Action

ROWS_SHOWN = 100  # rows of each list before "... and N more" (manifest.json has all)


def _held_rows(prepared: Prepared) -> list[str]:
    rows = ["| operation | status | action | resource | why |", "|---|---|---|---|---|"]
    for operation in prepared.held[:ROWS_SHOWN]:
        why = next((reason.why for reason in operation.reasons if reason.why), "") or ""
        rows.append(f"| {operation.id} | {operation.status.value} | {operation.action.value} | "
                    f"{markdown_cell(operation.resource_id)} | {markdown_cell(why)} |")
    if len(prepared.held) > ROWS_SHOWN:
        rows.append(f"\n... and {len(prepared.held) - ROWS_SHOWN} more (manifest.json lists every one).")
    return rows


def readme(prepared: Prepared, steps: list[dict[str, Any]], format_name: str) -> str:
    plan = prepared.plan
    summary = plan.summary
    lines = [f"# arcpolicy remediation export ({format_name})", "",
             f"- plan fingerprint: `{prepared.fingerprint}`",
             f"- inventory fingerprint: `{plan.inventory_fingerprint}`",
             f"- operations: {summary.operations} ({', '.join(f'{count} {status}' for status, count in summary.by_status.items())})",
             ""]
    if plan.canary is not None:
        lines += ["## Canary", "", f"The first wave is the canary: {len(plan.canary.clusters)} clusters, "
                  f"{plan.canary.operations} operations. Deploy it, check it, then go on.", ""]
        lines += [f"- {markdown_code(cluster)}" for cluster in plan.canary.clusters[:ROWS_SHOWN]] + [""]
        lines += [f"- note: {markdown_code(note)}" for note in plan.canary.notes] + ([""] if plan.canary.notes else [])
    lines += ["## Waves and order", "",
              "Deploy in this order (`deploy.sh` does; `manifest.json` says the same for other tools). Each wave "
              "starts once the previous one has finished. Deletes are not expressible in an incremental deployment: "
              "they are steps of their own. Deployments marked *no wait* hold operations on disconnected clusters: "
              "they stay Pending until the cluster reconnects.", "",
              "| step | wave | kind | what | operations |", "|---|---|---|---|---|"]
    for number, step in enumerate(steps, start=1):
        if step["kind"] == "delete":
            what, count = f"delete {markdown_cell(step['resourceId'])}", 1
        elif step["kind"] == "terraform":
            what, count = f"`{step['directory']}` (terraform init, apply)", len(step["operations"])
        else:
            where = markdown_cell(step.get("resourceGroup") or step["subscriptionId"])
            what, count = f"`{step['template']}` ({step['scope']} {where})", len(step["operations"])
        lines.append(f"| {number} | {step['wave']} | {step['kind']}{'' if step['wait'] else ' (no wait)'} | {what} "
                     f"| {count} |")
    lines.append("")
    pipeline = [secret for secret in prepared.inputs.values() if secret.kind == "pipeline"]
    vault = [secret for secret in prepared.inputs.values() if secret.kind == "keyVault"]
    lines += ["## Protected values", "",
              "No protected value is written here. Key Vault secrets are referenced (the deploying identity needs "
              "to get them); `listKeys()` values are read by ARM when it deploys; the pipeline supplies the "
              "others (`deploy.sh` reads each from the environment variable named below).", ""]
    lines += [f"- `{secret.name}`: Key Vault, {markdown_code(secret.description)}" for secret in vault]
    variable = "env `{}` (ARM), `TF_VAR_{}` (Terraform)"
    lines += [f"- `{secret.name}` ({variable.format(env_name(secret.name), secret.name)}): supplied by the "
              f"pipeline, {markdown_code(secret.description)}" for secret in pipeline]
    if not vault and not pipeline:
        lines.append("- none")
    deletes = [operation for wave in prepared.waves for operation in wave.deletes]
    lines += ["", "## Not in any template", "",
              f"Deletes ({len(deletes)}) are steps of the order above. These {len(prepared.held)} operations are "
              "not exported: deferred and skipped ones, and waiting updates of extensions whose protected settings "
              "expired (apply does not rewrite those while the cluster is away; plan again once it is back):", ""]
    lines += _held_rows(prepared) if prepared.held else ["- none"]
    updates = sum(1 for wave in prepared.waves for write in wave.writes if write.operation.action is Action.UPDATE)
    lines += ["", f"Updates ({updates}) are written whole: the live resource's writable properties from the "
              "inventory the plan was made from, the plan's changes on top (a template deploys a PUT).", ""]
    return "\n".join(lines)


def env_name(name: str) -> str:
    return f"ARCPOLICY_{name.upper()}"


def deploy_script(steps: list[dict[str, Any]]) -> str:
    """deploy.sh: the order with the Azure CLI (``az deployment group|sub create``, ``az resource delete``) and
    Terraform (``terraform init``, ``apply`` per module)."""
    lines = ["#!/bin/sh", "# The export's order: generated by arcpolicy export; see README.md.", "set -eu",
             'cd "$(dirname "$0")"', ""]
    for step in steps:
        if step["kind"] == "delete":
            command = ["az", "resource", "delete", "--ids", step["resourceId"], "--api-version", step["apiVersion"]]
            lines.append(" ".join(shlex.quote(part) for part in command) + ("" if step["wait"] else " --no-wait"))
            continue
        if step["kind"] == "terraform":  # variables from TF_VAR_<name>, as Terraform reads them
            folder = shlex.quote(step["directory"])
            lines.append(f"terraform -chdir={folder} init -input=false && "
                         f"terraform -chdir={folder} apply -input=false -auto-approve")
            continue
        where = (["group", "create", "--subscription", step["subscriptionId"], "--resource-group",
                  step["resourceGroup"]] if step["scope"] == "resourceGroup"
                 else ["sub", "create", "--subscription", step["subscriptionId"], "--location", step["location"]])
        command = ["az", "deployment", *where, "--name", step["name"], "--mode", "Incremental",
                   "--template-file", step["template"], "--parameters", f"@{step['parameters']}"]
        text = " ".join(shlex.quote(part) for part in command)
        text += "".join(f' --parameters {name}="${env_name(name)}"' for name in step["pipelineParameters"])
        lines.append(text + ("" if step["wait"] else " --no-wait"))
    return "\n".join(lines) + "\n"
