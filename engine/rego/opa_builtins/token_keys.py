"""OPA's ``io.jwt.verify_rs256/384/512``, ``verify_ps256/384/512``, ``verify_es256/384/512`` and
``verify_eddsa`` (regorus lacks them): a JWS compact token's signature under a public key.

The key is what OPA's ``getKeysFromCertOrJWK`` reads: one PEM block (a ``CERTIFICATE`` or a ``PUBLIC KEY``,
nothing after it), else a JWK or a JWK set (``{"keys": [...]}``; a key whose ``alg`` is not JWA's is an error,
one for another use than signing, ``RSA-OAEP`` ..., is skipped). OPA checks in this order, each failure an error: the token's three parts, the key, the signature's
base64url, the header's JSON and its ``alg``/``kid``/``typ``/``cty`` (strings) and ``crit`` (a non-empty list).
Then a JWK whose ``kid`` is the header's decides alone; otherwise any key verifies (a JWK with an ``alg`` only
when it is the header's). A key of another type, or a signature that does not verify, is false, not an error.
ECDSA signatures are ``r || s`` split in the middle, as OPA splits them; PSS takes any salt length.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from engine.rego.opa_builtins import BuiltinError, builtin, operand
from engine.rego.opa_builtins.tokens import base64url_bytes, jose_header, jws_parts

KNOWN_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                              "HS256", "HS384", "HS512", "EdDSA"})
# What Go's jwx accepts as a JWK's ``alg`` (JWA signature and key-management algorithms): any other is an error
JWA_ALGORITHMS = KNOWN_ALGORITHMS | {
    "ES256K", "none", "RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512", "A128KW", "A192KW",
    "A256KW", "dir", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW", "A128GCMKW", "A192GCMKW",
    "A256GCMKW", "PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW"}
_PEM = re.compile(rb"-----BEGIN ([^-\r\n]*)-----\r?\n(.*?)-----END \1-----[ \t]*(?:\r?\n|$)", re.DOTALL)
_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}

Verifier = Callable[[Any, bytes, bytes], bool]  # (public key, signed bytes, signature) -> verified


def _pem_key(name: str, text: bytes) -> list[tuple[Any, str, str]] | None:
    """The key of the first PEM block in ``text`` (Go's pem.Decode), None when there is none."""
    found = _PEM.search(text)
    if found is None:
        return None
    if text[found.end():]:
        raise BuiltinError(f"{name}: extra data after a PEM certificate block")
    kind, body = found.group(1), found.group(2)
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None  # Go's pem.Decode skips a block it cannot decode: no PEM, so read as a JWK
    try:
        if kind == b"CERTIFICATE":
            return [(x509.load_der_x509_certificate(der).public_key(), "", "")]
        if kind == b"PUBLIC KEY":
            return [(serialization.load_der_public_key(der), "", "")]
    except (ValueError, UnsupportedAlgorithm):
        raise BuiltinError(f"{name}: failed to parse a PEM {kind.decode().lower()}") from None
    raise BuiltinError(f"{name}: failed to extract a Key from the PEM certificate")


def _number(name: str, jwk: dict[str, Any], member: str) -> int:
    return int.from_bytes(_bytes(name, jwk, member), "big")


def _bytes(name: str, jwk: dict[str, Any], member: str) -> bytes:
    value = jwk.get(member)
    if not isinstance(value, str):
        raise BuiltinError(f"{name}: failed to parse a JWK key (set): missing {member}")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise BuiltinError(f"{name}: failed to parse a JWK key (set): bad {member}") from None


def _jwk_key(name: str, jwk: Any) -> Any:
    """One JWK's key (RSA, EC, OKP Ed25519; an ``oct`` key is its bytes, which verify nothing)."""
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kty"), str):
        raise BuiltinError(f"{name}: failed to parse a JWK key (set): invalid key type")
    kind = jwk["kty"]
    try:
        if kind == "RSA":
            return rsa.RSAPublicNumbers(_number(name, jwk, "e"), _number(name, jwk, "n")).public_key()
        if kind == "EC":
            curve = _CURVES.get(jwk.get("crv"))  # type: ignore[arg-type]
            if curve is None:
                raise BuiltinError(f"{name}: failed to parse a JWK key (set): unsupported curve")
            return ec.EllipticCurvePublicNumbers(_number(name, jwk, "x"), _number(name, jwk, "y"), curve).public_key()
        if kind == "OKP" and jwk.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(_bytes(name, jwk, "x"))
        if kind == "oct":
            return _bytes(name, jwk, "k")
    except ValueError:
        raise BuiltinError(f"{name}: failed to parse a JWK key (set): invalid key") from None
    raise BuiltinError(f"{name}: failed to parse a JWK key (set): unsupported key type {kind}")


def _keys(name: str, text: str) -> list[tuple[Any, str, str]]:
    """(key, alg, kid) of every key the text holds."""
    pem = _pem_key(name, text.encode())
    if pem is not None:
        return pem
    try:
        document = json.loads(text)
    except ValueError:
        raise BuiltinError(f"{name}: failed to parse a JWK key (set): invalid JSON") from None
    members = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
    if not isinstance(members, list):
        raise BuiltinError(f"{name}: failed to parse a JWK key (set): keys is not an array")
    keys = []
    for jwk in members:
        key = _jwk_key(name, jwk)
        alg, kid = jwk.get("alg", ""), jwk.get("kid", "")
        if not isinstance(alg, str) or (alg and alg not in JWA_ALGORITHMS) or not isinstance(kid, str):
            raise BuiltinError(f"{name}: failed to parse a JWK key (set): invalid alg or kid")
        if not alg or alg in KNOWN_ALGORITHMS:  # a key for another use (RSA-OAEP ...) is skipped
            keys.append((key, alg, kid))
    return keys


def _header(name: str, encoded: str) -> tuple[str, str]:
    """The header's ``alg`` and ``kid``, after OPA's checks of it."""
    header = jose_header(name, encoded)
    for member in ("alg", "kid", "typ", "cty"):
        if member in header and not isinstance(header[member], str):
            raise BuiltinError(f"{name}: {member}: must be a string")
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list):
            raise BuiltinError(f"{name}: crit: must be a list")
        if not [item for item in crit if isinstance(item, str)]:
            raise BuiltinError(f"{name}: crit: must be a nonempty list")
    return header.get("alg", ""), header.get("kid", "")


def _verify(name: str, check: Verifier, token: Any, key_text: Any) -> bool:
    encoded_header, encoded_payload, encoded_signature = jws_parts(name, operand(name, 1, token, str))
    keys = _keys(name, operand(name, 2, key_text, str))
    signature = base64url_bytes(name, encoded_signature)
    alg, kid = _header(name, encoded_header)
    signed = f"{encoded_header}.{encoded_payload}".encode()
    if kid:
        matching = next((key for key, _, key_id in keys if key_id == kid), None)
        if matching is not None:
            return check(matching, signed, signature)
    return any(check(key, signed, signature) for key, key_alg, _ in keys if not key_alg or key_alg == alg)


def _rsa(hash_type: type[hashes.HashAlgorithm], pss: bool) -> Verifier:
    def check(key: Any, signed: bytes, signature: bytes) -> bool:
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        scheme = padding.PSS(padding.MGF1(hash_type()), padding.PSS.AUTO) if pss else padding.PKCS1v15()
        try:
            key.verify(signature, signed, scheme, hash_type())
        except (InvalidSignature, ValueError):
            return False
        return True

    return check


def _ecdsa(hash_type: type[hashes.HashAlgorithm]) -> Verifier:
    def check(key: Any, signed: bytes, signature: bytes) -> bool:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        half = len(signature) // 2
        r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        digest = hashes.Hash(hash_type())
        digest.update(signed)
        try:
            key.verify(utils.encode_dss_signature(r, s), digest.finalize(), ec.ECDSA(utils.Prehashed(hash_type())))
        except (InvalidSignature, ValueError):
            return False
        return True

    return check


def _eddsa(key: Any, signed: bytes, signature: bytes) -> bool:
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return False
    try:
        key.verify(signature, signed)
    except (InvalidSignature, ValueError):
        return False
    return True


def _register(name: str, check: Verifier) -> None:
    builtin(name, 2)(lambda token, key: _verify(name, check, token, key))


for _bits, _hash in (("256", hashes.SHA256), ("384", hashes.SHA384), ("512", hashes.SHA512)):
    _register(f"io.jwt.verify_rs{_bits}", _rsa(_hash, pss=False))
    _register(f"io.jwt.verify_ps{_bits}", _rsa(_hash, pss=True))
    _register(f"io.jwt.verify_es{_bits}", _ecdsa(_hash))
_register("io.jwt.verify_eddsa", _eddsa)
