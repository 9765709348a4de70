"""OPA's built-ins where regorus lacks them or answers otherwise, as regorus extensions (Python).

regorus (the default engine) misses some of OPA v1's built-ins (``crypto.sha256``, ...) and
answers a few differently from OPA (``sprintf`` hands Go's fmt whole numbers as int64 in OPA,
``json.marshal`` escapes ``<>&``, ``upper("ß")`` is ``ß``). Each such built-in is one registered :class:`OpaBuiltin` (one module per family:
:mod:`.strings`, :mod:`.encoding`, :mod:`.crypto`, :mod:`.collections`, :mod:`.numbers`, :mod:`.semver`,
:mod:`.times`, :mod:`.glob`, :mod:`.glob_intersection`, :mod:`.net`, :mod:`.tokens`, :mod:`.token_keys`,
:mod:`.certificates`), installed on every
regorus interpreter with ``add_extension``, which replaces regorus's own built-in of that name.

regorus hands an extension its arguments as Python values, so one holding a set of objects
(unhashable in Python) fails: ``json.marshal`` or ``sprintf`` of such a set is an error here
(docs/rego.md). regorus's compiled VM takes no extensions, so a package that calls one of them is answered by the
interpreter: always for :data:`OVERRIDDEN` built-ins that differ on any input, and for
:data:`UNICODE_SENSITIVE` ones (same answer as OPA on ASCII text) only when the package's source
or the input holds a non-ASCII character (see :mod:`engine.rego.regorus_engine`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regorus


@dataclass(frozen=True)
class OpaBuiltin:
    """One built-in with OPA's semantics: its Rego name, arity and implementation."""

    name: str
    arity: int
    function: Callable[..., Any]
    unicode_only: bool = False  # regorus agrees with OPA on ASCII text


BUILTINS: dict[str, OpaBuiltin] = {}


class BuiltinError(Exception):
    """A built-in refused its operands: OPA's message (``lower: operand 1 must be string but got number``)."""


def builtin(name: str, arity: int, unicode_only: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``function`` as OPA's built-in ``name``."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        BUILTINS[name] = OpaBuiltin(name, arity, function, unicode_only)
        return function

    return register


def type_name(value: Any) -> str:
    """OPA's name of a value's type in its error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "set"


def operand(name: str, position: int, value: Any, *kinds: type) -> Any:
    """``value`` if it is one of ``kinds``, else OPA's operand error."""
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return value
    wanted = " or ".join(type_name(kind()) if kind is not type(None) else "null" for kind in kinds)
    raise BuiltinError(f"{name}: operand {position} must be {wanted} but got {type_name(value)}")


def install(interpreter: regorus.Engine) -> None:
    """Give ``interpreter`` every built-in of :data:`BUILTINS` (they replace regorus's of the same name)."""
    for entry in BUILTINS.values():
        interpreter.add_extension(entry.name, entry.arity, entry.function)


from engine.rego.opa_builtins import (  # noqa: E402  (they register)
    certificates,
    collections,
    crypto,
    encoding,
    glob,
    glob_intersection,
    net,
    numbers,
    semver,
    strings,
    times,
    token_keys,
    tokens,
)

# OPA v1.20's built-ins that regorus 0.13 lacks and arcpolicy does not provide: a policy calling one
# is reported not evaluated (engine.rego.references), naming the engines that have it. Their OPA
# answers are Go-specific shapes (private-key lists and x509 verification with options, io.jwt.decode_verify
# and the JWT signers, GraphQL parsers, Go templates, AST JSON, Go's url.Parse) or need the network
# (net.lookup_ip_addr). rego.metadata.rule|chain are answered from METADATA where the
# annotations are plain (engine.rego.metadata_calls), and reported like these otherwise.
NOT_PROVIDED = frozenset({
    "crypto.parse_private_keys", "crypto.x509.parse_and_verify_certificates_with_options", "graphql.is_valid",
    "graphql.parse", "graphql.parse_and_verify", "graphql.parse_query", "graphql.parse_schema", "graphql.schema_is_valid", "io.jwt.decode_verify", "io.jwt.encode_sign", "io.jwt.encode_sign_raw",
    "net.lookup_ip_addr", "providers.aws.sign_req", "rego.metadata.chain",
    "rego.metadata.rule", "rego.parse_module", "strings.render_template", "uri.is_valid",
    "uri.parse",
})
OVERRIDDEN = frozenset(name for name, entry in BUILTINS.items() if not entry.unicode_only)
UNICODE_SENSITIVE = frozenset(name for name, entry in BUILTINS.items() if entry.unicode_only)

__all__ = ["BUILTINS", "NOT_PROVIDED", "OVERRIDDEN", "UNICODE_SENSITIVE", "BuiltinError", "OpaBuiltin", "builtin",
           "certificates", "collections", "crypto", "encoding", "glob", "glob_intersection", "install", "net", "numbers",
           "operand", "semver", "strings", "times", "token_keys", "tokens"]
