"""plan.json on disk: written atomically, read back (by apply and the report commands) as a Plan."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import ValidationError

from engine.atomic import atomic_writer
from engine.errors import InputError
from remediation.plan.models import Plan


def plan_json(plan: Plan) -> str:
    return orjson.dumps(plan.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n"


def write_plan(plan: Plan, path: str | Path) -> None:
    with atomic_writer(path) as out:
        out.write(plan_json(plan))


def read_plan(path: str | Path) -> Plan:
    """Read plan.json; raises InputError naming the file and the field when it is not a plan."""
    try:
        return Plan.model_validate_json(Path(path).read_bytes())
    except OSError as error:
        raise InputError(str(path), f"cannot read plan: {error.strerror}") from None
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        raise InputError(str(path), f"not a plan file: {first['msg']}", location=location or None) from None
