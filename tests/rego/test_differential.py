"""Differential test: regorus's VM, regorus's interpreter and regopy give identical verdicts.

What guards the default engine (a packaged build of regorus) against drifting from Rego's
semantics: the shipped library and examples/policy-repo are evaluated on 2,000 generated clusters
(four seeds) three ways and compared, each package's ``violation`` compared as a set (element order
differs between engines):

- default parameters: the VM's answer (the default path), the interpreter's and regopy's for the
  same query;
- each cluster again with assignment parameters, two sets per parameterised package: the
  interpreter and regopy evaluate them under ``with input.parameters as ...`` (the entry rule); the
  default path asks the VM, which compiles no ``with``, once per set given as plain ``input.parameters``;
- the Rego test files (`with input as`, `with input.x as`): regorus and regopy give every test
  the same outcome (the VM runs no tests: they all use ``with``).

Any divergence fails naming the policy, the input and both answers. The figures appear in the
test session's summary ("figures" section, see tests/conftest.py).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.inventory import ClusterInventory, Fleet
from engine.inventory.generator import generate_fleet
from engine.rego import RegoLibrary
from engine.rego.bundle import PARAMETER_SETS_KEY, ScanBundle
from engine.rego.engines import IsolatedEngine, RegoRuntimeError
from engine.rego.library import policy_input
from engine.rego.regorus_engine import RegorusEngine
from engine.rego.testing import run_tests
from policies import LIBRARY

REPO = Path(__file__).resolve().parents[2]
POLICY_SETS = {"shipped library": [LIBRARY / "rego"], "examples/policy-repo": [REPO / "examples" / "policy-repo"]}
SEEDS = (3, 17, 29, 101)
CLUSTERS_PER_SEED = 500
VERSIONS = ["1.13.1", "1.14.0", "1.14.1", "1.15.0", "2.0.0"]
EXTENSION_TYPES = ["microsoft.openservicemesh", "microsoft.dapr", "microsoft.flux", "microsoft.azuremonitor.containers"]


def canonical(verdicts: Any) -> Any:
    """Verdicts with every ``violation`` list as a sorted set (engines order set elements differently)."""
    if isinstance(verdicts, RegoRuntimeError):
        return f"error: {verdicts}"
    if isinstance(verdicts, dict):
        return {key: (sorted(orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode() for item in value)
                      if key == "violation" else canonical(value)) for key, value in verdicts.items()}
    if isinstance(verdicts, list):
        return [canonical(item) for item in verdicts]
    return verdicts


def divergence(label: str, document: dict[str, Any], answers: dict[str, Any]) -> str:
    """A readable failure: the policies that differ, the input and each engine's answer for them."""
    packages = sorted({package for answer in answers.values() if isinstance(answer, dict) for package in answer})
    differing = [package for package in packages
                 if len({orjson.dumps(canonical(answer.get(package)) if isinstance(answer, dict) else str(answer))
                         for answer in answers.values()}) > 1] or packages
    lines = [f"{label}: engines disagree on {', '.join(differing)} for the input "
             f"{orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()}"]
    for name, answer in answers.items():
        shown = {package: answer.get(package) for package in differing} if isinstance(answer, dict) else str(answer)
        lines.append(f"  {name}: {orjson.dumps(shown, option=orjson.OPT_SORT_KEYS).decode()}")
    return "\n".join(lines)


def parameter_sets(rng: random.Random, packages: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Two assignments with their own parameters for each parameterised package, {} for the others."""
    chosen: dict[str, list[dict[str, Any]]] = {package: [{}] for package in packages}
    if "arcpolicy.pinned_versions_allowed" in packages:
        chosen["arcpolicy.pinned_versions_allowed"] = [
            {"allowedVersions": {"microsoft.flux": rng.sample(VERSIONS, rng.randint(0, 3)),
                                 "microsoft.dapr": rng.sample(VERSIONS, 1)}} for _ in range(2)]
    if "arcpolicy.retired_extensions_absent" in packages:
        chosen["arcpolicy.retired_extensions_absent"] = [
            {"retiredExtensionTypes": rng.sample(EXTENSION_TYPES, rng.randint(0, 2))}, {}]
    return chosen


@functools.cache
def generated(seed: int) -> tuple[ClusterInventory, ...]:
    return tuple(Fleet(generate_fleet(CLUSTERS_PER_SEED, seed=seed)).clusters())


def documents(bundle: ScanBundle, seed: int) -> tuple[tuple[ClusterInventory, ...], list[dict], list[dict]]:
    """The seed's clusters, their default-parameter inputs and their inputs with assignment parameters."""
    rng = random.Random(seed)
    clusters = generated(seed)
    defaults = {package: [{}] for package in bundle.packages}
    plain = [{**policy_input(cluster), PARAMETER_SETS_KEY: defaults} for cluster in clusters]
    assigned = [{**policy_input(cluster), PARAMETER_SETS_KEY: parameter_sets(rng, bundle.packages)}
                for cluster in clusters]
    return clusters, plain, assigned


@pytest.mark.parametrize("policy_set", POLICY_SETS, ids=lambda name: name.replace("/", "-"))
def test_vm_interpreter_and_regopy_agree_on_generated_clusters(policy_set: str, record_property) -> None:
    library = RegoLibrary.load(POLICY_SETS[policy_set])
    engine = library.engine
    assert isinstance(engine, RegorusEngine) and library.policies
    assert engine.vm_packages == list(range(len(library.bundle.packages)))  # the default path is the VM for all
    regopy = IsolatedEngine(library.bundle)
    compared = violations = 0
    try:
        for seed in SEEDS:
            clusters, plain, assigned = documents(library.bundle, seed)
            ways: dict[str, Callable[[], list[Any]]] = {
                "regorus VM": lambda plain=plain: [engine.vm_results(orjson.dumps(document).decode())
                                                   for document in plain],
                "regorus interpreter": lambda plain=plain: [engine.interpreter_results(document, shared=True)
                                                            for document in plain],
                "regopy": lambda plain=plain: regopy.results_many(plain, shared=True),
            }
            answers = {name: way() for name, way in ways.items()}
            comparisons = [(answers, plain)]
            if assigned[0][PARAMETER_SETS_KEY] != plain[0][PARAMETER_SETS_KEY]:  # the policies take parameters
                comparisons.append(({
                    "regorus interpreter, with": [engine.interpreter_results(document, shared=False)
                                                  for document in assigned],
                    "regopy, with": regopy.results_many(assigned, shared=False),
                    "regorus default path (VM per parameter set)": [engine.results(document, shared=False)
                                                                    for document in assigned]}, assigned))
            for found, document_sets in comparisons:
                for position, document in enumerate(document_sets):
                    each = {name: canonical(results[position]) for name, results in found.items()}
                    first = next(iter(each.values()))
                    assert all(answer == first for answer in each.values()), divergence(
                        f"{policy_set}, seed {seed}", document, {name: results[position]
                                                                for name, results in found.items()})
                    compared += 1
            violations += sum(len(verdict.get("violation", [])) for answer in answers["regorus VM"]
                              for verdicts in answer.values() for verdict in verdicts)
            assert len(clusters) == CLUSTERS_PER_SEED
    finally:
        regopy.close()
    assert violations > 0  # the fleets exercise the policies, not only their compliant paths
    clusters = CLUSTERS_PER_SEED * len(SEEDS)
    record_property("figure", f"rego differential: {policy_set}: {clusters} generated clusters "
                              f"(seeds {', '.join(map(str, SEEDS))}), "
                              f"{compared} inputs (default and assignment parameters under `with`) compared on "
                              f"regorus VM, regorus interpreter and regopy: 0 divergences, {violations} violations")


@pytest.mark.parametrize("policy_set", POLICY_SETS, ids=lambda name: name.replace("/", "-"))
def test_the_rego_test_files_have_the_same_outcomes_on_regorus_and_regopy(policy_set: str, record_property) -> None:
    outcomes = {engine: {(result.name, result.outcome) for result in run_tests(POLICY_SETS[policy_set],
                                                                                 engine=engine).results}
                for engine in ("regorus", "regopy")}
    assert outcomes["regorus"] == outcomes["regopy"]
    assert outcomes["regorus"] and all(outcome == "PASS" for _, outcome in outcomes["regorus"])
    record_property("figure", f"rego differential: {policy_set}: {len(outcomes['regorus'])} Rego tests, same outcome "
                              "on regorus and regopy")


def test_a_divergence_names_the_policy_the_input_and_both_answers() -> None:
    document = {"resource": {"id": "/subscriptions/s/x/c1"}, PARAMETER_SETS_KEY: {"p": [{}], "q": [{}]}}
    same = [{"violation": [{"msg": "a"}, {"msg": "b"}]}]
    message = divergence("shipped library, seed 3", document, {
        "regorus VM": {"p": [{"violation": []}], "q": same},
        "regopy": {"p": [{"violation": [{"msg": "m"}]}], "q": same[::-1]}})
    assert message.splitlines() == [
        'shipped library, seed 3: engines disagree on p for the input {"_parameterSets":{"p":[{}],"q":[{}]},'
        '"resource":{"id":"/subscriptions/s/x/c1"}}',
        '  regorus VM: {"p":[{"violation":[]}]}',
        '  regopy: {"p":[{"violation":[{"msg":"m"}]}]}']
    assert canonical({"p": [{"violation": [{"msg": "b"}, {"msg": "a"}]}]}) == canonical(
        {"p": [{"violation": [{"msg": "a"}, {"msg": "b"}]}]})
