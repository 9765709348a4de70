"""``junit``: JUnit XML for CI dashboards; a suite per policy, a test case per record.

NonCompliant is a ``<failure>``, Error an ``<error>``, Exempt ``<skipped>``, Compliant a pass. Suites come
in the order their policies first appear, each with its records in the scan's order, and the counts go in
the opening tags: the test cases wait in an external sort (by suite), the counts in memory.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import IO, Any

from engine.external_sort import ExternalSort
from engine.models.results import ComplianceState
from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord
from engine.output.summary import StateCounts, record_policy_key
from engine.untrusted_text import xml_text

OUTCOME_ELEMENT = {
    ComplianceState.NON_COMPLIANT: "failure",
    ComplianceState.ERROR: "error",
    ComplianceState.EXEMPT: "skipped",
}
INDENT = "  "


def _counted(element: ET.Element, counts: StateCounts) -> ET.Element:
    element.set("tests", str(counts.total))
    element.set("failures", str(counts.non_compliant))
    element.set("errors", str(counts.error))
    element.set("skipped", str(counts.exempt))
    return element


def _testcase(record: dict[str, Any], classname: str) -> str:
    """The record's ``<testcase>``, indented as ``ET.indent`` indents it inside its suite."""
    case = ET.Element("testcase", name=xml_text(record["resourceId"]), classname=xml_text(classname))
    state = record["complianceState"]
    element = OUTCOME_ELEMENT.get(state)
    if element is not None:
        reasons = "\n".join(reason["message"] for reason in record.get("reasons", ())) or record.get("error") or ""
        message = reasons.splitlines()[0] if reasons else state
        if state == ComplianceState.EXEMPT:
            exemption = f"exempt ({record.get('exemptionCategory') or 'exemption'}): {record.get('exemptionId') or ''}"
            message = exemption.strip(": ")
        outcome = ET.SubElement(case, element, message=xml_text(message), type=state)
        outcome.text = xml_text(reasons) or None
        ET.indent(case, INDENT, level=2)
    return ET.tostring(case, encoding="unicode")


def _opening(element: ET.Element) -> str:
    """``<tag attributes>`` of an element, escaped as ElementTree writes it."""
    element.text = "\n"
    text = ET.tostring(element, encoding="unicode")
    return text[:text.index(">") + 1]


class JunitWriter:
    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.out = out
        self.metadata = metadata
        self.counts = StateCounts()
        self.suites: dict[str, tuple[int, StateCounts]] = {}  # policy -> (rank, counts): one per policy
        self.cases = ExternalSort()

    def add(self, record: OutputRecord) -> None:
        data = record.data
        name = record_policy_key(data)
        rank, counts = self.suites.setdefault(name, (len(self.suites), StateCounts()))
        counts.add(data["complianceState"])
        self.counts.add(data["complianceState"])
        self.cases.add(rank, _testcase(data, name).encode())

    def finish(self) -> None:
        write = self.out.write
        root = _counted(ET.Element("testsuites", name=f"arcpolicy scan {self.metadata.scan_id}",
                                   time=f"{self.metadata.duration_seconds:.3f}"), self.counts)
        write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        if not self.suites:
            write(ET.tostring(root, encoding="unicode").encode() + b"\n")
            return
        write(_opening(root).encode())
        names = {rank: (name, counts) for name, (rank, counts) in self.suites.items()}
        current = None
        for rank, case in self.cases:
            if rank != current:
                if current is not None:
                    write(b"\n  </testsuite>")
                name, counts = names[rank]
                suite = _counted(ET.Element("testsuite", name=xml_text(name), timestamp=self.metadata.started_at.isoformat()),
                                 counts)
                write(b"\n  " + _opening(suite).encode())
                current = rank
            write(b"\n    " + case)
        write(b"\n  </testsuite>\n</testsuites>\n")
