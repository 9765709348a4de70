"""``arcpolicy spec DIR``: the example policy repository passes; a wrong expectation fails readably."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli.main import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "policy-repo"


def test_the_example_policy_repository_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["spec", str(EXAMPLE)])
    output = capsys.readouterr().out
    assert status == 0, output
    assert "ok    features/flux.feature: Stores without Flux on the Stable train are non-compliant" in output
    assert "FAIL" not in output


def test_a_wrong_expectation_fails_with_the_step_and_the_reason(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "policy-repo"
    shutil.copytree(EXAMPLE, repo)
    feature = repo / "features" / "flux.feature"
    text = feature.read_text()
    feature.write_text(text.replace('Then "store-1" is compliant with "contoso-flux-stable"',
                                    'Then "store-3" is compliant with "contoso-flux-stable"'))
    status = main(["spec", str(repo)])
    output = capsys.readouterr().out
    assert status == 1
    assert "FAIL  features/flux.feature: Stores without Flux on the Stable train are non-compliant" in output
    assert 'features/flux.feature:14: Then "store-3" is compliant with "contoso-flux-stable"' in output
    assert ('expected "store-3" to be Compliant with "contoso-flux-stable", but it is NonCompliant; reasons:\n'
            "  - no related Microsoft.KubernetesConfiguration/extensions") in output
    assert "Traceback" not in output


def test_keyword_selects_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", str(EXAMPLE), "-k", "exempt"]) == 0
    output = capsys.readouterr().out
    assert "A store being rebuilt is exempt for now" in output
    assert "Preview train" not in output


def test_an_undefined_step_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "typo.feature").write_text(
        "Feature: typo\n  Scenario: a step nobody defined\n    Given a conected cluster \"c\"\n")
    assert main(["spec", str(tmp_path)]) == 1
    assert 'Step definition is not found: Given "a conected cluster "c""' in capsys.readouterr().out


@pytest.mark.parametrize(("make", "error"), [
    (lambda root: root / "missing", "missing: no such directory"),
    (lambda root: root, "no .feature files in this directory"),
])
def test_bad_spec_directories_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  make: object, error: str) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    assert main(["spec", str(target)]) == 2
    assert capsys.readouterr().err.strip().endswith(error)
