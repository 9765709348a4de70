"""Reading the JSON files users give arcpolicy: any problem is one InputError naming file and place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from engine.errors import InputError
from engine.limits import MAX_JSON_DEPTH, too_deep


def read_json(path: str | Path, what: str = "file") -> Any:
    """The parsed document at ``path``; ``what`` (e.g. "facts file") names it in messages."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), f"{what} not found") from None
    except IsADirectoryError:
        raise InputError(str(path), f"is a directory, expected a {what}") from None
    except OSError as error:
        raise InputError(str(path), f"cannot read the {what}: {error.strerror}") from None
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError as error:
        raise InputError(str(path), f"malformed JSON: {error.msg}",
                         location=f"line {error.lineno} column {error.colno}") from None
    if too_deep(content, document):
        raise InputError(str(path), f"objects and arrays nested more than {MAX_JSON_DEPTH} levels deep")
    return document
