"""``arcpolicy.toml``: everything a scan needs, so ``arcpolicy scan --config FILE`` reproduces it.

Relative paths are relative to the config file. Command-line options override the file through
:func:`with_overrides` (dotted keys such as ``scan.inventory``), and the result is validated again.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from engine.azure.options import AZURE_RESOURCE_MANAGER, CredentialKind
from engine.azure_policy.documents import DEFAULT_EXPIRY_WARNING
from engine.builtin_policies import BUILTIN_PREFIX
from engine.cron import CronSchedule
from engine.errors import InputError
from engine.history.urls import safe_url
from engine.limits import MAX_JSON_DEPTH, nesting
from engine.output import FORMATS

DURATION = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Retention and jitter longer than a century mean nothing, and dates computed with them would overflow.
LONGEST_DURATION = timedelta(days=36500)


def parse_duration(text: str | int | float | timedelta, source: str = "duration") -> timedelta:
    """``90d``, ``12h``, ``1h30m``, ``45s`` or a number of seconds."""
    if isinstance(text, timedelta):
        return _bounded(text.total_seconds(), source, text)
    if isinstance(text, int | float):
        return _bounded(text, source, text)
    if not isinstance(text, str):
        raise InputError(source, "not a duration; write e.g. 90d, 12h, 30m or 1h30m")
    parts = DURATION.findall(text)
    if not parts or DURATION.sub("", text).strip():
        raise InputError(source, "not a duration; write e.g. 90d, 12h, 30m or 1h30m", value=text)
    if any(len(amount) > 12 for amount, _ in parts):  # int() of thousands of digits is refused or slow
        return _bounded(float("inf"), source, text)
    return _bounded(sum(int(amount) * UNIT_SECONDS[unit.lower()] for amount, unit in parts), source, text)


def format_duration(duration: timedelta) -> str:
    """A duration as the config file writes it: ``14d``, ``1h30m``, ``0s``."""
    seconds, parts = int(duration.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _bounded(seconds: float, source: str, text: object) -> timedelta:
    if not 0 <= seconds <= LONGEST_DURATION.total_seconds():  # NaN fails both comparisons
        raise InputError(source, f"a duration must be between 0 and {LONGEST_DURATION.days}d (100 years)",
                         value=text)
    return timedelta(seconds=seconds)


def _duration(value: str | int | float | timedelta) -> timedelta:
    try:
        return parse_duration(value)
    except InputError as error:
        raise ValueError(error.message) from None


def _relative_to_config(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    if str(value).startswith(BUILTIN_PREFIX):  # the shipped library, wherever arcpolicy is installed
        return value
    return value if value.is_absolute() or base is None else base / value


def _cron(value: str) -> str:
    return CronSchedule.parse(value, datetime.now(UTC)).expression


def _listed(value: object) -> object:
    """A single path where a list is expected (``assignments = "a.json"``) becomes a one-item list."""
    return [value] if isinstance(value, str | Path) else value


# How each kind of value appears in the JSON Schema (docs/arcpolicy.schema.json): as TOML writes it.
PATH_SCHEMA = {"type": "string", "description": "A path, relative to the config file (or builtin:...)."}
DURATION_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^\s*(\d+\s*[smhdwSMHDW]\s*)+$"},
                             {"type": "number", "minimum": 0, "maximum": LONGEST_DURATION.total_seconds()}],
                   "description": "A duration: 90d, 12h, 30m, 1h30m, 45s, or a number of seconds."}
ConfigPath = Annotated[Path, AfterValidator(_relative_to_config), WithJsonSchema(PATH_SCHEMA)]
ConfigPaths = Annotated[list[ConfigPath], BeforeValidator(_listed), WithJsonSchema(
    {"anyOf": [PATH_SCHEMA, {"type": "array", "items": PATH_SCHEMA}], "description": "One path or a list."})]
Duration = Annotated[timedelta, BeforeValidator(_duration), WithJsonSchema(DURATION_SCHEMA)]
Cron = Annotated[str, AfterValidator(_cron), WithJsonSchema(
    {"type": "string", "description": "5 fields (minute hour day-of-month month day-of-week), or 6 with the "
                                      "seconds first."})]


class Section(BaseModel):
    """A table of the file; a key it does not know is an error (a typo must not be silently ignored). Each
    field's docstring is its description in the JSON Schema, which editors show."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ScanSettings(Section):
    """What ``arcpolicy scan --config`` scans, and how."""

    inventory: ConfigPath | None = None
    """A snapshot file (-i); without it the fleet is read from Azure Resource Graph."""
    subscriptions: list[str] = Field(default_factory=list)
    """Resource Graph scope: subscription ids (default: every subscription the credential sees)."""
    management_groups: list[str] = Field(default_factory=list)
    """Resource Graph scope: management group ids."""
    arm_endpoint: str = AZURE_RESOURCE_MANAGER
    """ARM and Resource Graph endpoint (the sandbox's https://127.0.0.1:PORT to try things)."""
    ca_bundle: ConfigPath | None = None
    """PEM certificates to trust for arm_endpoint (the sandbox's ca.pem)."""
    credential: CredentialKind = CredentialKind.default
    """default (DefaultAzureCredential: workload identity, managed identity, environment), cli or sandbox."""
    policies: list[ConfigPath] = Field(default_factory=list)
    """Policy files and folders (.json, .rego); builtin: for the shipped library."""
    assignments: ConfigPaths = Field(default_factory=list)
    """Assignment files; without any, every definition is assigned at tenant scope with its defaults."""
    exemptions: ConfigPaths = Field(default_factory=list)
    """Exemption files (Microsoft.Authorization/policyExemptions)."""
    attestations: ConfigPaths = Field(default_factory=list)
    """Attestation files: Manual policies' states (--attestation)."""
    management_group_map: ConfigPath | None = None
    """{subscriptionId: [group, parent, ...]} (--management-groups)."""
    facts: ConfigPath | None = None
    """Node architectures for remediation plans (schedule.remediate)."""
    fail_on: Literal["non-compliant", "error", "never"] = "non-compliant"
    """Which records make the scan exit 1."""
    workers: int | None = Field(None, ge=1)
    """Processes evaluating the fleet (default: every core)."""
    strict_aliases: bool = False
    """Refuse aliases outside arcpolicy's table (--strict-aliases)."""
    rego_engine: Literal["regorus", "regopy", "opa"] = "regorus"
    """The Rego engine (keys of engine/rego/engine_kinds.py's ENGINES)."""
    opa_url: str | None = None
    """The OPA server of rego_engine = "opa"."""
    expiry_warning: Duration = DEFAULT_EXPIRY_WARNING
    """Warn about exemptions and attestations expiring within this (and those already expired); 0 warns
    only about expired ones."""


def _output_format(value: str) -> str:
    if value.lower() not in FORMATS:
        raise ValueError(f"unknown output format; choose one of {', '.join(sorted(FORMATS))}")
    return value.lower()


class OutputSettings(Section):
    """One file the scan writes (-o FORMAT:FILE)."""

    format: Annotated[str, AfterValidator(_output_format), WithJsonSchema({"enum": sorted(FORMATS)})]
    """The output format."""
    path: ConfigPath
    """The file, written atomically."""


def _store_relative_to_config(value: str | None, info: ValidationInfo) -> str | None:
    """A SQLite file path (not a URL) is relative to the config file, like every other path."""
    if value is None or "://" in value:
        return value
    return str(_relative_to_config(Path(value).expanduser(), info))


class StoreSettings(Section):
    """The history store each scan is recorded in."""

    url: Annotated[str | None, AfterValidator(_store_relative_to_config)] = None
    """SQLAlchemy URL (postgresql+psycopg://...) or SQLite file; ARCPOLICY_STORE or --store override it."""
    keep: Duration | None = None
    """Retention: scans older than this are pruned after each scan."""


class ScheduleSettings(Section):
    """``arcpolicy schedule``: when it scans and what it reports."""

    cron: Cron | None = None
    """When to scan."""
    jitter: Duration = timedelta(0)
    """Delay each run by a random amount up to this."""
    health_file: ConfigPath | None = None
    """JSON status file for liveness probes."""
    remediate: bool = False
    """Plan and apply the remediation after each scan (apply's safety limits hold)."""
    lock_file: ConfigPath | None = None
    """Keeps a second scheduler on the same lock from running at once."""
    work_dir: ConfigPath = Field(Path("arcpolicy-runs"), validate_default=True)
    """Each remediation's plan.json, apply.json and journal, per scan id."""
    metrics_port: int | None = Field(None, ge=0, le=65535)
    """Serve Prometheus metrics on this port (/metrics)."""
    metrics_address: str = "0.0.0.0"
    """The address metrics_port listens on (0.0.0.0: every interface, as a pod's port is scraped)."""
    metrics_file: ConfigPath | None = None
    """Write the metrics after each run to this file, for node-exporter's textfile collector (*.prom)."""


class LoggingSettings(Section):
    """Log lines on stderr, each with the scan id."""

    format: Literal["text", "json"] = "text"
    """text lines or JSON lines."""
    level: Literal["debug", "info", "warning", "error"] = "info"
    """The lowest level logged."""


class ArcPolicyConfig(Section):
    """arcpolicy.toml: everything a scan needs, so that arcpolicy scan --config FILE reproduces it."""

    scan: ScanSettings = Field(default_factory=ScanSettings)
    """The scan."""
    outputs: list[OutputSettings] = Field(default_factory=list)
    """Files each scan writes ([[outputs]])."""
    store: StoreSettings = Field(default_factory=StoreSettings)
    """The history store."""
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    """arcpolicy schedule."""
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    """Structured logs."""


class TomlJsonSchema(GenerateJsonSchema):
    """JSON Schema of values as TOML writes them: TOML has no null (an absent key is the default), and durations
    are written 14d, not ISO 8601's P14D."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def encode_default(self, dft: Any) -> Any:
        return format_duration(dft) if isinstance(dft, timedelta) else super().encode_default(dft)

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        generated = super().default_schema(schema)
        if generated.get("default", "") is None:
            del generated["default"]
        return generated


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of arcpolicy.toml, for editors (a TOML language server validates and completes the file
    with it): checked in as docs/arcpolicy.schema.json, which ``python -m engine.config`` writes."""
    schema = ArcPolicyConfig.model_json_schema(mode="validation", schema_generator=TomlJsonSchema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _input_error(source: str, error: ValidationError) -> InputError:
    first = error.errors()[0]
    location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".") or None
    message = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    if location and location.startswith("store.url") and isinstance(value, str):
        value = safe_url(value)
    if isinstance(value, dict | list):
        value = None
    return InputError(source, message, location=location, value=value)


def load_config(path: str | Path) -> ArcPolicyConfig:
    """Read and validate a TOML config file; paths in it are relative to the file."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(str(path), f"cannot read the config file: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise InputError(str(path), "not UTF-8 text (TOML files are UTF-8)", location=f"byte {error.start}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(str(path), f"not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise InputError(str(path), f"arrays or tables nested more than {MAX_JSON_DEPTH} levels deep") from None
    if nesting(document) > MAX_JSON_DEPTH:
        raise InputError(str(path), f"arrays or tables nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return ArcPolicyConfig.model_validate(document, context={"base": path.resolve().parent})
    except ValidationError as error:
        raise _input_error(str(path), error) from None


def resolve_config(path: str | Path | None, overrides: dict[str, Any]) -> ArcPolicyConfig:
    """The config file (or the defaults without one) with the command-line values on top."""
    return with_overrides(load_config(path) if path is not None else ArcPolicyConfig(), overrides)


def with_overrides(config: ArcPolicyConfig, overrides: dict[str, Any]) -> ArcPolicyConfig:
    """``config`` with command-line values (dotted keys, None = not given) taking precedence."""
    document = config.model_dump()
    for dotted, value in overrides.items():
        if value is None or value == []:
            continue
        *sections, key = dotted.split(".")
        target = document
        for section in sections:
            target = target[section]
        target[key] = value
    try:
        return ArcPolicyConfig.model_validate(document)
    except ValidationError as error:
        raise _input_error("command line", error) from None


if __name__ == "__main__":  # python -m engine.config > docs/arcpolicy.schema.json
    import json

    print(json.dumps(config_json_schema(), indent=2))
