"""An assignment's ``resourceSelectors`` and ``overrides`` and an exemption's ``resourceSelectors``.

Docs "Azure Policy assignment structure" (Resource selectors, Overrides) and "exemption structure":
a resource selector's ``selectors`` all hold for a resource it selects, and an assignment (or exemption)
with resource selectors applies to the resources any of them selects. A selector names a ``kind``
(``resourceLocation``, ``resourceType``, ``resourceWithoutLocation``; for overrides
``policyDefinitionReferenceId``) and ``in`` or ``notIn`` (up to 50 values). Locations compare as location
fields do (whitespace removed, case folded); a resource without a location is in no location list.
``resourceWithoutLocation`` knows one value, ``subscriptionLevelResources``: the resources above resource
groups that have no location. A ``policyEffect`` override replaces the effect of the members its selectors
pick (every member without one); overrides apply in the order written, the first that picks a resource
deciding. ``policyVersion`` overrides change nothing offline: arcpolicy evaluates the definition it loaded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from engine.azure_policy.fields import normalized_location

RESOURCE_KINDS = frozenset({"resourceLocation", "resourceType", "resourceWithoutLocation"})
MAX_VALUES = 50  # "Can contain up to 50 values"
MAX_SELECTORS = 10  # "up to 10 resourceSelectors", "up to 10 overrides"
SUBSCRIPTION_LEVEL = "subscriptionlevelresources"


class Selector(BaseModel):
    """One ``{"kind": ..., "in" | "notIn": [...]}``."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: Literal["resourceLocation", "resourceType", "resourceWithoutLocation", "policyDefinitionReferenceId"]
    in_: list[str] | None = Field(None, alias="in", max_length=MAX_VALUES)
    not_in: list[str] | None = Field(None, alias="notIn", max_length=MAX_VALUES)
    _listed: frozenset[str] = PrivateAttr(frozenset())  # the list normalized once, not per resource

    @model_validator(mode="after")
    def _in_or_not_in(self) -> Selector:
        if (self.in_ is None) == (self.not_in is None):
            raise ValueError("a selector has either 'in' or 'notIn'")
        return self

    def model_post_init(self, context: Any) -> None:
        self._listed = frozenset(_normalized(self.kind, item)
                                 for item in (self.in_ if self.in_ is not None else self.not_in or []))

    def holds(self, value: str | None) -> bool:
        """Whether ``value`` (already normalized; None: the resource has none) passes the selector."""
        return (value in self._listed) == (self.in_ is not None)

    def holds_for(self, resource: dict[str, Any]) -> bool:
        return self.holds(resource_value(self.kind, resource))


def _normalized(kind: str, value: str) -> str:
    return normalized_location(value) if kind == "resourceLocation" else value.lower()


def resource_value(kind: str, resource: dict[str, Any]) -> str | None:
    """What a resource selector kind reads of ``resource``."""
    if kind == "resourceType":
        return str(resource.get("type", "")).lower()
    location = resource.get("location")
    if kind == "resourceLocation":
        return normalized_location(location) if isinstance(location, str) and location.strip() else None
    above_groups = "/resourcegroups/" not in str(resource.get("id", "")).lower()
    return SUBSCRIPTION_LEVEL if above_groups and not location else None


def _distinct_kinds(selectors: list[Selector]) -> list[Selector]:
    kinds = [selector.kind for selector in selectors]
    if len(set(kinds)) != len(kinds):
        raise ValueError("each kind can only be used once in a single resource selector")
    if {"resourceLocation", "resourceWithoutLocation"} <= set(kinds):
        raise ValueError("resourceLocation can't be used in the same selector as resourceWithoutLocation")
    return selectors


class ResourceSelector(BaseModel):
    """``{"name": ..., "selectors": [...]}``: the resources every selector passes."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: str
    selectors: list[Selector] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kinds(self) -> ResourceSelector:
        _distinct_kinds(self.selectors)
        if any(selector.kind not in RESOURCE_KINDS for selector in self.selectors):
            raise ValueError(f"a resource selector's kinds are {', '.join(sorted(RESOURCE_KINDS))}")
        return self

    def selects(self, resource: dict[str, Any]) -> bool:
        return all(selector.holds_for(resource) for selector in self.selectors)


def selected(resource_selectors: list[ResourceSelector], resource: dict[str, Any]) -> bool:
    """Whether an assignment or exemption with these resource selectors applies to ``resource``."""
    return not resource_selectors or any(selector.selects(resource) for selector in resource_selectors)


class Override(BaseModel):
    """``{"kind": "policyEffect" | "policyVersion", "value": ..., "selectors": [...]}``."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: Literal["policyEffect", "policyVersion"]
    value: str
    selectors: list[Selector] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kinds(self) -> Override:
        _distinct_kinds(self.selectors)
        allowed = {"policyDefinitionReferenceId", "resourceLocation"} if self.kind == "policyEffect" \
            else {"resourceLocation"}
        if any(selector.kind not in allowed for selector in self.selectors):
            raise ValueError(f"a {self.kind} override's selector kinds are {', '.join(sorted(allowed))}")
        return self

    def picks_member(self, reference_id: str | None) -> bool:
        """Whether its ``policyDefinitionReferenceId`` selector (if any) picks this member."""
        return all(selector.holds(None if reference_id is None else reference_id.lower())
                   for selector in self.selectors if selector.kind == "policyDefinitionReferenceId")

    @property
    def locations(self) -> Selector | None:
        return next((selector for selector in self.selectors if selector.kind == "resourceLocation"), None)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def overridden_effect(effect: Any, overrides: list[Override], reference_id: str | None) -> Any:
    """``then.effect`` as the assignment's ``policyEffect`` overrides make it for one member: the first
    picking every resource gives its value; those picking by location become an ``if()`` over the resource's
    location, in their order, before it."""
    result = effect
    for override in reversed([item for item in overrides if item.kind == "policyEffect" and item.picks_member(
            reference_id)]):
        locations = override.locations
        if locations is None:
            result = override.value
            continue
        listed = ", ".join(_quoted(normalized_location(item)) for item in (locations.in_ or locations.not_in or []))
        test = f"contains(createArray({listed}), toLower(replace(string(field('location')), ' ', '')))"
        if locations.not_in is not None:
            test = f"not({test})"
        otherwise = result[1:-1] if isinstance(result, str) and result.startswith("[") and not result.startswith(
            "[[") else _quoted(str(result))
        result = f"[if({test}, {_quoted(override.value)}, {otherwise})]"
    return result
