"""Encoding functions of the string page (templates/template-functions-string): base64, data URIs and
URIs, with .NET's rules (``uriComponent`` escapes as ``Uri.EscapeDataString``; ``uri`` resolves a
relative URI against a base as RFC 3986 section 5 says)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes, urljoin, urlsplit

from engine.expressions.functions.values import parse_json
from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.expressions.registry import OBJECT, TEXT, EvaluationError


@F.function("base64", 1, 1, takes=(TEXT,))
def _base64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _decoded(value: str, function: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise EvaluationError(f"{function}(): not a base64 value") from None


@F.function("base64ToString", 1, 1, takes=(TEXT,))
def _base64_to_string(value: str) -> str:
    return _decoded(value, "base64ToString").decode()


@F.function("base64ToJson", 1, 1, takes=(TEXT,))
def _base64_to_json(value: str) -> Any:
    return parse_json(_decoded(value, "base64ToJson").decode(), "base64ToJson")


@F.function("dataUri", 1, 1, takes=(TEXT,))
def _data_uri(value: str) -> str:
    """``dataUri('Hello')`` is ``data:text/plain;charset=utf8;base64,SGVsbG8=``."""
    return "data:text/plain;charset=utf8;base64," + base64.b64encode(value.encode()).decode()


_DATA_URI = re.compile(r"^data:(?P<media>[^,]*?)(?P<base64>;base64)?,(?P<data>.*)$", re.DOTALL | re.IGNORECASE)


@F.function("dataUriToString", 1, 1, takes=(TEXT,))
def _data_uri_to_string(value: str) -> str:
    """The text of a data URI (``data:;base64,SGVsbG8sIFdvcmxkIQ==`` is ``Hello, World!``): base64 or
    percent-encoded, in its charset (UTF-8 when it names none)."""
    match = _DATA_URI.match(value)
    if match is None:
        raise EvaluationError("dataUriToString(): not a data URI ('data:[<media type>][;base64],<data>')")
    charset = next((parameter.split("=", 1)[1] for parameter in match["media"].split(";")
                    if parameter.lower().startswith("charset=")), "utf-8")
    payload = _decoded(match["data"], "dataUriToString") if match["base64"] else unquote_to_bytes(match["data"])
    try:
        return payload.decode("utf-8" if charset.lower().replace("-", "") == "utf8" else charset)
    except LookupError:
        raise EvaluationError(f"dataUriToString(): unknown charset '{charset[:40]}'") from None


@F.function("uri", 2, 2, takes=(TEXT,))
def _uri(base: str, relative: str) -> str:
    """``relative`` resolved against ``base``: after a trailing slash it is appended, otherwise it
    replaces the base's last segment (template-functions-string#uri)."""
    if not urlsplit(base).scheme:
        raise EvaluationError("uri(): the base is not an absolute URI")
    return urljoin(base if urlsplit(base).path else base + "/", relative)


@F.function("uriComponent", 1, 1, takes=(TEXT,))
def _uri_component(value: str) -> str:
    """Every character but the unreserved ones (letters, digits, ``-._~``) percent-encoded."""
    return quote(value, safe="")


@F.function("uriComponentToString", 1, 1, takes=(TEXT,))
def _uri_component_to_string(value: str) -> str:
    return unquote(value)


@F.function("parseUri", 1, 1, takes=(TEXT,))
def _parse_uri(value: str) -> dict[str, Any]:
    """The parts of an absolute URI as .NET's ``Uri`` names them: scheme, host, port (the scheme's default
    when none is written), path and query (with its ``?``)."""
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        raise EvaluationError("parseUri(): not an absolute URI")
    port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme.lower(), -1)
    return {"scheme": parts.scheme.lower(), "host": parts.hostname or "", "port": port,
            "path": parts.path or "/", "query": f"?{parts.query}" if parts.query else ""}


_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}


@F.function("buildUri", 1, 1, takes=(OBJECT,))
def _build_uri(components: dict[str, Any]) -> str:
    """The URI of an object with ``scheme``, ``host`` and optional ``port``, ``path``, ``query`` (the inverse
    of ``parseUri``; a scheme's default port is not written)."""
    parts = {key.lower(): item for key, item in components.items()}
    scheme, host = parts.get("scheme"), parts.get("host")
    if not isinstance(scheme, str) or not isinstance(host, str) or not scheme or not host:
        raise EvaluationError("buildUri() needs 'scheme' and 'host' strings")
    port = parts.get("port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not -1 <= port <= 65535):
        raise EvaluationError("buildUri(): 'port' is an integer from 0 to 65535")
    path = str(parts.get("path") or "")
    query = str(parts.get("query") or "")
    authority = host if port in (None, -1, _DEFAULT_PORTS.get(scheme.lower())) else f"{host}:{port}"
    return (f"{scheme.lower()}://{authority}{path if path.startswith('/') else '/' + path}"
            f"{'' if not query else query if query.startswith('?') else '?' + query}")
