"""The Rego policy library: load and compile once, then evaluate every policy per cluster.

``RegoLibrary.load(paths)`` reads ``.rego`` files, keeps those that compile (the others become
diagnostics with file:line) and treats every package with a ``violation`` rule as a policy.
``library.evaluate(cluster, parameters)`` answers all policies for one cluster with one query.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import InputError
from engine.inventory import ClusterInventory, Fleet, FleetShard
from engine.rego.bundle import PARAMETER_SETS_KEY, ScanBundle
from engine.rego.compile_checks import refused_by_opa
from engine.rego.divergences import divergences
from engine.rego.engine_kinds import DEFAULT_ENGINE, ENGINES
from engine.rego.engines import BundleRejected, Diagnostic, RegoEngine, RegoRuntimeError
from engine.rego.metadata_calls import with_metadata_calls
from engine.rego.modules import RegoModule, discover, read_module
from engine.rego.references import unresolved
from engine.rego.source_rewrites import for_regorus

DEFINITION_ID_PREFIX = "rego:"
EFFECTS = {effect.lower(): effect for effect in ("audit", "auditIfNotExists", "deployIfNotExists", "deny")}
DEFAULT_EFFECT = "audit"
PROTECTED_SETTINGS = "configurationProtectedSettings"
PARALLEL_MIN_CLUSTERS = 200  # below this a process pool (about 50 ms to compile per worker) does not pay

Parameters = Mapping[str, Any]


class RegoPolicy(BaseModel):
    """A package with a ``violation`` rule, described by its METADATA annotations."""

    model_config = ConfigDict(frozen=True)

    package: str
    title: str
    description: str = ""
    effect: str = DEFAULT_EFFECT
    source_file: str

    @property
    def definition_id(self) -> str:
        """``policyDefinitionId`` of its records and assignments: ``rego:<package>``."""
        return DEFINITION_ID_PREFIX + self.package


class RegoRemediation(BaseModel):
    """An extension to write or remove, shaped like the ARM extension body."""

    model_config = ConfigDict(extra="forbid")

    name: str
    action: Literal["create", "update", "delete"] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class RegoViolation(BaseModel):
    """One element of a policy's ``violation`` set."""

    model_config = ConfigDict(extra="allow")

    msg: str
    details: Any = None
    remediation: RegoRemediation | None = None


class RegoVerdict(BaseModel):
    """A policy's answer for one cluster and parameter set."""

    applicable: bool = True
    violations: list[RegoViolation] = Field(default_factory=list)
    error: str | None = None

    @property
    def compliant(self) -> bool:
        return self.error is None and not self.violations


def policy_input(cluster: ClusterInventory, parameters: Parameters | None = None) -> dict[str, Any]:
    """The input document of the author contract (protected setting values withheld)."""
    return {
        "resource": cluster.resource,
        "extensions": [_without_secrets(extension) for extension in cluster.extensions],
        "fluxConfigurations": [_without_secrets(flux) for flux in cluster.flux_configurations],
        "parameters": dict(parameters or {}),
    }


def _without_secrets(resource: dict[str, Any]) -> dict[str, Any]:
    """Protected settings keep their keys (policies may test presence) but never their values."""
    properties = resource.get("properties") or {}
    protected = properties.get(PROTECTED_SETTINGS)
    if not protected:
        return resource
    return {**resource, "properties": {**properties, PROTECTED_SETTINGS: dict.fromkeys(protected, "")}}


class RegoLibrary:
    """Compiled Rego policies and the engine that evaluates them."""

    def __init__(self, policies: list[RegoPolicy], diagnostics: list[Diagnostic], bundle: ScanBundle,
                 engine: RegoEngine):
        self.policies = policies
        self.diagnostics = diagnostics
        self.bundle = bundle
        self.engine = engine
        self._index = {package: index for index, package in enumerate(bundle.packages)}
        self.warnings: list[Diagnostic] = []  # constructs whose verdict may differ from OPA's (engine.rego.divergences)
        self._recipe: tuple[list[RegoModule], list[Diagnostic], str, dict[str, Any]] = (
            list(bundle.modules), diagnostics, DEFAULT_ENGINE, {})

    # ---- loading --------------------------------------------------------------------------
    @classmethod
    def load(cls, paths: Iterable[str | Path], engine: str = DEFAULT_ENGINE, **engine_options: Any) -> RegoLibrary:
        """Read, compile and index the policies under ``paths`` (tests ``*_test.rego`` excluded)."""
        if engine not in ENGINES:
            raise InputError("--rego-engine", f"unknown engine; choose one of {', '.join(ENGINES)}", value=engine)
        modules, diagnostics = _read_all(discover(paths))
        if engine == DEFAULT_ENGINE:  # regorus lacks rego.metadata.* (answered from METADATA), and more to rewrite
            modules = for_regorus(with_metadata_calls(modules))
        return cls._compile(modules, diagnostics, engine, engine_options)

    @classmethod
    def _compile(cls, modules: list[RegoModule], diagnostics: list[Diagnostic], engine: str,
                 engine_options: dict[str, Any]) -> RegoLibrary:
        kind = ENGINES[engine]
        modules, compile_problems = kind.check(modules)
        modules, refusals = refused_by_opa(modules)
        modules, reference_problems = unresolved(modules, kind.is_builtin)
        diagnostics = [*diagnostics, *compile_problems, *refusals, *reference_problems]
        while True:
            bundle, policies, metadata_problems = _policy_bundle(modules)
            try:
                chosen = kind.build(bundle, **engine_options)
                break
            except BundleRejected as rejected:
                skipped = {problem.file for problem in rejected.diagnostics}
                if not skipped & {module.name for module in modules}:  # nothing of the user's to skip
                    raise InputError("--policy", f"the Rego policies do not compile together: {rejected}") from None
                diagnostics.extend(rejected.diagnostics)
                modules = [module for module in modules if module.name not in skipped]
        diagnostics.extend(metadata_problems)
        library = cls(policies, diagnostics, bundle, chosen)
        if engine == DEFAULT_ENGINE:
            library.warnings = divergences(modules)
        library._recipe = (list(bundle.modules), diagnostics, engine, engine_options)
        return library

    def __reduce__(self) -> tuple[Any, ...]:
        """Interpreters do not pickle: a worker process recompiles from the accepted modules."""
        return (RegoLibrary._compile, self._recipe)

    def policy(self, package: str) -> RegoPolicy | None:
        return next((policy for policy in self.policies if policy.package == package), None)

    # ---- evaluating -----------------------------------------------------------------------
    def evaluate(self, cluster: ClusterInventory,
                 parameters: Mapping[str, Parameters] | None = None) -> dict[str, RegoVerdict]:
        """Every policy's verdict for one cluster; ``parameters`` maps package -> its parameters."""
        given = parameters or {}
        sets = {package: [given.get(package, {})] for package in self.bundle.packages}
        return {package: verdicts[0] for package, verdicts in self.evaluate_sets(cluster, sets).items()}

    def evaluate_sets(self, cluster: ClusterInventory,
                      parameter_sets: Mapping[str, Sequence[Parameters]]) -> dict[str, list[RegoVerdict]]:
        """Verdicts per package and parameter set (one per assignment), in one query.

        Only the packages named in ``parameter_sets`` are evaluated; unknown packages are bad
        input (an assignment naming a Rego policy that is not loaded).
        """
        return self.evaluate_many([cluster], parameter_sets)[0]

    def evaluate_many(self, clusters: Sequence[ClusterInventory],
                      parameter_sets: Mapping[str, Sequence[Parameters]]) -> list[dict[str, list[RegoVerdict]]]:
        """:meth:`evaluate_sets` for several clusters (the OPA engine sends them as one batch)."""
        sets = self._checked(parameter_sets)
        parameters, sharing = _most_shared(sets)
        documents = [{**policy_input(cluster, parameters), PARAMETER_SETS_KEY: sets} for cluster in clusters]
        answers = self.engine.results_many(documents, shared=sharing == len(self.bundle.packages))
        return [self._verdicts(cluster, document, answer, sets)
                for cluster, document, answer in zip(clusters, documents, answers, strict=True)]

    def evaluate_fleet(self, fleet: Fleet, parameter_sets: Mapping[str, Sequence[Parameters]],
                       workers: int | None = None) -> dict[str, dict[str, list[RegoVerdict]]]:
        """:meth:`evaluate_many` over a whole fleet, keyed by cluster id, in ``workers`` processes.

        Each worker (default: one per core) recompiles the library once and decides a shard of
        the fleet; small fleets and ``workers=1`` are decided in this process.
        """
        sets = self._checked(parameter_sets)
        workers = workers or os.cpu_count() or 1
        if workers == 1 or len(fleet) < PARALLEL_MIN_CLUSTERS:
            return dict(_decide_shard(self, fleet.shards(1)[0], sets)) if len(fleet) else {}
        verdicts: dict[str, dict[str, list[RegoVerdict]]] = {}
        with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(self,)) as pool:
            for decided in pool.map(_decide_in_worker, fleet.shards(workers * 4), repeat(sets)):
                verdicts.update(decided)
        return verdicts

    def _checked(self, parameter_sets: Mapping[str, Sequence[Parameters]]) -> dict[str, list[dict[str, Any]]]:
        """Plain copies of the parameter sets; an unknown package is bad input."""
        for package in parameter_sets:
            if package not in self._index:
                raise InputError("assignment", "no loaded Rego policy has this package",
                                 value=DEFINITION_ID_PREFIX + package)
        return {package: [dict(parameters) for parameters in chosen] for package, chosen in parameter_sets.items()}

    def _verdicts(self, cluster: ClusterInventory, document: dict[str, Any],
                  answer: dict[str, list[dict[str, Any]]] | RegoRuntimeError,
                  sets: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[RegoVerdict]]:
        verdicts: dict[str, list[RegoVerdict]] = {}
        for package, chosen in sets.items():
            if isinstance(answer, RegoRuntimeError):
                raw = self._isolate(document, package, len(chosen))
            else:
                raw = answer.get(package) or []
            verdicts[package] = [_verdict(cluster, item) for item in raw]
        return verdicts

    def _isolate(self, document: dict[str, Any], package: str, count: int) -> list[dict[str, Any] | str]:
        """After a failed combined query, ask this package alone: its own error, or its verdicts."""
        try:
            return list(self.engine.package_results(document, self._index[package]))
        except RegoRuntimeError as error:
            return [str(error)] * count


_WORKER_LIBRARY: RegoLibrary | None = None


def _start_worker(library: RegoLibrary) -> None:
    """Process-pool initializer: the library arrives pickled, i.e. recompiled in this worker."""
    global _WORKER_LIBRARY
    _WORKER_LIBRARY = library


def _decide_in_worker(shard: FleetShard,
                      sets: Mapping[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, list[RegoVerdict]]]]:
    assert _WORKER_LIBRARY is not None, "worker not initialised"
    return _decide_shard(_WORKER_LIBRARY, shard, sets)


def _decide_shard(library: RegoLibrary, shard: FleetShard,
                  sets: Mapping[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, list[RegoVerdict]]]]:
    clusters = list(shard.clusters())
    return [(cluster.id, verdicts) for cluster, verdicts in zip(clusters, library.evaluate_many(clusters, sets),
                                                                 strict=True)]


def _most_shared(sets: Mapping[str, list[dict[str, Any]]]) -> tuple[dict[str, Any], int]:
    """The parameter set that the most packages have as their only one, and how many do.

    It goes in ``input.parameters``, so those packages are evaluated without a ``with`` clause
    (``{}`` and 0 when no package has a single set).
    """
    counts: Counter[str] = Counter(_canonical_json(chosen[0]) for chosen in sets.values() if len(chosen) == 1)
    if not counts:
        return {}, 0
    [(encoded, sharing)] = counts.most_common(1)
    return json.loads(encoded), sharing


def _canonical_json(value: Any) -> str:
    """Sorted-key JSON of parameters; integers beyond 64 bits (valid JSON, orjson refuses them) too."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _verdict(cluster: ClusterInventory, raw: dict[str, Any] | str) -> RegoVerdict:
    """Validate one package answer against the author contract; a broken contract is an Error."""
    if isinstance(raw, str):
        return RegoVerdict(error=raw)
    if not raw.get("applicable", False):
        return RegoVerdict(applicable=False)
    try:
        violations = [RegoViolation.model_validate(item) for item in raw.get("violation") or []]
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        return RegoVerdict(error=f"violation does not follow the contract: {where}: {problem['msg']}")
    existing = {str(extension.get("name", "")).lower() for extension in cluster.extensions}
    for violation in violations:
        remediation = violation.remediation
        if remediation is not None and remediation.action is None:
            remediation.action = "update" if remediation.name.lower() in existing else "create"
    return RegoVerdict(violations=sorted(violations, key=lambda violation: violation.msg))


def _read_all(paths: Iterable[Path]) -> tuple[list[RegoModule], list[Diagnostic]]:
    modules: list[RegoModule] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        try:
            modules.append(read_module(path))
        except InputError as error:
            line = int(error.location.split()[-1]) if error.location else 1
            diagnostics.append(Diagnostic(str(path), line, error.message))
    return modules, diagnostics


def _policy_bundle(modules: list[RegoModule]) -> tuple[ScanBundle, list[RegoPolicy], list[Diagnostic]]:
    """The policies among ``modules`` (packages with ``violation``) and the bundle evaluating them."""
    policies: dict[str, RegoPolicy] = {}
    with_applicable: set[str] = set()
    diagnostics: list[Diagnostic] = []
    for module in modules:
        if "applicable" in module.rules:
            with_applicable.add(module.package)
        if "violation" not in module.rules or module.package in policies:
            continue
        policy = _describe(module)
        if isinstance(policy, Diagnostic):
            diagnostics.append(policy)
        else:
            policies[module.package] = policy
    bundle = ScanBundle(tuple(modules), tuple(policies),
                        frozenset(with_applicable & set(policies)))
    return bundle, list(policies.values()), diagnostics


def _describe(module: RegoModule) -> RegoPolicy | Diagnostic:
    annotations = module.annotations
    custom = annotations.get("custom") or {}
    effect = str(custom.get("effect", DEFAULT_EFFECT)) if isinstance(custom, dict) else DEFAULT_EFFECT
    if effect.lower() not in EFFECTS:
        line = module.source.count("\n", 0, module.source.find("effect")) + 1
        return Diagnostic(module.name, line, f"custom.effect must be one of {', '.join(EFFECTS.values())} "
                                             f"(got {effect!r})")
    return RegoPolicy(package=module.package, title=str(annotations.get("title") or module.package),
                      description=str(annotations.get("description") or ""), effect=EFFECTS[effect.lower()],
                      source_file=module.name)
