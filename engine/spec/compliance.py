"""Scan inputs and verdicts in a spec's words: assignments, exemptions, and "is non-compliant with".

A policy is named in a spec by what a person calls it: the assignment name, the definition's
name or display name (or a part of it that names one policy), the initiative member's reference
id, or the last part of the definition id (``rego:arcpolicy.flux`` -> ``flux``). A cluster's verdict for a policy covers the records of
the cluster itself and of its child resources (extensions, flux configurations).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import ids
from engine.spec.expect import SpecFailure

ASSIGNMENT_PREFIX = "/providers/Microsoft.Authorization/policyAssignments/"
REGO_PREFIX = "rego:"
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
STATE_WORDS = {"compliant": "Compliant", "non-compliant": "NonCompliant", "exempt": "Exempt", "error": "Error"}


def definition_id(path: Path) -> str:
    """The ``policyDefinitionId`` an assignment of the policy file uses (initiative first)."""
    if path.suffix.lower() == ".rego":
        match = _PACKAGE.search(path.read_text(encoding="utf-8"))
        if match is None:
            raise SpecFailure(f"{path.name} has no package declaration")
        return REGO_PREFIX + match.group(1)
    document = json.loads(path.read_text(encoding="utf-8"))
    documents = document if isinstance(document, list) else [document]
    initiatives = [item for item in documents if "policyDefinitions" in (item.get("properties") or item)]
    chosen = initiatives[0] if initiatives else documents[0]
    if chosen.get("id"):
        return str(chosen["id"])
    kind = "policySetDefinitions" if initiatives else "policyDefinitions"
    return f"/providers/Microsoft.Authorization/{kind}/{chosen.get('name') or path.stem}"


@dataclass
class AssignmentSpec:
    """A policy assignment the scenario makes (written as an ARM ``policyAssignments`` resource)."""

    name: str
    definition_id: str
    scope: str = "/"
    parameters: dict[str, Any] = field(default_factory=dict)
    not_scopes: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        prefix = "" if self.scope == "/" else self.scope
        return f"{prefix}{ASSIGNMENT_PREFIX}{self.name}"

    def to_arm(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": "Microsoft.Authorization/policyAssignments",
                "properties": {"displayName": self.name, "scope": self.scope,
                               "policyDefinitionId": self.definition_id, "notScopes": list(self.not_scopes),
                               "parameters": {key: {"value": value} for key, value in self.parameters.items()}}}


def exemption(name: str, scope: str, assignment: AssignmentSpec, category: str,
              reference_ids: list[str]) -> dict[str, Any]:
    """An ARM ``policyExemptions`` resource at ``scope`` (a cluster or resource group id)."""
    return {"id": f"{scope}/providers/Microsoft.Authorization/policyExemptions/{name}", "name": name,
            "type": "Microsoft.Authorization/policyExemptions",
            "properties": {"policyAssignmentId": assignment.id, "exemptionCategory": category,
                           "policyDefinitionReferenceIds": reference_ids}}


def parameter_value(text: str) -> Any:
    """A parameter value from a table cell: JSON when it parses (true, 3, ["a"]), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---- verdicts -----------------------------------------------------------------------------
def policy_names(record: dict[str, Any]) -> set[str]:
    """Every name a person may use for the policy of a record (lower-case)."""
    definition = str(record.get("policyDefinitionId", ""))
    last = definition.rstrip("/").rsplit("/", 1)[-1].removeprefix(REGO_PREFIX)
    names = {record.get("policyAssignmentName"), record.get("policyDefinitionName"),
             record.get("policyDefinitionReferenceId"), record.get("policyDefinitionDisplayName"),
             last, last.rsplit(".", 1)[-1]}
    return {str(name).lower() for name in names if name}


def describe_policy(record: dict[str, Any]) -> str:
    return str(record.get("policyDefinitionDisplayName") or record.get("policyDefinitionName")
               or record.get("policyDefinitionId"))


def records_for_policy(records: list[dict[str, Any]], policy: str) -> list[dict[str, Any]]:
    """The records of the policy named ``policy`` (or, failing that, whose display name contains it).

    A name no record answers to, or a display-name fragment of two policies, is a spec mistake.
    """
    wanted = policy.lower()
    found = [record for record in records if wanted in policy_names(record)]
    if not found:
        found = [record for record in records if wanted in str(record.get("policyDefinitionDisplayName", "")).lower()]
        matched = {describe_policy(record) for record in found}
        if len(matched) > 1:
            raise SpecFailure(f'"{policy}" names more than one policy: {", ".join(sorted(matched))}')
    if found:
        return found
    known = sorted({str(record.get("policyAssignmentName")) for record in records})
    raise SpecFailure(f'no policy "{policy}" in the scan (policies with records: {", ".join(known) or "none"})')


def records_for_cluster(records: list[dict[str, Any]], cluster_id: str) -> list[dict[str, Any]]:
    """Records of the cluster itself and of its child resources."""
    key = ids.normalize(cluster_id)
    return [record for record in records
            if ids.normalize(str(record["resourceId"])) == key
            or ids.normalize(ids.owning_cluster_id(str(record["resourceId"])) or "") == key]


def verdict(records: list[dict[str, Any]]) -> str:
    """A cluster's state for a policy: any NonCompliant/Error wins, then Exempt, then Compliant."""
    states = {str(record["complianceState"]) for record in records}
    for state in ("Error", "NonCompliant", "Exempt", "Compliant"):
        if state in states:
            return state
    return "no record"


def reasons_text(records: list[dict[str, Any]]) -> str:
    lines = []
    for record in records:
        texts = [reason.get("message", "") for reason in record.get("reasons") or []]
        texts += [str(detail.get("msg", detail)) for detail in record.get("details") or []]
        if record.get("error"):
            texts.append(str(record["error"]))
        lines += [f"  - {text}" for text in texts if text]
    return "\n".join(lines) or "  (none given)"


def expect_state(records: list[dict[str, Any]], cluster: str, cluster_id: str, policy: str, expected: str,
                 because: str | None = None) -> None:
    """The cluster is in ``expected`` state for the policy (and a reason mentions ``because``)."""
    mine = records_for_cluster(records_for_policy(records, policy), cluster_id)
    actual = verdict(mine)
    if actual != expected:
        if not mine:
            raise SpecFailure(f'expected "{cluster}" to be {expected} with "{policy}", but the scan has no record '
                              f'of it for "{policy}" (the policy does not apply to it, or it is out of scope)')
        raise SpecFailure(f'expected "{cluster}" to be {expected} with "{policy}", but it is {actual}; '
                          f"reasons:\n{reasons_text(mine)}")
    if because is not None and because.lower() not in reasons_text(mine).lower():
        raise SpecFailure(f'expected "{cluster}" to be {expected} with "{policy}" because "{because}"; it is '
                          f"{actual}, but the reasons are:\n{reasons_text(mine)}")


def expect_no_record(records: list[dict[str, Any]], cluster: str, cluster_id: str, policy: str) -> None:
    """The policy was not evaluated for the cluster (not applicable, out of scope or in notScopes)."""
    mine = records_for_cluster(records_for_policy(records, policy), cluster_id)
    if mine:
        raise SpecFailure(f'expected "{cluster}" not to be evaluated by "{policy}", but it is {verdict(mine)}; '
                          f"reasons:\n{reasons_text(mine)}")


# ---- history ------------------------------------------------------------------------------
DIFF_KINDS = {"became non-compliant with": "newlyNonCompliant", "was fixed for": "fixed"}


def expect_change(diff: dict[str, Any], change: str, cluster: str, cluster_id: str, policy: str) -> None:
    """``arcpolicy diff`` lists the cluster under ``newlyNonCompliant`` / ``fixed`` for the policy."""
    key = DIFF_KINDS[change]
    wanted = policy.lower()
    entries = records_for_cluster(diff.get(key, []), cluster_id)
    if not any(wanted in {str(entry.get("policy", "")).lower(), str(entry.get("policyAssignmentName", "")).lower()}
               for entry in entries):
        listed = ", ".join(f"{str(entry['resourceId']).rsplit('/', 1)[-1]} ({entry.get('policy')})"
                           for entry in diff.get(key, [])) or "nothing"
        raise SpecFailure(f'expected "{cluster}" to be listed as {key} for "{policy}", but {key} lists: {listed}')
