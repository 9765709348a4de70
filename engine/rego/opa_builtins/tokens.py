"""OPA's ``io.jwt.decode`` and ``io.jwt.verify_hs256/384/512`` (regorus lacks them): JWS compact tokens only.

A part is base64url as OPA decodes it (padding added where missing, line breaks skipped, a length of 1 mod 4
refused), its JSON as Go's decoder reads it (each byte that is not UTF-8 and each lone surrogate becomes
U+FFFD, duplicate keys keep the last). The signature verifiers on keys (RS, PS, ES, EdDSA) are in
:mod:`.token_keys`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand

_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone surrogate, or a byte kept by surrogateescape
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?")


def base64url_bytes(name: str, text: str) -> bytes:
    """OPA's base64url.decode on bytes: RFC 7515's padding added, then Go's padded URL decoder."""
    if not text.endswith("="):
        if len(text) % 4 == 1:
            raise BuiltinError(f"{name}: illegal base64url string: {text}")
        text += "=" * (-len(text) % 4)
    encoded = text.replace("\r", "").replace("\n", "")
    if len(encoded) % 4 or not _BASE64URL.fullmatch(encoded):
        raise BuiltinError(f"{name}: illegal base64 data")
    try:
        return base64.urlsafe_b64decode(encoded)
    except (binascii.Error, ValueError):
        raise BuiltinError(f"{name}: illegal base64 data") from None


def _go_text(value: Any) -> Any:
    """Lone surrogates (from ``\\ud800`` escapes) become U+FFFD, as Go's decoder makes them."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_go_text(item) for item in value]
    if isinstance(value, dict):
        return {_go_text(key): _go_text(item) for key, item in value.items()}
    return value


def _refuse_constant(text: str) -> None:
    raise ValueError(text)  # NaN and Infinity are not JSON for Go


def json_object(name: str, raw: bytes, part: str) -> dict[str, Any]:
    try:
        value = json.loads(_SURROGATE.sub("\ufffd", raw.decode("utf-8", errors="surrogateescape")),
                           parse_constant=_refuse_constant)
    except ValueError:
        raise BuiltinError(f"{name}: JWT {part}: invalid JSON") from None
    if not isinstance(value, dict):
        raise BuiltinError(f"{name}: JWT {part}: decoded JSON type was not an Object")
    return _go_text(value)


def jws_parts(name: str, token: Any) -> list[str]:
    text = operand(name, 1, token, str)
    if "." not in text:
        raise BuiltinError(f"{name}: encoded JWT had no period separators")
    parts = text.split(".")
    if len(parts) != 3:
        raise BuiltinError(f"{name}: encoded JWT must have 3 sections, found {len(parts)}")
    return parts


def jose_header(name: str, encoded: str) -> dict[str, Any]:
    """A token's header (its first part) as OPA reads it; a JWE header (``enc``) is refused."""
    header = json_object(name, base64url_bytes(name, encoded), "header")
    if "enc" in header:
        raise BuiltinError(f"{name}: JWT is a JWE object, which is not supported")
    return header


@builtin("io.jwt.decode", 1)
def decode(token: Any) -> list[Any]:
    """[header, payload, signature as hex]; a header with ``"cty": "JWT"`` holds a nested token in its payload
    (quotes around it trimmed), which is decoded instead; a JWE header (``enc``) is refused."""
    name = "io.jwt.decode"
    encoded_header, encoded_payload, encoded_signature = jws_parts(name, token)
    header = jose_header(name, encoded_header)
    payload = base64url_bytes(name, encoded_payload)
    if "cty" in header:
        if not isinstance(header["cty"], str):
            raise BuiltinError(f"{name}: JWT header cty must be a string")
        if header["cty"] == "JWT":
            return decode(_SURROGATE.sub("\ufffd", payload.decode("utf-8", errors="surrogateescape")).strip("\"'"))
    claims = json_object(name, payload, "payload")
    return [header, claims, base64url_bytes(name, encoded_signature).hex()]


def _verify_hs(name: str, digest: Callable[..., Any], token: Any, secret: Any) -> bool:
    """The HMAC of ``header.payload`` (as written) under the secret equals the signature; the header is not read."""
    token_text = operand(name, 1, token, str)
    secret_text = operand(name, 2, secret, str)
    encoded_header, encoded_payload, encoded_signature = jws_parts(name, token_text)
    expected = hmac.new(secret_text.encode(), f"{encoded_header}.{encoded_payload}".encode(), digest).digest()
    return hmac.compare_digest(base64url_bytes(name, encoded_signature), expected)


@builtin("io.jwt.verify_hs256", 2)
def verify_hs256(token: Any, secret: Any) -> bool:
    return _verify_hs("io.jwt.verify_hs256", hashlib.sha256, token, secret)


@builtin("io.jwt.verify_hs384", 2)
def verify_hs384(token: Any, secret: Any) -> bool:
    return _verify_hs("io.jwt.verify_hs384", hashlib.sha384, token, secret)


@builtin("io.jwt.verify_hs512", 2)
def verify_hs512(token: Any, secret: Any) -> bool:
    return _verify_hs("io.jwt.verify_hs512", hashlib.sha512, token, secret)
