"""OPA's ``json.marshal`` (Go's encoder: ``<``, ``>``, ``&`` escaped as ``\\u003c`` ...) and ``base64.decode``."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand

_SURROGATE = re.compile("[\udc80-\udcff]")
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes OPA's values: sets as sorted arrays, keys sorted, HTML-safe."""
    text = json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    for raw, escaped in _HTML_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=_order)
    if isinstance(value, dict):
        return {key if isinstance(key, str) else go_json(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _order(value: Any) -> tuple[int, Any]:
    """Rego's order of values: null < booleans < numbers < strings < arrays < objects < sets."""
    rank = [type(None), bool, (int, float), str, list, dict].index(
        next(kind for kind in [type(None), bool, (int, float), str, list, dict]
             if isinstance(value, kind) and not (kind == (int, float) and isinstance(value, bool))))
    return rank, json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


@builtin("json.marshal", 1)
def marshal(value: Any) -> str:
    return go_json(value)


@builtin("base64.decode", 1)
def decode(text: Any) -> str:
    """Go decodes padded standard base64 (skipping line breaks); each byte that is not UTF-8 becomes one U+FFFD.

    (OPA keeps Go's raw bytes and its JSON output replaces each invalid byte; Python's "replace"
    would merge a truncated sequence into one U+FFFD.)
    """
    encoded = operand("base64.decode", 1, text, str).replace("\r", "").replace("\n", "")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BuiltinError("base64.decode: illegal base64 data") from None
    return _SURROGATE.sub("\ufffd", raw.decode("utf-8", errors="surrogateescape"))
