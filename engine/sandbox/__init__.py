"""``arcpolicy sandbox serve``: a local HTTPS stand-in for ARM, Azure Resource Graph and Key Vault secrets.

It speaks the wire protocols closely enough that the unmodified Azure SDK clients run against
it, including ARM's limits, long-running operations and failures, on a simulated fleet.
"""

from engine.sandbox.client import SandboxControl
from engine.sandbox.core import SandboxOptions
from engine.sandbox.server import SandboxEndpoint, SandboxServer

__all__ = ["SandboxControl", "SandboxEndpoint", "SandboxOptions", "SandboxServer"]
