"""Microsoft's Azure Policy conformance cases (regorus's ``tests/azure_policy``) through arcpolicy's compiler and
evaluator (:mod:`tests.azure_policy.conformance` says how a case maps): every case passes, or is listed in
docs/azure-policy-conformance.md with the documentation sentence that makes arcpolicy differ, and differs.

The test summary's "figures" section prints the counts (tests/conftest.py).
"""

from __future__ import annotations

from typing import Any

from .conformance import NORMALIZATION_CASES, documented_differences, load_cases, tally

CASES = load_cases()


def test_every_case_passes_or_differs_as_documented(record_property: Any) -> None:
    differences = documented_differences()
    result = tally(CASES, differences)
    total = len(CASES)
    record_property("figure", f"regorus conformance cases: {total} policy cases, {len(result.passed)} pass "
                              f"({100 * len(result.passed) / total:.1f}%), {len(result.different)} differ as "
                              f"docs/azure-policy-conformance.md documents, {len(result.failed)} fail; "
                              f"{NORMALIZATION_CASES} normalization cases are regorus's internal resource form "
                              "(not run: see the doc)")
    assert not result.failed, "\n".join(f"{verdict.case.name}: {verdict.detail}" for verdict in result.failed)
    assert not result.listed_but_passing, f"listed as different but passing: {result.listed_but_passing}"
    unknown = set(differences) - {case.name for case in CASES}
    assert not unknown, f"listed cases the suite does not have: {sorted(unknown)}"
