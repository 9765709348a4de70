"""``arcpolicy sandbox serve``: run the local ARM + Resource Graph sandbox in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from engine.cli.app import sandbox_app
from engine.cli.output import console
from engine.errors import InputError
from engine.sandbox import SandboxOptions, SandboxServer
from engine.sandbox.limits import parse_ratio


def _ratio(option: str, text: str) -> str:
    try:
        parse_ratio(text)
    except ValueError as error:
        raise InputError(option, str(error)) from None
    return text


@sandbox_app.command("serve", short_help="Serve a simulated fleet as ARM + Resource Graph over HTTPS.")
def serve_command(
    state_dir: Annotated[Path, typer.Option("--state-dir", help="Where state, ca.pem and keys persist.")],
    fleet: Annotated[Path | None, typer.Option("--fleet", help="Fleet snapshot to serve (first start; later, the "
                                               "same fleet or none).")] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any).")] = 8443,
    max_page_size: Annotated[int, typer.Option("--max-page-size", min=1, max=1000,
                                               help="Most rows per Resource Graph page.")] = 1000,
    arm_page_size: Annotated[int, typer.Option("--arm-page-size", min=1, max=1000,
                                               help="Most items per page of an ARM list (then nextLink).")] = 100,
    throttle: Annotated[str, typer.Option("--throttle", help="Resource Graph quota Q/Ws per caller.")] = "15/5s",
    read_limit: Annotated[str, typer.Option("--read-limit", help="ARM read bucket B/R (size, refill per "
                                            "second) per subscription.")] = "250/25",
    write_limit: Annotated[str, typer.Option("--write-limit", help="ARM write bucket B/R (size, refill per "
                                             "second) per subscription.")] = "200/10",
    delete_limit: Annotated[str, typer.Option("--delete-limit", help="ARM delete bucket B/R (size, refill per "
                                              "second) per subscription.")] = "200/10",
    provisioning_seconds: Annotated[float, typer.Option("--provisioning-seconds", min=0,
                                                        help="Simulated seconds an extension is Creating.")] = 30.0,
) -> None:
    """Serve ARM and Resource Graph over HTTPS on a simulated fleet until interrupted."""
    try:
        options = SandboxOptions(state_dir=state_dir, fleet=fleet, port=port, max_page_size=max_page_size,
                                 arm_page_size=arm_page_size, throttle=_ratio("--throttle", throttle),
                                 read_limit=_ratio("--read-limit", read_limit),
                                 write_limit=_ratio("--write-limit", write_limit),
                                 delete_limit=_ratio("--delete-limit", delete_limit),
                                 provisioning_seconds=provisioning_seconds)
    except ValidationError as error:
        raise InputError("sandbox serve", error.errors()[0]["msg"]) from None
    server = SandboxServer(options)
    endpoint = server.bind()
    # soft_wrap: a log keeps each line whole, so the hint can be copied as one command
    console.print(f"sandbox: serving {endpoint.url} (CA {endpoint.ca_bundle}); state in {state_dir}",
                  soft_wrap=True, markup=False)
    console.print(f"sandbox: try  arcpolicy inventory --resource-graph --arm-endpoint {endpoint.url} "
                  f"--ca-bundle {endpoint.ca_bundle} --credential sandbox", soft_wrap=True, markup=False)
    server.serve_forever()
