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

import struct
import uuid

ARM_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF
_C1, _C2 = 597399067, 2869860233  # lane multipliers
_F1, _F2 = 2246822507, 3266489909  # finalizer multipliers
_BLOCKS = struct.Struct("<II")  # an 8-byte block: the two lanes' 32-bit words, little-endian


def _finalize(h: int) -> int:
    h ^= h >> 16
    h = (h * _F1) & _MASK32
    h ^= h >> 13
    h = (h * _F2) & _MASK32
    return h ^ (h >> 16)


def murmur_hash64(data: bytes) -> int:
    """ResourceStack's MurmurHash64 of ``data`` (seed 0). Lane 1 mixes its word with C1, rotl 15, C2 into h1
    (then rotl 19, + h2, * 5 + 0x561ccd1b); lane 2 with C2, rotl 17, C1 into h2 (rotl 13, + h1, * 5 +
    0x0bcaa747). Written out in one loop over the blocks: a plan hashes a name per deployment."""
    length = len(data)
    h1 = h2 = 0
    blocks = length & ~7
    for k1, k2 in _BLOCKS.iter_unpack(data[:blocks]):
        k1 = (k1 * _C1) & _MASK32
        h1 ^= ((((k1 << 15) | (k1 >> 17)) & _MASK32) * _C2) & _MASK32
        h1 = ((((h1 << 19) | (h1 >> 13)) & _MASK32) + h2) & _MASK32
        h1 = (h1 * 5 + 1444728091) & _MASK32
        k2 = (k2 * _C2) & _MASK32
        h2 ^= ((((k2 << 17) | (k2 >> 15)) & _MASK32) * _C1) & _MASK32
        h2 = ((((h2 << 13) | (h2 >> 19)) & _MASK32) + h1) & _MASK32
        h2 = (h2 * 5 + 197830471) & _MASK32
    tail = data[blocks:]
    if tail:
        k1 = (int.from_bytes(tail[:4], "little") * _C1) & _MASK32
        h1 ^= ((((k1 << 15) | (k1 >> 17)) & _MASK32) * _C2) & _MASK32
        if len(tail) > 4:
            k2 = (int.from_bytes(tail[4:], "little") * _C2) & _MASK32
            h2 ^= ((((k2 << 17) | (k2 >> 15)) & _MASK32) * _C1) & _MASK32
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
