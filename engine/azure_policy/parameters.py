"""Parameter resolution: assignment values checked against the definition's declarations.

Values are checked for their declared type and ``allowedValues``, and an object given by the assignment
against the declaration's ``schema`` (docs "definition structure parameters": "validation of parameter inputs
during assignment using a self-defined JSON schema", Json.NET Schema's 2019-09 draft); a missing value takes the
``defaultValue``; a required parameter without a value, an undeclared one, or a value outside
``allowedValues`` is an :class:`InputError` naming the assignment and the parameter. The values
of secret parameters (:mod:`engine.azure_policy.secure`) are remembered for masking and never shown.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.azure_policy.documents import ParameterDefinition
from engine.errors import InputError
from engine.secret_values import MASK, remember


def _is_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return isinstance(value, str)


TYPE_CHECKS = {
    "string": lambda value: isinstance(value, str),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "float": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "datetime": _is_datetime,
}


def resolve_parameters(declared: dict[str, ParameterDefinition], given: dict[str, Any], owner: str,
                       source: str, secure: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The value of every declared parameter; ``owner`` names the assignment in errors, ``secure``
    the (lower-case) names of the secret ones."""
    declared_by_key = {name.lower(): name for name in declared}
    for name in given:
        if name.lower() not in declared_by_key:
            raise InputError(source, f"{owner}: parameter '{name}' is not declared by the definition "
                                     f"(declared: {', '.join(declared) or 'none'})", location=f"parameters.{name}")
    given_by_key = {name.lower(): value for name, value in given.items()}
    resolved: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name.lower() in given_by_key:
            value = given_by_key[name.lower()]
        elif declaration.has_default:
            value = declaration.default_value
        else:
            raise InputError(source, f"{owner}: required parameter '{name}' has no value and no defaultValue",
                             location=f"parameters.{name}")
        if name.lower() in secure:
            remember(value)
        check_parameter(name, declaration, value, owner, source, name.lower() in secure)
        if declaration.json_schema is not None and name.lower() in given_by_key:
            check_schema(name, declaration.json_schema, value, owner, source, name.lower() in secure)
        resolved[name] = value
    return resolved


def check_schema(name: str, schema: dict[str, Any], value: Any, owner: str, source: str, secret: bool) -> None:
    """Refuse an assigned value its declaration's JSON schema does not accept, naming where inside it."""
    from jsonschema import Draft201909Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft201909Validator.check_schema(schema)
    except SchemaError as error:
        raise InputError(source, f"{owner}: the schema of parameter '{name}' is not a JSON schema: {error.message}",
                         location=f"parameters.{name}.schema") from None
    problem = next(iter(Draft201909Validator(schema).iter_errors(value)), None)
    if problem is not None:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem.absolute_path)
        raise InputError(source, f"{owner}: parameter '{name}' does not match its schema"
                                 f"{' at ' + where.lstrip('.') if where else ''}: "
                                 f"{'a value is refused' if secret else problem.message}",
                         location=f"parameters.{name}")


def _exact(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def check_parameter(name: str, declaration: ParameterDefinition, value: Any, owner: str, source: str,
                    secret: bool = False) -> None:
    type_check = TYPE_CHECKS.get(declaration.type.lower())
    if type_check is None:
        raise InputError(source, f"{owner}: parameter '{name}' has unknown type '{declaration.type}'",
                         location=f"parameters.{name}.type")
    if not type_check(value):
        raise InputError(source, f"{owner}: parameter '{name}' must be of type {declaration.type}",
                         location=f"parameters.{name}", value=MASK if secret else value)
    if declaration.allowed_values:  # an empty list restricts nothing (built-ins ship "allowedValues": [])
        # docs "definition structure parameters": "Allowed value comparisons are case-sensitive when assigning a
        # policy" (values of another kind compare as JSON: 1 is not "1", true is not 1)
        allowed = {_exact(item) for item in declaration.allowed_values}
        items = value if isinstance(value, list) and not any(isinstance(item, list)
                                                              for item in declaration.allowed_values) else [value]
        for item in items:
            if _exact(item) not in allowed:
                raise InputError(source, f"{owner}: parameter '{name}' is not one of the allowedValues "
                                         f"{declaration.allowed_values}", location=f"parameters.{name}", value=MASK if secret else item)
