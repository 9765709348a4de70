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
)

from engine.azure.options import AZURE_RESOURCE_MANAGER, CredentialKind
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


ConfigPath = Annotated[Path, AfterValidator(_relative_to_config)]
ConfigPaths = Annotated[list[ConfigPath], BeforeValidator(_listed)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Cron = Annotated[str, AfterValidator(_cron)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanSettings(Section):
    inventory: ConfigPath | None = None  # a snapshot file; none means Azure Resource Graph
    subscriptions: list[str] = Field(default_factory=list)  # Resource Graph scope (default: all)
    management_groups: list[str] = Field(default_factory=list)  # Resource Graph scope
    arm_endpoint: str = AZURE_RESOURCE_MANAGER
    ca_bundle: ConfigPath | None = None
    credential: CredentialKind = CredentialKind.default
    policies: list[ConfigPath] = Field(default_factory=list)
    assignments: ConfigPaths = Field(default_factory=list)
    exemptions: ConfigPaths = Field(default_factory=list)
    attestations: ConfigPaths = Field(default_factory=list)  # Manual policies' states (--attestation)
    management_group_map: ConfigPath | None = None  # {subscriptionId: [group, parent, ...]} (--management-groups)
    facts: ConfigPath | None = None  # node architectures for remediation plans
    fail_on: Literal["non-compliant", "error", "never"] = "non-compliant"
    workers: int | None = Field(None, ge=1)
    strict_aliases: bool = False  # refuse aliases outside arcpolicy's table (--strict-aliases)
    rego_engine: Literal["regorus", "regopy", "opa"] = "regorus"  # keys of engine/rego/engine_kinds.py's ENGINES
    opa_url: str | None = None  # the OPA server of rego_engine = "opa"


def _output_format(value: str) -> str:
    if value.lower() not in FORMATS:
        raise ValueError(f"unknown output format; choose one of {', '.join(sorted(FORMATS))}")
    return value.lower()


class OutputSettings(Section):
    format: Annotated[str, AfterValidator(_output_format)]
    path: ConfigPath


def _store_relative_to_config(value: str | None, info: ValidationInfo) -> str | None:
    """A SQLite file path (not a URL) is relative to the config file, like every other path."""
    if value is None or "://" in value:
        return value
    return str(_relative_to_config(Path(value).expanduser(), info))


class StoreSettings(Section):
    url: Annotated[str | None, AfterValidator(_store_relative_to_config)] = None  # SQLAlchemy URL or SQLite file
    keep: Duration | None = None  # retention: scans older than this are pruned after each scan


class ScheduleSettings(Section):
    cron: Cron | None = None
    jitter: Duration = timedelta(0)
    health_file: ConfigPath | None = None
    remediate: bool = False  # apply the remediation plan after each scan (apply's safety limits hold)
    lock_file: ConfigPath | None = None  # keeps a second scheduler on the same lock from running at once
    work_dir: ConfigPath = Field(Path("arcpolicy-runs"), validate_default=True)  # plans and apply journals


class LoggingSettings(Section):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class ArcPolicyConfig(Section):
    scan: ScanSettings = Field(default_factory=ScanSettings)
    outputs: list[OutputSettings] = Field(default_factory=list)
    store: StoreSettings = Field(default_factory=StoreSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


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
