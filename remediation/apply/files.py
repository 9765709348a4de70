"""Reading the JSON files apply is given (plan, secrets): any problem is one InputError line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from engine.errors import InputError


def read_json(path: Path, what: str) -> Any:
    """The parsed document at ``path``; ``what`` names the file in the not-found message."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(str(path), f"{what} not found") from None
    except orjson.JSONDecodeError as error:
        raise InputError(str(path), f"not JSON: {error.msg}", location=f"position {error.pos}") from None
