"""Loading Azure Policy documents: definitions, initiatives, assignments and exemptions.

Each file holds one object, a list, or an ARM list page ``{"value": [...]}``. Definitions come
as ARM resources (``{"properties": {...}, "id", "name"}``) or bare (``{"policyRule", ...}``);
the other kinds are ARM ``Microsoft.Authorization/*`` resources. Documents are pydantic models:
the contract between loading and compiling (and picklable, so workers compile their own copy).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from engine import ids
from engine.azure_policy.selectors import MAX_SELECTORS, Override, ResourceSelector, selected
from engine.builtin_policies import resolve_builtin
from engine.errors import InputError
from engine.jsonfiles import read_json
from engine.limits import MAX_POLICY_DOCUMENT_BYTES, json_length

DEFINITION_TYPE = "microsoft.authorization/policydefinitions"
SET_DEFINITION_TYPE = "microsoft.authorization/policysetdefinitions"
ASSIGNMENT_TYPE = "microsoft.authorization/policyassignments"
EXEMPTION_TYPE = "microsoft.authorization/policyexemptions"
ATTESTATION_TYPE = "microsoft.policyinsights/attestations"
ATTESTATION_MARKER = "/providers/microsoft.policyinsights/attestations/"
EXEMPTION_MARKER = "/providers/microsoft.authorization/policyexemptions/"
TENANT_SCOPE = "/"


class Document(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    source: str = Field("", exclude=True)
    place: str = Field("", exclude=True)  # where in the file: "item 3" or ""

    @property
    def origin(self) -> str:
        """The file and place to name in errors."""
        return f"{self.source} ({self.place})" if self.place else self.source


class ParameterDefinition(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    type: str = "String"
    default_value: Any = None
    allowed_values: list[Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    json_schema: dict[str, Any] | None = Field(None, alias="schema")  # an object parameter's JSON schema

    @property
    def has_default(self) -> bool:
        return "default_value" in self.model_fields_set


def _distinct_names(parameters: dict[str, ParameterDefinition]) -> dict[str, ParameterDefinition]:
    """Parameter names are case-insensitive (``parameters('Name')`` reads ``name``): two that differ only in
    case are one name declared twice."""
    seen: dict[str, str] = {}
    for name in parameters:
        if name.lower() in seen:
            raise ValueError(f"parameters '{seen[name.lower()]}' and '{name}' differ only in case")
        seen[name.lower()] = name
    return parameters


def documented(value: str, member: str, allowed: tuple[str, ...]) -> str:
    """``value`` when it is one of the values the docs give ``member`` (in any case), else a ValueError naming them."""
    if value.lower() not in {item.lower() for item in allowed}:
        raise ValueError(f"{member} is {' or '.join(allowed)}")
    return value


class PolicyDefinition(Document):
    id: str
    name: str
    display_name: str | None = None
    description: str | None = None
    mode: str = "All"
    parameters: dict[str, ParameterDefinition] = Field(default_factory=dict)
    policy_rule: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)

    _distinct_parameters = field_validator("parameters")(_distinct_names)


class DefinitionReference(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    policy_definition_id: str
    policy_definition_reference_id: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    group_names: list[str] = Field(default_factory=list)


class PolicySetDefinition(Document):
    id: str
    name: str
    display_name: str | None = None
    parameters: dict[str, ParameterDefinition] = Field(default_factory=dict)
    policy_definitions: list[DefinitionReference]

    _distinct_parameters = field_validator("parameters")(_distinct_names)


class PolicyAssignment(Document):
    id: str
    name: str
    display_name: str | None = None
    scope: str = TENANT_SCOPE
    policy_definition_id: str
    parameters: dict[str, Any] = Field(default_factory=dict)  # {name: {"value": ...}} as in ARM
    not_scopes: list[str] = Field(default_factory=list)
    enforcement_mode: str = "Default"
    resource_selectors: list[ResourceSelector] = Field(default_factory=list, max_length=MAX_SELECTORS)
    overrides: list[Override] = Field(default_factory=list, max_length=MAX_SELECTORS)

    # assignment structure, Enforcement mode: the JSON values are Default and DoNotEnforce
    _enforcement_mode = field_validator("enforcement_mode")(lambda value: documented(value, "enforcementMode",
                                                                                     ("Default", "DoNotEnforce")))

    def selects(self, resource: dict[str, Any]) -> bool:
        """Whether its ``resourceSelectors`` (if any) let it evaluate ``resource`` (docs: "Azure Policy only
        evaluates resources that are applicable to the specifications made in the resource selectors")."""
        return selected(self.resource_selectors, resource)

    def parameter_values(self) -> dict[str, Any]:
        """``{name: value}`` from ARM's ``{name: {"value": value}}``."""
        values: dict[str, Any] = {}
        for name, wrapped in self.parameters.items():
            if not isinstance(wrapped, dict) or "value" not in wrapped:
                raise InputError(self.origin, f"assignment '{self.name}': parameter '{name}' must be "
                                              "{\"value\": ...}", location=f"properties.parameters.{name}",
                                 value=wrapped)
            values[name] = wrapped["value"]
        return values


# Exemptions and attestations expiring this soon are named in a warning (Azure lists expiring exemptions too).
DEFAULT_EXPIRY_WARNING = timedelta(days=14)


class Expiring:
    """An exemption or attestation (each declares ``expires_on``): in force until then; a time without
    zone is UTC."""

    kind: ClassVar[str]

    @property
    def expires(self) -> datetime | None:
        expires_on: datetime | None = getattr(self, "expires_on")  # noqa: B009 (a field of the model it mixes into)
        if expires_on is None:
            return None
        return expires_on if expires_on.tzinfo else expires_on.replace(tzinfo=UTC)

    def is_active(self, at: datetime) -> bool:
        expires = self.expires
        return expires is None or expires > at

    def expiry_warning(self, at: datetime, window: timedelta) -> str | None:
        """A line when it has expired (it no longer counts) or expires within ``window`` of ``at``, else None."""
        expires = self.expires
        if expires is None or expires - at > window:
            return None
        name, origin = getattr(self, "name"), getattr(self, "origin")  # noqa: B009 (fields of the model)
        when = expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if expires <= at:
            return f"{self.kind} '{name}' ({origin}) expired on {when}: it no longer applies"
        days = (expires - at).total_seconds() / 86400
        left = f"in {days:.0f} days" if days >= 1.5 else f"in {days * 24:.0f} hours" if days * 24 >= 1.5 else "within the hour"
        return f"{self.kind} '{name}' ({origin}) expires on {when}, {left}"


class PolicyExemption(Document, Expiring):
    kind: ClassVar[str] = "exemption"
    id: str
    name: str
    policy_assignment_id: str
    policy_definition_reference_ids: list[str] = Field(default_factory=list)
    exemption_category: str = "Waiver"
    expires_on: datetime | None = None
    resource_selectors: list[ResourceSelector] = Field(default_factory=list, max_length=MAX_SELECTORS)

    # exemption structure: "Two exemption categories exist", Mitigated and Waiver
    _category = field_validator("exemption_category")(lambda value: documented(value, "exemptionCategory",
                                                                               ("Mitigated", "Waiver")))

    @property
    def scope(self) -> str:
        """The part of the exemption's id before ``/providers/Microsoft.Authorization/policyExemptions/``."""
        position = self.id.lower().find(EXEMPTION_MARKER)
        return self.id[:position] or TENANT_SCOPE


class PolicyAttestation(Document, Expiring):
    """``Microsoft.PolicyInsights/attestations`` (docs "Azure Policy attestation structure"): the compliance
    state of one resource for a Manual policy of an assignment (and reference id in an initiative)."""

    kind: ClassVar[str] = "attestation"

    id: str
    name: str
    policy_assignment_id: str
    policy_definition_reference_id: str | None = None
    compliance_state: Literal["Compliant", "NonCompliant", "Unknown"] = "Unknown"
    expires_on: datetime | None = None
    comments: str | None = None

    @property
    def resource_id(self) -> str:
        """The attested resource: the attestation's id before ``/providers/Microsoft.PolicyInsights/attestations/``."""
        position = self.id.lower().find(ATTESTATION_MARKER)
        return self.id[:position] if position > 0 else ""


class PolicyDocuments(BaseModel):
    """Everything loaded from ``--policy``/``--assignment``/``--exemption`` files."""

    definitions: list[PolicyDefinition] = Field(default_factory=list)
    set_definitions: list[PolicySetDefinition] = Field(default_factory=list)
    assignments: list[PolicyAssignment] = Field(default_factory=list)
    exemptions: list[PolicyExemption] = Field(default_factory=list)
    attestations: list[PolicyAttestation] = Field(default_factory=list)

    def extend(self, other: PolicyDocuments) -> None:
        self.definitions += other.definitions
        self.set_definitions += other.set_definitions
        self.assignments += other.assignments
        self.exemptions += other.exemptions
        self.attestations += other.attestations


def policy_files(paths: Iterable[Path], suffixes: tuple[str, ...] = (".json",)) -> list[Path]:
    """Files given directly, plus every file with one of ``suffixes`` under given folders (sorted)."""
    found: list[Path] = []
    for given in paths:
        path = resolve_builtin(given)
        if path.is_dir():
            found.extend(sorted(item for item in path.rglob("*") if item.is_file() and item.suffix.lower() in suffixes))
        elif path.exists():
            found.append(path)
        else:
            raise InputError(str(given), "no such file or folder")
    return found


def read_objects(path: Path, what: str = "policy file") -> Iterator[tuple[str, dict[str, Any]]]:
    """(place, object) for each object of a JSON file holding one object, a list or ``{"value": [...]}``;
    ``what`` names the file in messages."""
    data = read_json(path, what)
    large = path.stat().st_size > MAX_POLICY_DOCUMENT_BYTES  # else none of its documents can be
    if isinstance(data, dict) and isinstance(data.get("value"), list) and "properties" not in data:
        data = data["value"]
    if isinstance(data, dict):
        yield "", _within_limit(data, path, "", what) if large else data
        return
    if not isinstance(data, list):
        raise InputError(str(path), "expected a JSON object or a list of objects", value=type(data).__name__)
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(str(path), "expected an object", location=f"item {index}", value=item)
        yield f"item {index}", _within_limit(item, path, f"item {index}", what) if large else item


def _within_limit(item: dict[str, Any], path: Path, place: str, what: str) -> dict[str, Any]:
    """``item`` if its JSON is within Azure Policy's request-body limit for a definition, initiative or assignment
    (engine.limits), else InputError: refused before it is compiled or evaluated."""
    size = json_length(item)
    if size > MAX_POLICY_DOCUMENT_BYTES:
        raise InputError(str(path), f"this document of the {what} is {size:,} bytes as JSON; Azure Policy accepts "
                                    f"at most {MAX_POLICY_DOCUMENT_BYTES:,} bytes for a definition, initiative or "
                                    "assignment", location=place or None)
    return item


def _kind(item: dict[str, Any]) -> str | None:
    type_key = ids.normalize(str(item.get("type") or ""))
    if type_key in (DEFINITION_TYPE, SET_DEFINITION_TYPE, ASSIGNMENT_TYPE, EXEMPTION_TYPE, ATTESTATION_TYPE):
        return type_key
    body = item.get("properties") if isinstance(item.get("properties"), dict) else item
    for key, kind in (("policyRule", DEFINITION_TYPE), ("policyDefinitions", SET_DEFINITION_TYPE),
                      ("complianceState", ATTESTATION_TYPE), ("policyAssignmentId", EXEMPTION_TYPE),
                      ("policyDefinitionId", ASSIGNMENT_TYPE)):
        if key in body:
            return kind
    return None


ENVELOPE_KEYS = frozenset({"id", "name", "type", "properties", "systemdata"})


def _flatten(item: dict[str, Any], path: Path, place: str, index: int) -> dict[str, Any]:
    """The document's fields: ``properties`` merged with the ARM envelope (id, name). A field both in the
    envelope and in ``properties`` is ambiguous: an error naming it."""
    if isinstance(item.get("properties"), dict):
        inner = {key.lower() for key in item["properties"]}
        twice = sorted(key for key in item if key.lower() not in ENVELOPE_KEYS and key.lower() in inner)
        if twice:
            raise InputError(str(path), f"'{twice[0]}' is given both beside and inside 'properties': keep one",
                             location=place or None, value=twice)
    body = dict(item["properties"]) if isinstance(item.get("properties"), dict) else dict(item)
    default_name = path.stem if not place else f"{path.stem}-{index}"
    body["name"] = item.get("name") or body.get("name") or default_name
    if item.get("id"):
        body["id"] = item["id"]
    body["source"], body["place"] = str(path), place
    return body


MODELS: dict[str, type[Document]] = {
    DEFINITION_TYPE: PolicyDefinition, SET_DEFINITION_TYPE: PolicySetDefinition,
    ASSIGNMENT_TYPE: PolicyAssignment, EXEMPTION_TYPE: PolicyExemption, ATTESTATION_TYPE: PolicyAttestation,
}
DEFAULT_ID_PREFIX = {
    DEFINITION_TYPE: "/providers/Microsoft.Authorization/policyDefinitions/",
    SET_DEFINITION_TYPE: "/providers/Microsoft.Authorization/policySetDefinitions/",
    ASSIGNMENT_TYPE: "/providers/Microsoft.Authorization/policyAssignments/",
}


def load_documents(paths: Iterable[Path], expect: str | None = None) -> PolicyDocuments:
    """Load every document of ``paths``; ``expect`` (a kind) rejects documents of other kinds."""
    documents = PolicyDocuments()
    lists = {DEFINITION_TYPE: documents.definitions, SET_DEFINITION_TYPE: documents.set_definitions,
             ASSIGNMENT_TYPE: documents.assignments, EXEMPTION_TYPE: documents.exemptions,
             ATTESTATION_TYPE: documents.attestations}
    for path in paths:
        what = f"{expect.split('/')[-1].removeprefix('policy')[:-1]} file" if expect else "policy file"
        for index, (place, item) in enumerate(read_objects(path, what)):
            kind = _kind(item)
            if kind is None or (expect is not None and kind != expect):
                wanted = (expect or "a policy definition, initiative, assignment or exemption").split("/")[-1]
                raise InputError(str(path), f"not {wanted}", location=place or None,
                                 value=sorted(item)[:6])
            body = _flatten(item, path, place, index)
            if kind in DEFAULT_ID_PREFIX:
                body.setdefault("id", DEFAULT_ID_PREFIX[kind] + body["name"])
            if kind == ASSIGNMENT_TYPE and "scope" in body and body["scope"] == "":
                body["scope"] = TENANT_SCOPE
            try:
                lists[kind].append(MODELS[kind].model_validate(body))  # type: ignore[arg-type]
            except ValidationError as error:
                first = error.errors()[0]
                location = ".".join(str(part) for part in first["loc"])
                raise InputError(str(path), f"{kind.split('/')[-1][:-1]}: {first['msg']}",
                                 location=f"{place + ': ' if place else ''}{location}",
                                 value=first.get("input") if not isinstance(first.get("input"), dict) else None) from None
    return documents
