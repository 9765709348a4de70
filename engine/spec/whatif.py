"""What-if in a spec's words: which clusters a policy change makes non-compliant (or compliant), which
definitions it adds or removes, and whether its Markdown fits a pull-request comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.output.markdown_cap import GITHUB_COMMENT_LIMIT
from engine.spec.compliance import records_for_cluster
from engine.spec.expect import SpecFailure

CHANGE_KINDS = {"non-compliant": "newlyNonCompliant", "compliant": "newlyCompliant"}
DEFINITION_CHANGES = {"added": "definitionsAdded", "removed": "definitionsRemoved"}


def _names(impact: dict[str, Any], change: dict[str, Any]) -> set[str]:
    return {str(impact.get("assignmentName", "")).lower(), str(impact.get("title", "")).lower(),
            str(change.get("policy", "")).lower()}


def expect_change(report: dict[str, Any], kind: str, cluster: str, cluster_id: str, policy: str,
                  because: str | None = None) -> None:
    """The preview lists the cluster (or one of its extensions) as newly ``kind`` for the policy (its
    assignment name, title or definition name) and, with ``because``, a reason saying so."""
    key = CHANGE_KINDS[kind]
    wanted = policy.lower()
    changes = [change for impact in report.get("assignments", []) for change in impact.get(key, [])
               if wanted in _names(impact, change)]
    found = records_for_cluster(changes, cluster_id)
    if not found:
        listed = ", ".join(f"{str(change['resourceId']).rsplit('/', 1)[-1]} ({change.get('policy')})"
                           for impact in report.get("assignments", []) for change in impact.get(key, [])) or "nothing"
        raise SpecFailure(f'expected "{cluster}" to become {kind} with "{policy}", but the preview lists as newly '
                          f"{kind}: {listed}")
    reasons = [reason for change in found for reason in change.get("reasons", [])]
    if because is not None and not any(because.lower() in reason.lower() for reason in reasons):
        raise SpecFailure(f'expected a reason of "{cluster}" becoming {kind} with "{policy}" to mention "{because}", '
                          f"but its reasons are: {'; '.join(reasons) or 'none'}")


def newly_non_compliant(report: dict[str, Any]) -> int:
    return sum(len(impact.get("newlyNonCompliant", [])) for impact in report.get("assignments", []))


def _definition_names(definition_id: str) -> set[str]:
    """A definition id and its last parts (``rego:arcpolicy.flux`` -> ``arcpolicy.flux``, ``flux``), lower-case."""
    last = definition_id.lower().rstrip("/").rsplit("/", 1)[-1].removeprefix("rego:")
    return {definition_id.lower(), last, last.rsplit(".", 1)[-1]}


def expect_definition(report: dict[str, Any], definition: str, change: str) -> None:
    """The preview names the definition (its id, or the last part of it, as the other steps name policies) as
    ``added`` or ``removed``."""
    if change not in DEFINITION_CHANGES:
        raise SpecFailure(f'unknown change "{change}" (use: {", ".join(DEFINITION_CHANGES)})')
    named = [str(item.get("definitionId", "")) for item in report.get(DEFINITION_CHANGES[change], [])]
    if not any(definition.lower() in _definition_names(name) for name in named):
        raise SpecFailure(f'expected the preview to name "{definition}" as {change}, but it names as {change}: '
                          f"{', '.join(named) or 'nothing'}")


def expect_comment(path: Path) -> None:
    """The Markdown exists, opens with the what-if summary and fits GitHub's comment limit."""
    if not path.is_file():
        raise SpecFailure(f"expected {path.name} to be written, but there is no such file")
    text = path.read_text(encoding="utf-8")
    if not text.startswith("## arcpolicy what-if"):
        raise SpecFailure(f"expected {path.name} to open with the what-if summary, but it opens with: {text[:80]!r}")
    if len(text) > GITHUB_COMMENT_LIMIT:
        raise SpecFailure(f"expected {path.name} to fit a pull-request comment ({GITHUB_COMMENT_LIMIT:,} characters), "
                          f"but it has {len(text):,}")
