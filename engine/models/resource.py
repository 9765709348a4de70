"""The generic ARM resource, exactly as ARM GET and Resource Graph return it.

Policies read arbitrary properties, so unknown fields are kept (``extra="allow"``) and
:meth:`Resource.to_arm` gives back the JSON that was read, key for key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from engine import ids


class ArmModel(BaseModel):
    """Base of every ARM-shaped model: camelCase on the wire, unknown keys preserved."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_arm(self) -> dict[str, Any]:
        """The ARM JSON of this model (only the keys that were present)."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


class Resource(ArmModel):
    """Any ARM resource: the common envelope plus free-form ``properties``."""

    id: str
    type: str
    name: str = ""
    location: str | None = None
    tags: dict[str, str] | None = None
    kind: str | None = None
    identity: dict[str, Any] | None = None
    system_data: dict[str, Any] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_is_arm_id(cls, value: str) -> str:
        ids.parse_resource_id(value)  # raises ResourceIdError (a ValueError) when malformed
        return value

    @property
    def resource_id(self) -> ids.ResourceId:
        return ids.parse_resource_id(self.id)

    @property
    def type_key(self) -> str:
        """The lower-case type, for case-insensitive comparisons."""
        return ids.normalize(self.type)

    @property
    def subscription_id(self) -> str | None:
        return self.resource_id.subscription_id

    @property
    def resource_group(self) -> str | None:
        return self.resource_id.resource_group

    def is_type(self, resource_type: str) -> bool:
        return self.type_key == ids.normalize(resource_type)
