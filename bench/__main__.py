"""``make bench``: run every benchmark module (``bench/bench_*.py``) and print its figures.

A benchmark reports throughput figures; it is not a timed test and asserts nothing about
speed. Results also go to ``bench/results/<name>.json`` for the README's performance section.
Run one with ``python -m bench NAME`` (e.g. ``python -m bench inventory``).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main(names: list[str]) -> int:
    modules = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if names:
        modules = [module for module in modules if module.removeprefix("bench_") in names]
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    for module_name in modules:
        module = importlib.import_module(f"bench.{module_name}")
        print(f"== {module_name} ==", flush=True)
        figures = module.run()
        figures["machine"] = machine()
        (results_dir / f"{module_name.removeprefix('bench_')}.json").write_text(json.dumps(figures, indent=2))
        for key, value in figures.items():
            print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
