"""ARM's ``uniqueString()`` and ``guid()``: the same strings Azure derives, since the names they
build are the names apply writes.

Both join their (string) arguments with ``-`` and hash the UTF-8 bytes, as Microsoft's own port of
the Azure Policy / ARM expression functions does (``ExpressionBuiltInFunctions.UniqueString`` and
``.Guid`` in Microsoft.WindowsAzure.Governance.PolicyLinter.Core, MIT licensed):

- ``uniqueString``: ResourceStack's ``ComputeHash.MurmurHash64`` (a MurmurHash3-x86-style
  pair of 32-bit lanes with its own constants, seed 0), the 64-bit result written as 13 base-32
  characters (``a-z2-7``) from the most significant bits down;
- ``guid``: a name-based version-5 UUID (RFC 4122 section 4.3, SHA-1) in ARM's namespace
  ``11fb06fb-712d-4ddd-98c7-e71bbd588830`` (``ExpressionBuiltInFunctions.ARMNamespaceGuid``).

tests/expressions/test_arm_hashes.py checks published reference values.
"""

from __future__ import annotations

import uuid

ARM_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF
_C1, _C2 = 597399067, 2869860233  # lane multipliers
_F1, _F2 = 2246822507, 3266489909  # finalizer multipliers


def _rotate(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK32


def _lane1(k: int) -> int:
    return (_rotate((k * _C1) & _MASK32, 15) * _C2) & _MASK32


def _lane2(k: int) -> int:
    return (_rotate((k * _C2) & _MASK32, 17) * _C1) & _MASK32


def _finalize(h: int) -> int:
    h ^= h >> 16
    h = (h * _F1) & _MASK32
    h ^= h >> 13
    h = (h * _F2) & _MASK32
    return h ^ (h >> 16)


def murmur_hash64(data: bytes) -> int:
    """ResourceStack's MurmurHash64 of ``data`` (seed 0)."""
    length = len(data)
    h1 = h2 = 0
    position = 0
    while position + 8 <= length:
        h1 ^= _lane1(int.from_bytes(data[position:position + 4], "little"))
        h1 = (_rotate(h1, 19) + h2) & _MASK32
        h1 = (h1 * 5 + 1444728091) & _MASK32
        h2 ^= _lane2(int.from_bytes(data[position + 4:position + 8], "little"))
        h2 = (_rotate(h2, 13) + h1) & _MASK32
        h2 = (h2 * 5 + 197830471) & _MASK32
        position += 8
    tail = data[position:]
    if tail:
        h1 ^= _lane1(int.from_bytes(tail[:4], "little"))
        if len(tail) > 4:
            h2 ^= _lane2(int.from_bytes(tail[4:], "little"))
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    h1, h2 = _finalize(h1), _finalize(h2)
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    return (h2 << 32) | h1


def unique_string(*texts: str) -> str:
    """``uniqueString(a, b, ...)`` of strings."""
    value = murmur_hash64("-".join(texts).encode())
    characters = []
    for _ in range(13):
        characters.append(BASE32[value >> 59])
        value = (value << 5) & _MASK64
    return "".join(characters)


def arm_guid(*texts: str) -> str:
    """``guid(a, b, ...)`` of strings."""
    return str(uuid.uuid5(ARM_NAMESPACE, "-".join(texts)))
