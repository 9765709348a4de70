"""The base of the records stages hand each other: camelCase on the wire, snake_case in Python.

Policy states, plans and apply results are read by tools that expect Azure's JSON casing, so
each serialises with :meth:`ContractModel.to_json` while code uses Python names.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ContractModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (camelCase keys, no nulls)."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


Model = TypeVar("Model", bound=BaseModel)

_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(model: type[Model], values: dict[str, Any], fields: set[str]) -> Model:
    """``model.model_construct(**values)`` for ``values`` naming every field (``fields``), without its overhead:
    for records built from values already known valid (evaluation's verdicts, a scan's clusters), by the
    thousand per second."""
    instance = _new(model)
    _set_dict(instance, values)
    _set_fields(instance, fields)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance
