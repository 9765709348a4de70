"""The registry of definition kinds that join a scan (Azure Policy JSON, Rego ...).

A kind loads its files once (into a picklable library), says which assignments it owns,
makes default assignments when none are given, and compiles - in each worker - an evaluator
that decides one cluster (and its child resources) for all of its assignments at once. The scan
applies scope, notScopes and exemptions identically to every kind's verdicts.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from engine.azure_policy.documents import PolicyAssignment
from engine.inventory import ClusterInventory
from engine.models.results import ComplianceState, Reason


class PolicyKey(NamedTuple):
    """One row of the per-policy summary: an assignment and a definition (reference) in it."""

    assignment_id: str
    assignment_name: str
    definition_name: str
    reference_id: str | None
    display_name: str | None = None  # the definition's, so a policy that applied to nothing is still named


class NotEvaluated(NamedTuple):
    """An assigned definition (or initiative member) the kind cannot evaluate, and why (one line)."""

    key: PolicyKey
    reason: str


@dataclass(slots=True)
class Verdict:
    """A kind's decision on one (resource, assignment, definition reference) whose ``if`` matched.

    ``compliant`` is None when the rule could not be evaluated (``error`` says why).
    """

    resource: dict[str, Any]
    assignment: PolicyAssignment
    definition_id: str
    definition_name: str
    display_name: str | None
    set_definition_id: str | None
    reference_id: str | None
    action: str
    compliant: bool | None
    reasons: list[Reason] = field(default_factory=list)
    error: str | None = None
    details: list[dict[str, Any]] | None = None
    remediation: list[dict[str, Any]] | None = None
    state: ComplianceState | None = None  # a state the effect decides itself (Manual: its defaultState)

    @property
    def key(self) -> PolicyKey:
        return PolicyKey(self.assignment.id, self.assignment.name, self.definition_name, self.reference_id,
                         self.display_name)


@dataclass(slots=True)
class ClusterVerdicts:
    """Everything a kind decided about one cluster and its child resources."""

    verdicts: list[Verdict] = field(default_factory=list)
    not_applicable: Counter[PolicyKey] = field(default_factory=Counter)
    evaluations: int = 0  # (resource, assignment) pairs evaluated


# (assignment, normalized resource id, lower-case subscription id) -> in scope?
InScope = Callable[[PolicyAssignment, str, str], bool]


class ClusterEvaluator(Protocol):
    warnings: list[str]  # what compiling found worth saying (e.g. aliases inferred), reported by the scan
    evaluates_containers: bool  # whether subscriptions and resource groups are resources to it (Azure Policy)
    containers: Mapping[str, dict[str, Any]]  # the fleet's containers by normalized id (set by the scan)
    not_evaluated: list[NotEvaluated]  # assigned definitions (members) left out, each with its reason

    def evaluate(self, cluster: ClusterInventory, in_scope: InScope, timestamp: datetime) -> ClusterVerdicts:
        """Decide every resource of ``cluster`` for every in-scope assignment (pure)."""
        ...


class PolicyKind(Protocol):
    name: str
    suffixes: tuple[str, ...]  # files of --policy folders this kind reads

    def load(self, files: Sequence[Path], **options: Any) -> Any:
        """Read and validate the kind's files into a picklable library (raises InputError).

        ``options`` are the kind's own settings (the Rego engine and its server), from
        ``prepare_scan(kind_options={kind name: {...}})``.
        """
        ...

    def problems(self, library: Any) -> list[str]:
        """Policies the library could not load and skips (``file:line: message``), reported by the scan."""
        ...

    def owns(self, library: Any, assignment: PolicyAssignment) -> bool:
        """Whether the assignment's policyDefinitionId names a definition of this library."""
        ...

    def default_assignments(self, library: Any) -> tuple[list[PolicyAssignment], list[str]]:
        """Tenant-scope assignments of every definition with defaults, and messages for skipped ones."""
        ...

    def compile(self, library: Any, assignments: Sequence[PolicyAssignment]) -> ClusterEvaluator:
        """Compile the assignments (raises InputError on bad parameters or rules)."""
        ...


KINDS: dict[str, PolicyKind] = {}


def register_kind(kind: PolicyKind) -> PolicyKind:
    KINDS[kind.name] = kind
    return kind


class DeferredKind:
    """A kind known by its name and its files' suffixes until a scan has its files: then its module is imported
    (registering the kind itself in this one's place). A scan of Azure Policy definitions alone never imports the
    Rego engines (a fifth of a small scan's start-up)."""

    def __init__(self, name: str, suffixes: tuple[str, ...], module: str):
        self.name, self.suffixes, self._module = name, suffixes, module

    def __getattr__(self, attribute: str) -> Any:
        importlib.import_module(self._module)
        kind = KINDS[self.name]
        if kind is self:  # the module did not register it: say so, rather than recurse
            raise ImportError(f"{self._module} registers no policy kind named {self.name!r}")
        return getattr(kind, attribute)


def register_deferred_kind(name: str, suffixes: tuple[str, ...], module: str) -> None:
    """Name a kind whose ``module`` registers it (:func:`register_kind`) when first used, unless it already has."""
    KINDS.setdefault(name, DeferredKind(name, suffixes, module))  # type: ignore[arg-type]
