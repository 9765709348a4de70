"""Hypothesis fuzzer over input documents for the shipped policies (and examples/policy-repo) on regorus.

This is how arcpolicy found out whether regorus needs crash isolation (it runs in process): the
fuzzing runs in a child process (:func:`engine.rego.isolation.call_isolated`) that records each
input before evaluating it, so a crash (SIGSEGV, abort) is counted and the input that caused it is
shown instead of killing the test session. Inputs are shaped like the author contract, with wrong
types and odd values everywhere (numbers for names, objects for lists, deep nesting, unicode), and
parameter sets that force the ``with`` path. An answer is a verdict or a RegoRuntimeError (the
engine refusing); any other exception, or a dead child, fails the test.

The default suite runs a fixed, derandomised budget; ``make fuzz`` (ARCPOLICY_FUZZ_EXAMPLES) runs more.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rego import RegoLibrary
from engine.rego.bundle import PARAMETER_SETS_KEY
from engine.rego.engines import RegoRuntimeError
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


def fuzz_in_child(journal: str, examples: int) -> dict[str, int]:
    """In the child: evaluate ``examples`` generated inputs on every policy set; the counts of what came back."""
    libraries = [RegoLibrary.load([path]) for path in POLICIES]
    counts = {"inputs": 0, "verdicts": 0, "runtime errors": 0}

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(document=DOCUMENTS, second=PARAMETERS)
    def evaluate(document: dict[str, Any], second: Any) -> None:
        for library in libraries:
            packages = library.bundle.packages
            for shared, sets in ((True, {package: [document["parameters"]] for package in packages}),
                                 (False, {package: [document["parameters"], second] for package in packages})):
                full = {**document, PARAMETER_SETS_KEY: sets}
                with open(journal, "w") as out:  # the parent reads it after a crash
                    out.write(json_text(full))
                counts["inputs"] += 1
                try:
                    library.engine.results(full, shared)
                    counts["verdicts"] += 1
                except RegoRuntimeError:
                    counts["runtime errors"] += 1

    evaluate()
    return counts


def test_no_input_crashes_regorus_in_process(tmp_path: Path, record_property) -> None:
    journal = tmp_path / "current-input.json"
    try:
        counts = call_isolated(fuzz_in_child, str(journal), EXAMPLES)
    except EngineCrash as crash:
        record_property("figure", f"rego fuzzer: regorus crashed: {crash.reason}")
        raise AssertionError(f"regorus crashed ({crash.reason}) on the input {journal.read_text()[:2000]}") from None
    assert counts["inputs"] >= EXAMPLES * 2 * len(POLICIES)
    assert counts["verdicts"] > 0
    record_property("figure", f"rego fuzzer: {counts['inputs']} fuzzed inputs ({EXAMPLES} Hypothesis examples x "
                              f"{len(POLICIES)} policy sets x default and `with` parameter paths) on regorus in "
                              f"process: 0 crashes, {counts['verdicts']} verdicts, {counts['runtime errors']} "
                              "runtime errors (Error records)")
