"""The scan: every in-scope (resource, assignment) of a fleet, decided and turned into policy states.

prepare (load + validate + compile once, in the parent, so bad input fails before any work)
-> evaluate shards (a pure function of a shard and the prepared request, in a process pool)
-> merge (records sorted, per-policy summary). Workers get the picklable request and compile
their own evaluators once, since compiled closures do not pickle.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.azure_policy import kind as _azure_policy_kind  # noqa: F401  (registers the Azure Policy kind)
from engine.azure_policy.documents import (
    ASSIGNMENT_TYPE,
    ATTESTATION_TYPE,
    DEFAULT_EXPIRY_WARNING,
    EXEMPTION_TYPE,
    PolicyAssignment,
    PolicyAttestation,
    PolicyExemption,
    load_documents,
    policy_files,
)
from engine.azure_policy.reasons import reason
from engine.errors import InputError
from engine.evaluate.kinds import (
    KINDS,
    ClusterEvaluator,
    NotEvaluated,
    PolicyKey,
    Verdict,
    register_deferred_kind,
)
from engine.evaluate.records import PolicyPart, RecordCollector, Row, gc_paused, reason_rows_of
from engine.evaluate.scope import AssignmentScope, Attestations, Exemptions, ManagementGroups, Scope
from engine.evaluate.summary import PolicySummary, VerdictSignatures, out_of_scope_warnings, summarize, tally
from engine.ids import CONTAINER_TYPES, normalize, parse_resource_id
from engine.inventory import ClusterInventory, Fleet, FleetShard
from engine.models.results import ComplianceState, PolicyState

register_deferred_kind("rego", (".rego",), "engine.rego.kind")  # imported when a scan has Rego files

SERIAL_CLUSTER_LIMIT = 400  # below this many clusters a process pool costs more than it saves


@dataclass
class ScanRequest:
    """Everything a worker needs, picklable: loaded libraries and the assignments of each kind."""

    libraries: dict[str, Any]
    assignments: dict[str, list[PolicyAssignment]]
    exemptions: list[PolicyExemption] = field(default_factory=list)
    management_groups: ManagementGroups = field(default_factory=dict)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    skipped: list[str] = field(default_factory=list)  # definitions not evaluated, and why
    warnings: list[str] = field(default_factory=list)  # what compiling found worth saying (inferred aliases)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)  # assigned definitions (members) left out
    attestations: list[PolicyAttestation] = field(default_factory=list)  # states of Manual policies' resources
    assigned_by_default: bool = False  # no assignment given: every definition at tenant scope with its defaults
    expiry_warning: timedelta = DEFAULT_EXPIRY_WARNING  # warn of exemptions and attestations expiring this soon

    def all_assignments(self) -> list[PolicyAssignment]:
        return [assignment for assignments in self.assignments.values() for assignment in assignments]


def prepare_scan(policies: Sequence[Path], assignment_files: Sequence[Path] = (),
                 exemption_files: Sequence[Path] = (), management_groups: ManagementGroups | None = None,
                 timestamp: datetime | None = None,
                 kind_options: Mapping[str, Mapping[str, Any]] | None = None,
                 attestation_files: Sequence[Path] = (),
                 expiry_warning: timedelta = DEFAULT_EXPIRY_WARNING) -> ScanRequest:
    """Load and validate policies, assignments, exemptions and attestations; compile once to surface errors.

    With no assignment files, every definition is assigned at tenant scope with its defaults.
    ``kind_options`` maps a kind's name to its loading options, e.g.
    ``{"rego": {"engine": "opa", "url": "http://localhost:8181"}}``. Policies a kind skips
    (a Rego file that does not compile) are listed in ``skipped``. Raises InputError on any bad input.
    """
    suffixes = tuple(suffix for kind in KINDS.values() for suffix in kind.suffixes)
    files = policy_files(policies, suffixes)
    if not files:
        raise InputError("--policy", f"no policy files ({', '.join(suffixes)}) found",
                         value=[str(path) for path in policies])
    libraries = {}
    for kind in KINDS.values():
        own = [path for path in files if path.suffix.lower() in kind.suffixes]
        if own:
            libraries[kind.name] = kind.load(own, **(kind_options or {}).get(kind.name, {}))
    request = ScanRequest(libraries, {}, load_documents(exemption_files, expect=EXEMPTION_TYPE).exemptions,
                          management_groups or {}, timestamp or datetime.now(UTC), expiry_warning=expiry_warning)
    request.attestations = load_documents(attestation_files, expect=ATTESTATION_TYPE).attestations
    return assign(request, load_documents(assignment_files, expect=ASSIGNMENT_TYPE).assignments)


def assign(request: ScanRequest, given: Sequence[PolicyAssignment]) -> ScanRequest:
    """``request`` with these assignments (none: every definition at tenant scope with its defaults), compiled
    once so bad rules and parameters fail before any evaluation. What-if gives a stored scan's assignments."""
    libraries = request.libraries
    assignments: dict[str, list[PolicyAssignment]] = {name: [] for name in libraries}
    skipped = [problem for name, library in libraries.items() for problem in KINDS[name].problems(library)]
    if given:
        for assignment in given:
            owner = next((name for name, library in libraries.items() if KINDS[name].owns(library, assignment)),
                         None)
            if owner is None:
                raise InputError(assignment.origin, f"assignment '{assignment.name}': no loaded policy definition "
                                                    "or initiative has this policyDefinitionId",
                                 location="properties.policyDefinitionId", value=assignment.policy_definition_id)
            assignments[owner].append(assignment)
    else:
        for name, library in libraries.items():
            defaults, not_assigned = KINDS[name].default_assignments(library)
            assignments[name] = defaults
            skipped.extend(not_assigned)
    _check_unique_ids([assignment for group in assignments.values() for assignment in group])
    request = replace(request, assignments=assignments, skipped=skipped, assigned_by_default=not given)
    engine = compiled_engine(request)  # compile once here: bad rules and parameters fail before any evaluation
    request.warnings = [warning for evaluator in engine.evaluators for warning in evaluator.warnings]
    request.warnings += _empty_management_groups(request)
    request.warnings += [warning for document in (*request.exemptions, *request.attestations)
                         if (warning := document.expiry_warning(request.timestamp, request.expiry_warning))]
    request.not_evaluated = [item for evaluator in engine.evaluators for item in evaluator.not_evaluated]
    return request


def _empty_management_groups(request: ScanRequest) -> list[str]:
    """A warning per assignment at a management group no subscription of the map belongs to: it would
    silently evaluate nothing (the map is how arcpolicy knows the hierarchy)."""
    known = {group for groups in request.management_groups.values() for group in groups}
    warnings = []
    for assignment in request.all_assignments():
        group = Scope(assignment.scope).management_group
        if group is not None and group not in known:
            warnings.append(f"assignment '{assignment.name}' is at management group '{group}', which no "
                            "subscription belongs to in the --management-groups map: it evaluates nothing")
    return warnings


def _check_unique_ids(assignments: list[PolicyAssignment]) -> None:
    seen: dict[str, PolicyAssignment] = {}
    for assignment in assignments:
        first = seen.setdefault(normalize(assignment.id), assignment)
        if first is not assignment:
            raise InputError(assignment.origin, f"assignment id is also used by {first.origin}",
                             location="id", value=assignment.id)


_LAST_COMPILED: list[tuple[ScanRequest, ScanEngine]] = []  # the request prepared last and its engine


def compiled_engine(request: ScanRequest, containers: Sequence[dict[str, Any]] = ()) -> ScanEngine:
    """The request compiled, with ``containers``: the engine :func:`prepare_scan` compiled when it is this
    request's (with thousands of assignments, compiling costs seconds), else a new one."""
    if _LAST_COMPILED and _LAST_COMPILED[0][0] is request:
        engine = _LAST_COMPILED[0][1]
        engine.use_containers(containers)
        return engine
    engine = ScanEngine(request, containers)
    _LAST_COMPILED[:] = [(request, engine)]
    return engine


class ScanEngine:
    """A request compiled in one process: an evaluator per kind, scopes and active exemptions."""

    def __init__(self, request: ScanRequest, containers: Sequence[dict[str, Any]] = ()):
        """``containers``: the fleet's subscriptions and resource groups, which the rules' ``resourceGroup()``
        and ``subscription()`` read (tags, location)."""
        self.request = request
        self.evaluators: list[ClusterEvaluator] = [
            KINDS[name].compile(library, request.assignments.get(name, []))
            for name, library in request.libraries.items()]
        self.use_containers(containers)
        groups = request.management_groups
        self.scopes = {assignment.id: AssignmentScope(assignment, groups) for assignment in request.all_assignments()}
        self.exemptions = Exemptions(request.exemptions, request.timestamp, groups)
        self._any_exemption = bool(self.exemptions)
        self._selecting = any(assignment.resource_selectors for assignment in request.all_assignments())
        self.attestations = Attestations(request.attestations, request.timestamp)
        self._policy_parts: dict[tuple[str, str, str | None, str], PolicyPart] = {}

    def use_containers(self, containers: Sequence[dict[str, Any]]) -> None:
        """The fleet's subscriptions and resource groups, for the kinds that read them."""
        by_id = {normalize(container["id"]): container for container in containers}
        for evaluator in self.evaluators:
            if evaluator.evaluates_containers:
                evaluator.containers = by_id

    def in_scope(self, assignment: PolicyAssignment, resource_key: str, subscription_key: str) -> bool:
        return self.scopes[assignment.id].applies(resource_key, subscription_key)

    def evaluate(self, clusters: Iterable[ClusterInventory]) -> ShardResult:
        """Decide every cluster of a shard (a pure function of the shard and the request)."""
        result = ShardResult()
        rows = result.rows
        with gc_paused():
            for cluster in clusters:
                result.clusters += 1
                for evaluator in self.evaluators:
                    verdicts = evaluator.evaluate(cluster, self.in_scope, self.request.timestamp)
                    result.evaluations += verdicts.evaluations
                    result.not_applicable.update(verdicts.not_applicable)
                    rows.extend(self.row(verdict) for verdict in self.selected(verdicts.verdicts))
        return result

    def evaluate_containers(self, containers: Iterable[dict[str, Any]]) -> ShardResult:
        """Decide the resource containers (subscriptions, resource groups) for the kinds that evaluate them;
        each is a resource without children. They count as evaluated resources, not clusters."""
        result = ShardResult()
        with gc_paused():
            for container in containers:
                unit = ClusterInventory.model_construct(resource=container, extensions=[], flux_configurations=[])
                for evaluator in self.evaluators:
                    if evaluator.evaluates_containers:
                        verdicts = evaluator.evaluate(unit, self.in_scope, self.request.timestamp)
                        result.evaluations += verdicts.evaluations
                        result.not_applicable.update(verdicts.not_applicable)
                        result.rows.extend(self.row(verdict) for verdict in self.selected(verdicts.verdicts))
        return result

    def selected(self, verdicts: list[Verdict]) -> list[Verdict]:
        """The verdicts whose assignment's ``resourceSelectors`` select their resource (all, without any)."""
        if not self._selecting:
            return verdicts
        return [verdict for verdict in verdicts if verdict.assignment.selects(verdict.resource)]

    def row(self, verdict: Verdict) -> Row:
        """The record of a verdict as plain values: Exempt when an active exemption covers it, the attested
        state when an active attestation covers a Manual one."""
        resource = verdict.resource
        resource_id = resource["id"]
        parsed = parse_resource_id(resource_id)
        exemption = self.exemptions.find(verdict.assignment.id, verdict.reference_id, resource,
                                         (parsed.subscription_id or "").lower()) if self._any_exemption else None
        if exemption is not None:
            state = ComplianceState.EXEMPT
        elif verdict.compliant is None:
            state = ComplianceState.ERROR
        elif verdict.state is not None:
            state = verdict.state
        else:
            state = ComplianceState.COMPLIANT if verdict.compliant else ComplianceState.NON_COMPLIANT
        reasons = verdict.reasons
        if verdict.action == "manual" and exemption is None and self.attestations:
            attestation = self.attestations.find(verdict.assignment.id, verdict.reference_id, normalize(resource_id))
            if attestation is not None:
                state = ComplianceState(attestation.compliance_state)
                reasons = [reason(f"attested {attestation.compliance_state}" + (
                    f": {attestation.comments}" if attestation.comments else ""), "attestation",
                    actual=attestation.id)]
        return (resource_id, resource["type"], resource.get("location"), parsed.resource_group,
                parsed.subscription_id, self._policy_part(verdict), state,
                tuple(map(reason_rows_of, reasons)),
                exemption.id if exemption else None, exemption.exemption_category if exemption else None,
                verdict.details, verdict.remediation, verdict.error)

    def _policy_part(self, verdict: Verdict) -> PolicyPart:
        """One shared tuple per (assignment, definition reference, action): pickled once per shard."""
        assignment = verdict.assignment
        key = (assignment.id, verdict.definition_id, verdict.reference_id, verdict.action)
        part = self._policy_parts.get(key)
        if part is None:
            part = self._policy_parts[key] = (
                assignment.id, assignment.name, assignment.scope, verdict.definition_id, verdict.definition_name,
                verdict.display_name, verdict.set_definition_id, verdict.reference_id, verdict.action)
        return part


@dataclass
class ShardResult:
    rows: list[Row] = field(default_factory=list)
    not_applicable: Counter[PolicyKey] = field(default_factory=Counter)
    evaluations: int = 0
    clusters: int = 0

    def merge(self, other: ShardResult) -> None:
        self.rows.extend(other.rows)
        self.not_applicable.update(other.not_applicable)
        self.evaluations += other.evaluations
        self.clusters += other.clusters

    def records(self, timestamp: datetime) -> list[PolicyState]:
        """The policy states, sorted by resource, assignment and reference id."""
        records = RecordCollector(timestamp)
        with gc_paused():
            records.add(self.rows)
            return records.sorted()


@dataclass
class ScanResult:
    """The records of a scan (sorted), its per-policy summary, and what was not evaluated."""

    records: list[PolicyState]
    summary: list[PolicySummary]
    clusters: int
    evaluations: int
    skipped: list[str]
    timestamp: datetime
    warnings: list[str] = field(default_factory=list)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)

    def has_state(self, *states: ComplianceState) -> bool:
        return any(record.compliance_state in states for record in self.records)


def fleet_containers(fleet: Fleet) -> list[dict[str, Any]]:
    """The fleet's resource containers (subscriptions, resource groups)."""
    return [resource for resource in fleet.other_resources()
            if normalize(resource.get("type") or "") in CONTAINER_TYPES]


_WORKER_ENGINE: ScanEngine | None = None
_WORKER_SHARDS: list[FleetShard] = []


def _start_worker(request: ScanRequest, fleet: Fleet, shard_count: int) -> None:
    """Compile the request and split the fleet as the parent did. Under fork both arrive with the
    process's memory, not through the pool's pipe (a 10,000-cluster fleet is ~65 MB of JSON)."""
    global _WORKER_ENGINE, _WORKER_SHARDS
    _WORKER_ENGINE = ScanEngine(request, fleet_containers(fleet))
    _WORKER_SHARDS = fleet.shards(shard_count)


def _evaluate_in_worker(index: int) -> ShardResult:
    assert _WORKER_ENGINE is not None, "worker not initialised"
    return _WORKER_ENGINE.evaluate(_WORKER_SHARDS[index].clusters())


def run_scan(fleet: Fleet, request: ScanRequest, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> ScanResult:
    """Evaluate ``fleet`` with a prepared request, over ``workers`` processes (default: every core).

    ``progress(clusters_done, clusters_total)`` is called as shards complete.
    """
    total = len(fleet)
    workers = workers or os.cpu_count() or 1
    merged = ShardResult()
    collected = RecordCollector(request.timestamp)

    def take(shard: ShardResult) -> None:
        """Counts merge; rows become records now, while the other shards are still being decided."""
        collected.add(shard.rows)
        shard.rows = []
        merged.merge(shard)
        if progress:
            progress(merged.clusters, total)

    containers = fleet_containers(fleet)
    with gc_paused():
        if workers == 1 or total < SERIAL_CLUSTER_LIMIT:
            engine = compiled_engine(request, containers)
            for shard in fleet.shards(max(1, min(32, total // 100))):
                take(engine.evaluate(shard.clusters()))
            if containers:
                take(engine.evaluate_containers(containers))
        else:
            shard_count = len(fleet.shards(workers * 4))
            with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker,
                                     initargs=(request, fleet, workers * 4)) as pool:
                futures = [pool.submit(_evaluate_in_worker, index) for index in range(shard_count)]
                if containers:  # few (subscriptions, resource groups): decided here while the workers work
                    take(compiled_engine(request, containers).evaluate_containers(containers))
                for future in as_completed(futures):
                    take(future.result())
        records = collected.sorted()
    summary = summarize(request.all_assignments(), tally(records), merged.not_applicable, request.not_evaluated)
    signatures = VerdictSignatures()
    for record in records:
        signatures.add(record.policy_definition_id, record.policy_definition_name,
                       record.policy_definition_reference_id, record.resource_id, record.compliance_state)
    warnings = [*request.warnings, *out_of_scope_warnings(summary, request.warnings), *signatures.warnings()]
    return ScanResult(records, summary, merged.clusters, merged.evaluations, request.skipped, request.timestamp,
                      warnings, request.not_evaluated)


def scan(fleet: Fleet, policies: Sequence[Path], assignment_files: Sequence[Path] = (),
         exemption_files: Sequence[Path] = (), management_groups: ManagementGroups | None = None,
         workers: int | None = None, timestamp: datetime | None = None,
         kind_options: Mapping[str, Mapping[str, Any]] | None = None) -> ScanResult:
    """Library entry point: prepare and run a scan in one call."""
    request = prepare_scan(policies, assignment_files, exemption_files, management_groups, timestamp, kind_options)
    return run_scan(fleet, request, workers)
