"""OPA's ``net.cidr_intersects`` (regorus lacks it): Go's net.ParseCIDR on both, then either contains the other's address."""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand


def _network(text: Any, position: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    value = operand("net.cidr_intersects", position, text, str)
    if "/" not in value:
        raise BuiltinError(f"net.cidr_intersects: invalid CIDR address: {value}")
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BuiltinError(f"net.cidr_intersects: invalid CIDR address: {value}") from None


@builtin("net.cidr_intersects", 2)
def cidr_intersects(first: Any, second: Any) -> bool:
    a, b = _network(first, 1), _network(second, 2)
    return a.version == b.version and a.overlaps(b)  # type: ignore[arg-type]
