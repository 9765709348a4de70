"""``make demo``: the arcpolicy pipeline on the bundled demo fleet.

Each step calls the library API the CLI uses, and prints what a user would see.
"""

from __future__ import annotations

from pathlib import Path

from engine.cli.main import main

HERE = Path(__file__).resolve().parent
FLEET = HERE / "demo-fleet.json"


def demo() -> int:
    print("== inventory: the demo fleet ==")
    return main(["inventory", "--inventory", str(FLEET)])


if __name__ == "__main__":
    raise SystemExit(demo())
