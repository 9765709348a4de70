"""OPA's ``json.marshal`` (Go's encoder: ``<``, ``>``, ``&`` escaped as ``\\u003c`` ...), ``base64.decode``,
``urlquery.encode`` / ``encode_object`` / ``decode`` (Go's net/url), and ``json.is_valid`` / ``yaml.is_valid``
(false for a value that is not a string)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from typing import Any

import regorus

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


def _query_escape(text: str) -> str:
    """Go's url.QueryEscape: every byte but ``A-Za-z0-9-_.~`` as %XX, space as ``+`` (regorus escapes ``~``)."""
    return urllib.parse.quote_plus(text, safe="")


@builtin("urlquery.encode", 1)
def urlquery_encode(text: Any) -> str:
    return _query_escape(operand("urlquery.encode", 1, text, str))


@builtin("urlquery.encode_object", 1)
def urlquery_encode_object(values: Any) -> str:
    """Go's url.Values.Encode: keys sorted, each value (a string, or each of an array's or a set's) as key=value."""
    pairs = []
    document = operand("urlquery.encode_object", 1, values, dict)
    keys = {key if isinstance(key, str) else json.dumps(key, default=list): key for key in document}  # others as text
    for text in sorted(keys):
        value = document[keys[text]]
        items = value if isinstance(value, list | set | frozenset) else [value]
        if not all(isinstance(item, str) for item in items):
            raise BuiltinError("urlquery.encode_object: operand 1 values must be string, array[string], or set[string]")
        pairs += [f"{_query_escape(text)}={_query_escape(item)}"
                  for item in (sorted(items) if isinstance(value, set | frozenset) else items)]
    return "&".join(pairs)


@builtin("urlquery.decode", 1)
def urlquery_decode(text: Any) -> str:
    """Go's url.QueryUnescape: ``+`` is a space, a ``%`` without two hex digits is an error (regorus keeps it)."""
    text = operand("urlquery.decode", 1, text, str)
    bad = re.search(r"%(?![0-9A-Fa-f]{2})", text)
    if bad:
        raise BuiltinError(f'urlquery.decode: invalid URL escape "{text[bad.start():bad.start() + 3]}"')
    return urllib.parse.unquote_plus(text, errors="replace")


@builtin("urlquery.decode_object", 1)
def urlquery_decode_object(text: Any) -> dict[str, list[str]]:
    """Go's url.ParseQuery: ``&``-separated ``key=value`` pairs (no value: ``""``), each decoded as
    ``urlquery.decode`` does, values of one key in order; an invalid escape is an error (regorus keeps it)."""
    decoded: dict[str, list[str]] = {}
    for pair in operand("urlquery.decode_object", 1, text, str).split("&"):
        if not pair:
            continue
        if ";" in pair:
            raise BuiltinError("urlquery.decode_object: invalid semicolon separator in query")
        key, _, value = pair.partition("=")
        try:
            decoded.setdefault(urlquery_decode(key), []).append(urlquery_decode(value))
        except BuiltinError as error:
            raise BuiltinError(str(error).replace("urlquery.decode:", "urlquery.decode_object:")) from None
    return decoded


def _refuse_constant(text: str) -> None:
    raise ValueError(text)  # NaN and Infinity are not JSON for Go


@builtin("json.is_valid", 1)
def json_is_valid(text: Any) -> bool:
    """Whether ``text`` is one JSON document, as Go's json.Valid reads it; a value that is not a string is not
    valid (OPA's false, where regorus's own built-in is undefined)."""
    if not isinstance(text, str):
        return False
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return False
    return True


_YAML_READER = regorus.Engine()


@builtin("yaml.is_valid", 1)
def yaml_is_valid(text: Any) -> bool:
    """A string is valid where regorus's own YAML reader takes it; a value that is not a string is not valid (OPA's
    false, where regorus's own built-in is undefined)."""
    if not isinstance(text, str):
        return False
    _YAML_READER.set_input_json(json.dumps(text))
    return bool(json.loads(_YAML_READER.eval_query_as_json("x := yaml.is_valid(input)"))["result"][0]["bindings"]["x"])
