"""``make demo``: the arcpolicy pipeline on the bundled demo fleet.

The fleet is served by the local sandbox and read back through Resource Graph, so the demo
exercises the same path (HTTPS, Azure SDK, paging, quota) a real tenant does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engine.cli.main import main
from engine.sandbox import SandboxOptions, SandboxServer

HERE = Path(__file__).resolve().parent
FLEET = HERE / "demo-fleet.json"


def demo() -> int:
    with tempfile.TemporaryDirectory(prefix="arcpolicy-sandbox-") as state_dir:
        server = SandboxServer(SandboxOptions(state_dir=Path(state_dir), fleet=FLEET))
        endpoint = server.start()
        try:
            print(f"== inventory: the demo fleet, through Resource Graph on the sandbox at {endpoint.url} ==")
            return main(["inventory", "--resource-graph", "--arm-endpoint", endpoint.url,
                         "--ca-bundle", str(endpoint.ca_bundle), "--credential", "sandbox"])
        finally:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(demo())
