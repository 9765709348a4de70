"""``make fuzz``: every fuzz target with a long budget, reporting inputs, crashes and slow inputs.

``python -m fuzz [--examples N] [--seed S] [--target NAME ...]`` from ``tests/`` (the Makefile
sets the path). Exit status 1 when any target crashed or was slow, else 0.
"""

from __future__ import annotations

import argparse
import sys
import time

from fuzz.targets import SLOW_SECONDS, TARGETS, run

# The long run's budget per target: >= 50,000 policy rules and >= 100,000 expressions (issue 16).
# Every other target: DEFAULT_BUDGET.
BUDGET = {"policy rules": 50_000, "policy expressions": 50_000, "template expressions": 50_000}
DEFAULT_BUDGET = 10_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, help="inputs per target (default: the long budget)")
    parser.add_argument("--seed", type=int, default=1, help="Hypothesis seed (default 1)")
    parser.add_argument("--target", action="append", choices=[target.name for target in TARGETS])
    options = parser.parse_args(argv)
    failed = False
    print(f"{'target':22} {'inputs':>8} {'crashes':>8} {'slow (> ' + str(SLOW_SECONDS) + ' s)':>14} {'seconds':>8}")
    for target in TARGETS:
        if options.target and target.name not in options.target:
            continue
        started = time.perf_counter()
        report = run(target, options.examples or BUDGET.get(target.name, DEFAULT_BUDGET), options.seed)
        print(f"{target.name:22} {report.inputs:>8} {len(report.crashes):>8} {len(report.slow):>14} "
              f"{time.perf_counter() - started:>8.0f}", flush=True)
        for line in report.crashes[:20] + report.slow[:20]:
            print(f"    {line}")
        failed = failed or bool(report.crashes or report.slow)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
