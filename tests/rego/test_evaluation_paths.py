"""The embedded engine's fast paths give the verdicts of the plain ones.

- the input built through regopy's C API equals regopy's own ``Input`` conversion;
- a package evaluated as is (its set is ``input.parameters``), through ``with input.parameters``
  and through the all-packages-share-one-set rule gives the same verdicts;
- the process-pool fleet helper gives the serial verdicts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum

import pytest
from regopy import Input

from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet
from engine.rego import RegoLibrary
from engine.rego.engines import new_interpreter, set_input
from policies import LIBRARY

PINNED = "arcpolicy.pinned_versions_allowed"
RETIRED = "arcpolicy.retired_extensions_absent"
ALLOW_FLUX = {"allowedVersions": {"Microsoft.Flux": ["1.14.0"]}}
RETIRE_FLUX = {"retiredExtensionTypes": ["microsoft.flux"]}


class Train(StrEnum):
    STABLE = "Stable"


def _seen_input(document: object, own_builder: bool) -> object:
    interpreter = new_interpreter()
    if own_builder:
        set_input(interpreter, document)
    else:
        interpreter.set_input(Input(document))
    return json.loads(str(interpreter.query("x := input")))["bindings"]["x"]


@pytest.mark.parametrize("document", [
    {"resource": {"name": "édge-1 ✓", "tags": {}, "properties": {"nodes": 3, "ratio": 0.25, "on": True,
                                                                   "off": False, "none": None}},
     "extensions": [{"name": "a", "list": [1, [2, [3]], {"deep": {"er": []}}]}, {}], "parameters": {}},
    {"tuple": (1, "two"), "set": {"x"}, "enum": Train.STABLE, "negative": -(2 ** 62), "empty": ""},
    [], "just a string", 7, None,
], ids=["cluster-shaped", "other-python-types", "empty-array", "string", "number", "null"])
def test_input_builder_gives_regopys_input(document: object) -> None:
    assert _seen_input(document, own_builder=True) == _seen_input(document, own_builder=False)


def test_input_builder_rejects_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="datetime cannot be part of a Rego input"):
        set_input(new_interpreter(), {"key": datetime(2026, 11, 1, tzinfo=UTC)})


@pytest.fixture(scope="module")
def library() -> RegoLibrary:
    return RegoLibrary.load([LIBRARY / "rego"])


@pytest.fixture(scope="module")
def clusters() -> list:
    return list(Fleet(generate_fleet(40, seed=3)).clusters())


def test_parameter_paths_agree(library: RegoLibrary, clusters: list) -> None:
    mixed = {package: [{}] for package in library.bundle.packages}
    mixed[PINNED] = [ALLOW_FLUX]  # a single set that is not input.parameters: with clause
    mixed[RETIRED] = [{}, RETIRE_FLUX]  # two sets: with clause for each
    answers = library.evaluate_many(clusters, mixed)
    shared = library.evaluate_many(clusters, {package: [{}] for package in library.bundle.packages})
    for cluster, answer, plain in zip(clusters, answers, shared, strict=True):
        for package, chosen in mixed.items():
            for parameters, verdict in zip(chosen, answer[package], strict=True):
                [alone] = library.evaluate_sets(cluster, {package: [parameters]})[package]  # as is, no with
                assert verdict == alone, (cluster.id, package, parameters)
                if parameters == {}:
                    assert verdict == plain[package][0]
    # the parameters changed verdicts, so the comparison is not vacuous
    assert any(answer[PINNED][0].violations for answer in answers)
    assert not any(answer[PINNED][0].violations for answer in shared)
    assert any(answer[RETIRED][1].violations for answer in answers)


def test_fleet_helper_in_worker_processes_gives_the_serial_verdicts(library: RegoLibrary) -> None:
    fleet = Fleet(generate_fleet(220, seed=9))
    sets = {package: [{}] for package in library.bundle.packages}
    sets[PINNED] = [ALLOW_FLUX]
    parallel = library.evaluate_fleet(fleet, sets, workers=2)
    serial = library.evaluate_fleet(fleet, sets, workers=1)
    assert len(parallel) == 220
    assert parallel == serial
