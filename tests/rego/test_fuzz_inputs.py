"""Hypothesis fuzzer over input documents for the shipped policies (and examples/policy-repo) on regorus.

This is how arcpolicy found out whether regorus needs crash isolation (it runs in process): the
fuzzing runs in a child process (:func:`engine.rego.isolation.call_isolated`) that records each
input before evaluating it, so a crash (SIGSEGV, abort) is counted and the input that caused it is
shown instead of killing the test session. Inputs are shaped like the author contract, with wrong
types and odd values everywhere (numbers for names, objects for lists, deep nesting, unicode), and
parameter sets that force the ``with`` path. An answer is a verdict or a RegoRuntimeError (the
engine refusing); any other exception, or a dead child, fails the test. Every input also goes to
regopy: a verdict that differs from regopy's while neither engine reports an error fails the test
(regorus's interpreter raises built-in errors that OPA and regopy turn into undefined, so regorus
may give an Error where regopy answers; those are counted).

The default suite runs a fixed, derandomised budget; ``make fuzz`` (ARCPOLICY_FUZZ_EXAMPLES) runs more.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_differential import canonical

from engine.rego import RegoLibrary
from engine.rego.bundle import PARAMETER_SETS_KEY
from engine.rego.engines import IsolatedEngine, RegoEngine, RegoRuntimeError
from engine.rego.isolation import EngineCrash, call_isolated
from engine.rego.regorus_engine import json_text
from policies import LIBRARY

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("ARCPOLICY_FUZZ_EXAMPLES", "400"))
POLICIES = [LIBRARY / "rego", REPO / "examples" / "policy-repo" / "policies"]

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["Microsoft.Flux", "microsoft.openservicemesh", "Stable",
                                                           "Preview", "production", "k3s", "aks", "1.14.0", ""]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=20)
EXTENSION_TYPES = st.sampled_from(["Microsoft.Flux", "microsoft.azuremonitor.containers",
                                   "microsoft.azuredefender.kubernetes", "microsoft.openservicemesh",
                                   "MICROSOFT.DAPR", "", "x"])
PROPERTIES = st.fixed_dictionaries({}, optional={
    "extensionType": st.one_of(EXTENSION_TYPES, JSON), "releaseTrain": st.one_of(st.sampled_from(["Stable", "preview"]),
                                                                                 JSON),
    "version": st.one_of(st.sampled_from(["1.14.0", "1.13.1", None]), JSON),
    "autoUpgradeMinorVersion": st.one_of(st.booleans(), JSON), "provisioningState": st.one_of(st.text(max_size=9),
                                                                                              JSON),
    "configurationSettings": JSON, "configurationProtectedSettings": JSON, "distribution": JSON})
RESOURCE_LIKE = st.fixed_dictionaries({}, optional={
    "id": st.text(max_size=30), "name": st.one_of(st.text(max_size=10), JSON), "type": st.one_of(st.sampled_from([
        "Microsoft.Kubernetes/connectedClusters", "Microsoft.ContainerService/managedClusters",
        "Microsoft.KubernetesConfiguration/extensions"]), JSON),
    "tags": st.one_of(st.dictionaries(st.sampled_from(["environment", "Environment", "x"]),
                                      st.one_of(st.sampled_from(["production", "Production", "dev"]), JSON)), JSON),
    "properties": st.one_of(PROPERTIES, JSON), "kind": JSON})
PARAMETERS = st.one_of(st.just({}), st.fixed_dictionaries({}, optional={
    "allowedVersions": st.one_of(st.dictionaries(EXTENSION_TYPES, st.lists(st.text(max_size=6), max_size=3)), JSON),
    "retiredExtensionTypes": st.one_of(st.lists(EXTENSION_TYPES, max_size=3), JSON)}), JSON)
DOCUMENTS = st.fixed_dictionaries({
    "resource": st.one_of(RESOURCE_LIKE, JSON),
    "extensions": st.one_of(st.lists(st.one_of(RESOURCE_LIKE, JSON), max_size=5), JSON),
    "fluxConfigurations": st.one_of(st.lists(RESOURCE_LIKE, max_size=2), JSON),
    "parameters": PARAMETERS,
}, optional={"extra": JSON})


def per_package(engine: RegoEngine, document: dict[str, Any], shared: bool) -> dict[str, Any]:
    """Each package's verdicts (``violation`` as a set), or ``"error"``: as the library asks, package by package
    after a failed combined query."""
    packages = engine.bundle.packages
    try:
        answer = engine.results(document, shared)
        return {package: canonical(answer.get(package)) for package in packages}
    except RegoRuntimeError:
        found = {}
        for index, package in enumerate(packages):
            try:
                found[package] = canonical(engine.package_results(document, index))
            except RegoRuntimeError:
                found[package] = "error"
        return found


Answer = tuple[int, dict[str, Any], bool, dict[str, Any]]  # policy set, input, shared, regorus's answer


def fuzz_in_child(journal: str, examples: int) -> list[Answer]:
    """In the child: evaluate ``examples`` generated inputs on every policy set; regorus's answers."""
    libraries = [RegoLibrary.load([path]) for path in POLICIES]
    answers: list[Answer] = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(document=DOCUMENTS, second=PARAMETERS)
    def evaluate(document: dict[str, Any], second: Any) -> None:
        for number, library in enumerate(libraries):
            packages = library.bundle.packages
            for shared, sets in ((True, {package: [document["parameters"]] for package in packages}),
                                 (False, {package: [document["parameters"], second] for package in packages})):
                full = {**document, PARAMETER_SETS_KEY: sets}
                with open(journal, "w") as out:  # the parent reads it after a crash
                    out.write(json_text(full))
                answers.append((number, full, shared, per_package(library.engine, full, shared)))

    evaluate()
    return answers


def compare_with_regopy(answers: list[Answer]) -> Counter[str]:
    """Ask regopy the same; a verdict that differs while neither engine reports an error fails with the input."""
    counts: Counter[str] = Counter()
    twins = [IsolatedEngine(RegoLibrary.load([path]).bundle) for path in POLICIES]
    try:
        for number, document, shared, ours in answers:
            theirs = per_package(twins[number], document, shared)
            for package, verdicts in ours.items():
                counts["Error records" if verdicts == "error" else "verdicts"] += 1
                if verdicts == theirs[package]:
                    counts["same as regopy"] += 1
                elif "error" in (verdicts, theirs[package]):
                    counts["regorus Error" if verdicts == "error" else "regopy Error"] += 1
                else:
                    raise AssertionError(f"{package}: regorus {verdicts} but regopy {theirs[package]} for the input "
                                         f"{json_text(document)[:2000]}")
    finally:
        for twin in twins:
            twin.close()
    return counts


def test_fuzzed_inputs_neither_crash_regorus_nor_silently_differ_from_regopy(tmp_path: Path, record_property) -> None:
    journal = tmp_path / "current-input.json"
    try:
        answers = call_isolated(fuzz_in_child, str(journal), EXAMPLES)
    except EngineCrash as crash:
        record_property("figure", f"rego fuzzer: regorus crashed: {crash.reason}")
        raise AssertionError(f"regorus crashed ({crash.reason}) on the input {journal.read_text()[:2000]}") from None
    assert len(answers) >= EXAMPLES * 2 * len(POLICIES)
    counts = compare_with_regopy(answers)
    assert counts["verdicts"] > 0 and counts["same as regopy"] > counts["verdicts"] // 2
    record_property("figure", f"rego fuzzer: {len(answers)} fuzzed inputs ({EXAMPLES} Hypothesis examples x "
                              f"{len(POLICIES)} policy sets x default and `with` parameter paths) on regorus in "
                              f"process: 0 crashes; per policy {counts['verdicts']} verdicts, "
                              f"{counts['Error records']} Error records; against regopy: {counts['same as regopy']} "
                              f"same, 0 silent divergences, {counts['regorus Error']} Error on regorus where regopy "
                              f"answers (regorus's interpreter raises built-in errors), {counts['regopy Error']} "
                              "Error on regopy where regorus answers")
