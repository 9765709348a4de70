"""``junit``: JUnit XML for CI dashboards; a suite per policy, a test case per record.

NonCompliant is a ``<failure>``, Error an ``<error>``, Exempt ``<skipped>``, Compliant a pass.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from engine.models.results import ComplianceState, PolicyState
from engine.output.context import ScanMetadata
from engine.output.registry import output_format
from engine.output.summary import StateCounts, policy_key

OUTCOME_ELEMENT = {
    ComplianceState.NON_COMPLIANT: "failure",
    ComplianceState.ERROR: "error",
    ComplianceState.EXEMPT: "skipped",
}


def _counted(element: ET.Element, counts: StateCounts) -> None:
    element.set("tests", str(counts.total))
    element.set("failures", str(counts.non_compliant))
    element.set("errors", str(counts.error))
    element.set("skipped", str(counts.exempt))


def _testcase(suite: ET.Element, state: PolicyState, classname: str) -> None:
    case = ET.SubElement(suite, "testcase", name=state.resource_id, classname=classname)
    element = OUTCOME_ELEMENT.get(state.compliance_state)
    if element is None:
        return
    reasons = "\n".join(reason.message for reason in state.reasons) or state.error or ""
    message = reasons.splitlines()[0] if reasons else state.compliance_state.value
    if state.compliance_state is ComplianceState.EXEMPT:
        message = f"exempt ({state.exemption_category or 'exemption'}): {state.exemption_id or ''}".strip(": ")
    outcome = ET.SubElement(case, element, message=message, type=state.compliance_state.value)
    outcome.text = reasons or None


@output_format("junit", ".xml", "JUnit XML: one testcase per record, NonCompliant as failure")
def render_junit(states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    suites: dict[str, list[PolicyState]] = {}
    for state in states:
        suites.setdefault(policy_key(state), []).append(state)
    root = ET.Element("testsuites", name=f"arcpolicy scan {metadata.scan_id}",
                      time=f"{metadata.duration_seconds:.3f}")
    _counted(root, StateCounts.of(state.compliance_state for state in states))
    for name, members in suites.items():
        suite = ET.SubElement(root, "testsuite", name=name, timestamp=metadata.started_at.isoformat())
        _counted(suite, StateCounts.of(state.compliance_state for state in members))
        for state in members:
            _testcase(suite, state, name)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
