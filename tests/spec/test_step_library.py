"""The step library: sentences parse as documented, each written step matches exactly one
definition, and docs/specs.md lists every step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from engine.spec import steps
from engine.spec.sentence import Sentence

REPO = Path(__file__).resolve().parents[2]
FEATURE_DIRS = (REPO / "features", REPO / "examples" / "policy-repo")
_KEYWORD = re.compile(r"^\s*(Given|When|Then|And|But)\s+(.*\S)\s*$")


def library() -> list[StepFunctionContext]:
    return [context for context in step_function_context_registry.values()
            if context.step_func.__module__ == steps.__name__]


def written_steps() -> list[tuple[str, str, str]]:
    """(type, sentence, where) for every step line of the shipped feature files (outline rows excluded)."""
    found = []
    for directory in FEATURE_DIRS:
        for feature in sorted(directory.rglob("*.feature")):
            kind = "given"
            for number, line in enumerate(feature.read_text().splitlines(), start=1):
                match = _KEYWORD.match(line)
                if match is None:
                    continue
                if match.group(1) not in ("And", "But"):
                    kind = match.group(1).lower()
                if "<" not in match.group(2):
                    found.append((kind, match.group(2), f"{feature.name}:{number}"))
    return found


def test_quoted_slots_never_swallow_quotes() -> None:
    sentence = Sentence('"{cluster}" is exempt from "{name}" as a "{category}"')
    assert sentence.parse_arguments('"a" is exempt from "b" as a "Waiver"') == {
        "cluster": "a", "name": "b", "category": "Waiver"}
    assert not sentence.is_matching('"a" is exempt from "b" of "c" as a "Waiver"')


def test_whole_numbers_are_ints_and_words_are_text() -> None:
    sentence = Sentence("the scan has {count:d} {state} records")
    assert sentence.parse_arguments("the scan has 3 non-compliant records") == {"count": 3, "state": "non-compliant"}
    assert not sentence.is_matching("the scan has three non-compliant records")


@pytest.mark.parametrize(("kind", "sentence", "where"), written_steps(), ids=lambda value: str(value)[:60])
def test_every_written_step_matches_exactly_one_definition(kind: str, sentence: str, where: str) -> None:
    matching = [context.step_func.__name__ for context in library()
                if context.type == kind and context.parser.is_matching(sentence)]
    assert len(matching) == 1, f"{where}: {kind} {sentence!r} matches {matching}"


def test_docs_list_every_step() -> None:
    documented = (REPO / "docs" / "specs.md").read_text()
    missing = [f"{context.type} {context.parser.name}" for context in library()
               if f"`{context.parser.name}`" not in documented and context.parser.name not in documented]
    assert not missing, "steps missing from docs/specs.md:\n" + "\n".join(missing)


def test_trend_steps_read_the_charts_arcpolicy_trend_draws(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from engine.history.store import ScanRecord
    from engine.history.trend import TrendPoint, TrendSeries, line_chart_svg
    from engine.spec import history

    scans = [ScanRecord.model_construct(scan_id=f"s{index}", started_at=datetime(2026, 1, index, tzinfo=UTC))
             for index in (1, 2)]
    series = TrendSeries(name="contoso-flux [member-1]", points=[
        TrendPoint(scan_id="s1", started_at=scans[0].started_at, compliant=1, total=2),
        TrendPoint(scan_id="s2", started_at=scans[1].started_at, compliant=2, total=2)])
    chart = tmp_path / "trend.svg"
    chart.write_text(line_chart_svg("Compliance over time", scans, [series]))
    assert history.svg_series(chart) == {"contoso-flux [member-1]": [50.0, 100.0]}
    assert history.parse_percentages("50%, 100%") == [50.0, 100.0]
    assert history.svg_legend(chart) == ["contoso-flux [member-1]"]
    with pytest.raises(AssertionError, match="is not a list of percentages"):
        history.parse_percentages("half")


def test_trend_steps_find_a_policys_line_by_the_label_the_chart_gives_it() -> None:
    from engine.spec import history

    title = "Azure Arc enabled Kubernetes clusters should have the Azure Policy extension installed"

    def records(assignment: str) -> list[dict[str, str]]:
        return [{"policyAssignmentId": f"/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/{assignment}",
                 "policyAssignmentName": assignment, "policyDefinitionName": "6b2122c1-8120-4ff5-801b-17625a355590",
                 "policyDefinitionDisplayName": title}]

    assert history.series_name(records("prod"), [title, "all policies"]) == title
    lines = [f"{title} (prod)", f"{title} (edge)", "all policies"]
    assert history.series_name(records("edge"), lines) == f"{title} (edge)"
    with pytest.raises(AssertionError, match="no line of the trend is labelled"):
        history.series_name(records("test"), lines)
    with pytest.raises(AssertionError, match="more than one line of the trend"):
        history.series_name(records("prod") + records("edge"), lines)
