"""Every fuzz target with the fixed, seeded budget of the default suite: 0 crashes.

(Slow inputs are counted by ``make fuzz``, not asserted: tests never assert wall-clock time.)
"""

from __future__ import annotations

import pytest
from foundation.test_packaging import dry_run_of_make

from fuzz.__main__ import main
from fuzz.targets import TARGETS, run

EXAMPLES = 2_000


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
def test_no_input_crashes_the_reader(target) -> None:
    report = run(target, EXAMPLES)
    assert report.inputs == EXAMPLES
    assert report.crashes == []


def test_make_fuzz_reports_inputs_crashes_and_slow_inputs(capsys) -> None:
    """What ``make fuzz`` runs (its recipe, then that command with a tiny budget)."""
    assert "cd tests && ../.venv/bin/python -m fuzz" in [line.strip() for line in dry_run_of_make("fuzz").splitlines()]
    assert main(["--examples", "20", "--target", "configs"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[:3] == ["target", "inputs", "crashes"]
    assert row.split()[:3] == ["configs", "20", "0"]
