"""Remediation as code: a reviewed plan exported as ARM deployments or Terraform (issue 25), for teams whose
every change goes through their infrastructure-as-code pipeline.

``export_plan(plan, "arm" | "terraform", out_dir, fleet_resources)`` writes the whole export or nothing: it is
built in a temporary folder beside ``out_dir`` and renamed into place. Formats are registered units
(:data:`FORMATS`): each turns the prepared export (:mod:`remediation.export.model`) into files and the ordered
steps that ``manifest.json``, ``README.md`` and the format's script describe.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError
from remediation.export.arm import write_arm
from remediation.export.model import Files, Prepared, prepare
from remediation.export.readme import deploy_script, readme
from remediation.plan.io import plan_fingerprint
from remediation.plan.models import Plan

Writer = Callable[[Prepared, Files], list[dict[str, Any]]]  # (the export, where its files go) -> ordered steps


def _terraform(prepared: Prepared, files: Files) -> list[dict[str, Any]]:
    from remediation.export.terraform import write_terraform

    return write_terraform(prepared, files)


FORMATS: dict[str, Writer] = {"arm": write_arm, "terraform": _terraform}


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    files: int
    bytes: int
    steps: int


def _manifest(prepared: Prepared, format_name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    plan = prepared.plan
    return {"format": format_name, "planFingerprint": prepared.fingerprint,
            "inventoryFingerprint": plan.inventory_fingerprint, "policyFingerprint": plan.policy_fingerprint,
            "canary": plan.canary.clusters if plan.canary else [],
            "waves": [{"number": wave.number, "name": wave.name} for wave in prepared.waves],
            "steps": steps,
            "inputs": [{"name": secret.name, "kind": secret.kind, "description": secret.description}
                       for secret in prepared.inputs.values() if secret.kind != "expression"],
            "notExported": [{"operation": operation.id, "status": operation.status.value,
                             "action": operation.action.value, "resourceId": operation.resource_id,
                             "why": next((reason.why for reason in operation.reasons if reason.why), None)}
                            for operation in prepared.held]}


def check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(str(out_dir), "exists and is not an empty folder: an export never overwrites files")


class _Files:
    """Where a format puts its files (``files[relative path] = document or text``): written into the staging
    folder at once, so an export never holds more than the file being written."""

    def __init__(self, root: Path):
        self.root = root
        self.count = 0
        self.bytes = 0

    def __setitem__(self, relative: str, content: Any) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (content if isinstance(content, str) else json.dumps(content, indent=2) + "\n").encode()
        path.write_bytes(data)
        self.count += 1
        self.bytes += len(data)


def export_plan(plan: Plan, format_name: str, out_dir: str | Path,
                fleet_resources: Iterable[dict[str, Any]] | None = None) -> ExportResult:
    """Write the export of ``plan`` to ``out_dir`` (which must not exist or be empty): all files or none."""
    out_dir = Path(out_dir)
    writer = FORMATS.get(format_name)
    if writer is None:
        raise InputError("--format", f"must be one of {', '.join(FORMATS)}", value=format_name)
    check_target(out_dir)
    prepared = prepare(plan, plan_fingerprint(plan), fleet_resources)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        files = _Files(staging)
        steps = writer(prepared, files)
        files["manifest.json"] = _manifest(prepared, format_name, steps)
        files["README.md"] = readme(prepared, steps, format_name)
        files["deploy.sh"] = deploy_script(steps)
        (staging / "deploy.sh").chmod(0o755)
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out_dir, files.count, files.bytes, len(steps))


__all__ = ["FORMATS", "ExportResult", "check_target", "export_plan"]
