"""OPA's ``net.cidr_intersects``, ``net.cidr_contains_matches`` and ``net.cidr_merge`` (regorus lacks them), and
``net.cidr_expand`` with a bound (regorus's grows without one: ``0.0.0.0/0`` took gigabytes until it was stopped).

Addresses are parsed as Go's net.ParseIP / net.ParseCIDR parse them (no zones, no netmask suffixes, an IPv4
address embedded in IPv6 allowed) and placed, as OPA's CIDR merge places them, in one 128-bit space where IPv4
is IPv4-mapped IPv6 (``::ffff:a.b.c.d``); like Go's ``IPNet.Contains``, a network only holds addresses of its own
family (an IPv4 address is never in ``::/0``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand

_MAPPED = 0xFFFF << 32  # ::ffff:0.0.0.0, where IPv4 starts in the 128-bit space


def _is_mapped(address: int) -> bool:
    return address >> 32 == 0xFFFF


def _go_ip(text: str) -> int | None:
    """Go's net.ParseIP as a 128-bit number (IPv4 mapped), or None where Go answers nil."""
    if "%" in text:
        return None  # Go's ParseIP refuses zones, Python's accepts them
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return _MAPPED | int(address) if address.version == 4 else int(address)


@dataclass(frozen=True)
class _Network:
    """A CIDR's range in the 128-bit space and its text as Go's ``IPNet.String`` writes it."""

    first: int
    last: int
    text: str

    def contains(self, address: int) -> bool:
        """Go's ``IPNet.Contains``: the same family (IPv4 or not) and inside the range."""
        return _is_mapped(address) == _is_mapped(self.first) and self.first <= address <= self.last


def _cidr_text(first: int, prefix: int) -> str:
    """Go's ``IPNet.String``: a network starting in the IPv4-mapped range is written as IPv4."""
    if _is_mapped(first):
        return f"{ipaddress.IPv4Address(first & 0xFFFFFFFF)}/{prefix - 96}"
    return f"{ipaddress.IPv6Address(first)}/{prefix}"


def _block(first: int, prefix: int) -> _Network:
    """The network of ``prefix`` bits (of 128) holding ``first`` (masked)."""
    size = 1 << (128 - prefix)
    first &= ~(size - 1)
    return _Network(first, first + size - 1, _cidr_text(first, prefix))


def _go_cidr(text: str) -> _Network | None:
    """Go's net.ParseCIDR (the address masked), or None where Go refuses it."""
    address_text, slash, prefix_text = text.partition("/")
    address = _go_ip(address_text)
    if not slash or address is None or not (prefix_text.isascii() and prefix_text.isdigit()):
        return None
    is_v4 = ":" not in address_text
    prefix = int(prefix_text)
    if prefix > (32 if is_v4 else 128):
        return None
    return _block(address, prefix + 96 if is_v4 else prefix)


def _network(name: str, position: int, text: Any) -> _Network:
    network = _go_cidr(operand(name, position, text, str))
    if network is None:
        raise BuiltinError(f"{name}: invalid CIDR address: {text}")
    return network


MAX_EXPANDED = 1 << 20  # addresses net.cidr_expand lists: an IPv4 /12


def _address_text(address: int) -> str:
    """Go's ``IP.String``: an IPv4-mapped address is written as IPv4."""
    if _is_mapped(address):
        return str(ipaddress.IPv4Address(address & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address(address))


@builtin("net.cidr_expand", 1)
def cidr_expand(cidr: Any) -> set[str]:
    """Every address of the network; more than :data:`MAX_EXPANDED` is an error here (OPA runs out of memory)."""
    network = _network("net.cidr_expand", 1, cidr)
    if network.last - network.first >= MAX_EXPANDED:
        raise BuiltinError(f"net.cidr_expand: {cidr} holds more than {MAX_EXPANDED:,} addresses, more than arcpolicy "
                           "lists")
    return {_address_text(address) for address in range(network.first, network.last + 1)}


@builtin("net.cidr_intersects", 2)
def cidr_intersects(first: Any, second: Any) -> bool:
    """Either network holds the other's first address."""
    a, b = _network("net.cidr_intersects", 1, first), _network("net.cidr_intersects", 2, second)
    return a.contains(b.first) or b.contains(a.first)


def _cidr_contains(name: str, cidr: Any, cidr_or_ip: Any) -> bool:
    """OPA's ``net.cidr_contains``: an IP address first, else a CIDR whose first and last addresses are inside."""
    network = _network(name, 1, cidr)
    text = operand(name, 2, cidr_or_ip, str)
    address = _go_ip(text)
    if address is not None:
        return network.contains(address)
    inner = _go_cidr(text)
    if inner is None:
        raise BuiltinError(f"{name}: not a valid textual representation of an IP address or CIDR: {text}")
    return network.contains(inner.first) and network.contains(inner.last)


def _hashable(value: Any) -> Any:
    return tuple(map(_hashable, value)) if isinstance(value, list | tuple) else value


def _matches_operand(position: int, value: Any) -> Iterator[tuple[Any, Any]]:
    """(cidr, index) pairs of one operand: a string is its own index; an array's, set's or object's elements are
    strings or non-empty arrays whose first element is the CIDR; any other operand has none."""
    if isinstance(value, str):
        yield value, value
        return
    if isinstance(value, list | tuple):
        pairs: Iterator[tuple[Any, Any]] = ((element, index) for index, element in enumerate(value))
    elif isinstance(value, set | frozenset):
        pairs = ((element, _hashable(element)) for element in value)
    elif isinstance(value, dict):
        pairs = ((element, key) for key, element in value.items())
    else:
        return
    for element, index in pairs:
        if isinstance(element, str):
            yield element, index
        elif isinstance(element, list | tuple) and element:
            yield element[0], index
        else:
            raise BuiltinError(f"net.cidr_contains_matches: operand {position}: element must be string or non-empty array")


@builtin("net.cidr_contains_matches", 2)
def cidr_contains_matches(cidrs: Any, cidrs_or_ips: Any) -> set[tuple[Any, Any]]:
    """Every [index of a CIDR, index of an address or CIDR it contains]."""
    return {(first_index, second_index) for cidr, first_index in _matches_operand(1, cidrs)
            for inner, second_index in _matches_operand(2, cidrs_or_ips)
            if _cidr_contains("net.cidr_contains_matches", cidr, inner)}


def _merge_element(element: Any) -> _Network:
    """An IPv4 address takes its classful default mask, unmasked (``1.2.3.4`` is ``1.2.3.4/8``, range 1.0.0.0/8)."""
    if not isinstance(element, str):
        raise BuiltinError("net.cidr_merge: element must be string")
    address = _go_ip(element)
    if address is None:
        return _network("net.cidr_merge", 1, element)
    if not _is_mapped(address):
        raise BuiltinError("net.cidr_merge: IPv6 invalid: needs prefix length")
    leading = (address >> 24) & 0xFF
    prefix = 8 if leading < 0x80 else 16 if leading < 0xC0 else 24
    block = _block(address, prefix + 96)
    return _Network(block.first, block.last, f"{ipaddress.IPv4Address(address & 0xFFFFFFFF)}/{prefix}")


def _previous(address: int) -> int:
    """The address before, except at 0.0.0.0 and :: (OPA's GetPreviousIP does not go below either)."""
    return address if address in (0, _MAPPED) else address - 1


def _range_cidrs(first: int, last: int) -> list[_Network]:
    """The fewest CIDRs covering exactly first..last."""
    blocks = []
    while first <= last:
        size_bits = min((first & -first).bit_length() - 1 if first else 128, (last - first + 1).bit_length() - 1)
        blocks.append(_block(first, 128 - size_bits))
        first += 1 << size_bits
    return blocks


@builtin("net.cidr_merge", 1)
def cidr_merge(addresses: Any) -> set[str]:
    """OPA's merge: ranges sorted by last then first address, merged from the end where one's previous address
    reaches the other's last; an unmerged network keeps its own text, a merged range becomes its fewest CIDRs."""
    if not isinstance(addresses, list | tuple | set | frozenset):
        raise BuiltinError("net.cidr_merge: operand must be an array")
    ranges: list[tuple[int, int, _Network | None]] = sorted(
        ((network.last, network.first, network) for network in map(_merge_element, addresses)),
        key=lambda entry: entry[:2])
    for index in range(len(ranges) - 1, 0, -1):
        last, first, _ = ranges[index]
        if _previous(first) <= ranges[index - 1][0]:
            ranges[index - 1] = (last, min(first, ranges[index - 1][1]), None)
            del ranges[index]
    return {cidr.text for last, first, network in ranges
            for cidr in ([network] if network is not None else _range_cidrs(first, last))}
