"""``make demo``: the arcpolicy pipeline on the bundled demo fleet.

The fleet is served by the local sandbox and read back through Resource Graph, so the demo
exercises the same path (HTTPS, Azure SDK, paging, quota) a real tenant does: inventory, a scan
recorded in a history store under ``out/``, a remediation plan applied to the sandbox, a second
scan, what changed between the scans, and the compliance trend (``out/trend.html``).
"""

from __future__ import annotations

import os
import tempfile
import webbrowser
from pathlib import Path

from engine.cli.main import main
from engine.sandbox import SandboxOptions, SandboxServer

HERE = Path(__file__).resolve().parent
FLEET = HERE / "demo-fleet.json"
POLICIES = ["builtin:"]  # the shipped library's default set: each rule once
OUT = Path("out")


def step(title: str, argv: list[str], ok: tuple[int, ...] = (0,)) -> int:
    """Run one arcpolicy command in-process; statuses in ``ok`` (findings are expected) keep the demo going."""
    print(f"\n== {title} ==\n$ arcpolicy {' '.join(argv)}", flush=True)
    status = main(argv)
    if status not in ok:
        raise SystemExit(status)
    return status


def show_trend(trend: Path) -> None:
    url = trend.resolve().as_uri()
    print(f"\nthe compliance trend: {url}")
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        webbrowser.open(url)


def demo() -> int:
    OUT.mkdir(exist_ok=True)
    store, plan, trend = OUT / "history.db", OUT / "plan.json", OUT / "trend.html"
    store.unlink(missing_ok=True)  # each demo starts a fresh history
    policies = [argument for path in POLICIES for argument in ("--policy", str(path))]
    with tempfile.TemporaryDirectory(prefix="arcpolicy-sandbox-") as state_dir:
        server = SandboxServer(SandboxOptions(state_dir=Path(state_dir), fleet=FLEET, provisioning_seconds=0,
                                              poll_after_seconds=0))
        endpoint = server.start()
        try:
            arm = ["--arm-endpoint", endpoint.url, "--ca-bundle", str(endpoint.ca_bundle), "--credential", "sandbox"]
            graph = ["--resource-graph", *arm]
            step(f"inventory: the demo fleet, through Resource Graph on the sandbox at {endpoint.url}",
                 ["inventory", *graph])
            scan = ["scan", *graph, *policies, "--store", str(store), "--workers", "1"]
            step("scan 1: recorded in the history store", [*scan, "-o", str(OUT / "scan-1.html")], ok=(0, 1))
            step("plan the remediation (nothing written yet)",
                 ["plan", *graph, *policies, "--workers", "1", "-o", str(plan), "--report", str(OUT / "plan.html")])
            step("apply the plan to the sandbox", ["apply", str(plan), *arm, "-o", str(OUT / "apply.json")],
                 ok=(0, 1))
            step("scan 2: after the remediation", [*scan, "-o", str(OUT / "scan-2.html")], ok=(0, 1))
        finally:
            server.stop()
    step("what changed between the two scans", ["diff", "latest~1", "latest", "--store", str(store)], ok=(0, 1))
    step("the compliance trend", ["trend", "--store", str(store), "-o", str(trend), "--svg", str(OUT / "trend.svg")])
    show_trend(trend)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(demo())
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # as the CLI does when interrupted
