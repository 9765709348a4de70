"""The base of the records stages hand each other: camelCase on the wire, snake_case in Python.

Policy states, plans and apply results are read by tools that expect Azure's JSON casing, so
each serialises with :meth:`ContractModel.to_json` while code uses Python names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ContractModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (camelCase keys, no nulls)."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)
