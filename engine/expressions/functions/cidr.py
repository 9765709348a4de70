"""CIDR functions (templates/template-functions-cidr): ``parseCidr``, ``cidrSubnet``, ``cidrHost``.

The page's examples fix what "usable" means: an IPv4 range's first usable address follows its network
address and its last precedes its broadcast address; an IPv6 range has no broadcast address, its
first usable address is its network address (``parseCidr('fdad:3236:5555::/48')``), yet ``cidrHost``
counts hosts from the address after it in both families (``cidrHost('fdad:3236:5555:3000::/52', 0)``
is ``fdad:3236:5555:3000::1``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.expressions.registry import INTEGER, TEXT, EvaluationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value: str, function: str) -> Network:
    if "/" not in value:
        raise EvaluationError(f"{function}(): '{value[:60]}' is not in CIDR notation (address/prefix length)")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError as error:
        raise EvaluationError(f"{function}(): {error}") from None


@F.function("parseCidr", 1, 1, takes=(TEXT,))
def _parse_cidr(value: str) -> dict[str, Any]:
    network = _network(value, "parseCidr")
    first, last = network.network_address, network.broadcast_address
    if network.version == 4:
        usable = (first + 1, last - 1) if network.prefixlen < 31 else (first, last)
        return {"network": str(first), "netmask": str(network.netmask), "broadcast": str(last),
                "firstUsable": str(usable[0]), "lastUsable": str(usable[1]), "cidr": network.prefixlen}
    return {"network": str(first), "netmask": str(network.netmask), "firstUsable": str(first),
            "lastUsable": str(last), "cidr": network.prefixlen}


@F.function("cidrSubnet", 3, 3, takes=(TEXT, INTEGER, INTEGER))
def _cidr_subnet(value: str, new_prefix: int, index: int) -> str:
    """The ``index``-th (from 0) subnet of prefix length ``new_prefix`` in the range."""
    network = _network(value, "cidrSubnet")
    if not network.prefixlen <= new_prefix <= network.max_prefixlen:
        raise EvaluationError(f"cidrSubnet(): the new prefix length {new_prefix} is not between the range's "
                              f"{network.prefixlen} and {network.max_prefixlen}")
    count = 1 << (new_prefix - network.prefixlen)
    if not 0 <= index < count:
        raise EvaluationError(f"cidrSubnet(): subnet {index} is outside the {count:,} subnets of /{new_prefix}")
    size = 1 << (network.max_prefixlen - new_prefix)
    return f"{network.network_address + index * size}/{new_prefix}"


@F.function("cidrHost", 2, 2, takes=(TEXT, INTEGER))
def _cidr_host(value: str, index: int) -> str:
    """The address of usable host ``index`` (from 0): the network address plus ``index + 1``."""
    network = _network(value, "cidrHost")
    hosts = network.num_addresses - (2 if network.version == 4 and network.prefixlen < 31 else 1)
    if not 0 <= index < hosts:
        raise EvaluationError(f"cidrHost(): host {index} is outside the {max(hosts, 0):,} usable hosts of "
                              f"{network}")
    return str(network.network_address + index + 1)
