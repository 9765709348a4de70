"""A policy folder of any size loads and scans on every engine (regorus refuses lines over 1,024 columns)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rego.opa_double import OpaServerTestDouble
from rego.opa_oracle import OpaOracle
from rego_fixtures import cluster, extension

from engine.rego import RegoLibrary
from engine.rego.bundle import PARAMETER_SETS_KEY
from engine.rego.library import policy_input
from engine.rego.regorus_engine import RegorusEngine

PACKAGES = 200
PREFIX = "arcpolicy.platform_engineering.fleet_compliance_baseline"


def package(number: int) -> str:
    return f"{PREFIX}.policy_{number:03d}_extensions_of_this_type_run_on_the_approved_release_train_only"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("folder")
    for number in range(PACKAGES):
        (root / f"policy_{number:03d}.rego").write_text(
            f"package {package(number)}\n\n"
            f"violation contains {{\"msg\": concat(\" runs on \", [e.name, e.properties.releaseTrain])}} if {{\n"
            f"\tsome e in input.extensions\n\te.properties.extensionType == \"type{number % 7}\"\n"
            f"\te.properties.releaseTrain != \"Stable\"\n}}\n"
            + ("\napplicable if input.resource.tags.environment == \"production\"\n" if number % 2 else ""))
    return root


CLUSTERS = [cluster(extension("a", "type1", releaseTrain="Preview"), extension("b", "type3", releaseTrain="Stable")),
            cluster(extension("c", "type5", releaseTrain="Preview"), environment="dev")]


def verdicts(library: RegoLibrary) -> list[dict[str, list[tuple[bool, list[str]]]]]:
    sets = {policy.package: [{}] for policy in library.policies}
    return [{package: [(verdict.applicable, [violation.msg for violation in verdict.violations]) for verdict in answer]
             for package, answer in decided.items()} for decided in library.evaluate_many(CLUSTERS, sets)]


def test_two_hundred_packages_with_long_names_load_and_scan_on_every_engine(folder: Path) -> None:
    regorus = RegoLibrary.load([folder])
    assert not regorus.diagnostics and len(regorus.policies) == PACKAGES
    assert isinstance(regorus.engine, RegorusEngine)
    assert regorus.engine.vm_packages == list(range(PACKAGES))  # the generated module compiles on the VM too
    expected = verdicts(regorus)
    assert expected[0][package(1)] == [(True, ["a runs on Preview"])]
    assert expected[1][package(5)] == [(False, [])] and expected[1][package(12)] == [(True, ["c runs on Preview"])]
    assert sum(bool(violations) for answer in expected for [(_, violations)] in answer.values()) > 20
    regopy = RegoLibrary.load([folder], engine="regopy")
    assert not regopy.diagnostics and verdicts(regopy) == expected
    interpreted = [regorus.engine.interpreter_results({**policy_input(each), PARAMETER_SETS_KEY: {}}, shared=True)
                   for each in CLUSTERS]
    with OpaServerTestDouble() as opa:
        remote = RegoLibrary.load([folder], engine="opa", url=opa.url)
        assert verdicts(remote) == expected
    with OpaOracle([(module.name, module.source) for module in regorus.bundle.modules]
                   + list(regorus.bundle.entry_sources)) as judge:
        judged = judge.documents(regorus.bundle.shared_results_path,
                                 [{**policy_input(each), PARAMETER_SETS_KEY: {}} for each in CLUSTERS])
    assert [{package: [(item["applicable"], sorted(v["msg"] for v in item.get("violation", []))) for item in answer]
             for package, answer in found.items()} for found in judged] == expected
    assert interpreted == judged


def test_a_line_over_regorus_limit_loads_and_the_other_packages_stay_on_the_vm(tmp_path: Path) -> None:
    allowed = ", ".join(f'"microsoft.extension_{number:04d}"' for number in range(60))
    (tmp_path / "allow.rego").write_text(f"package long.allow\n\nallowed := {{{allowed}}}\n\n"
                                         "violation contains {\"msg\": e.name} if {\n\tsome e in input.extensions\n"
                                         "\tnot e.properties.extensionType in allowed\n}\n")
    (tmp_path / "short.rego").write_text('package short\n\nviolation contains {"msg": "none"} if count(input.extensions) == 0\n')
    assert len(max((tmp_path / "allow.rego").read_text().splitlines(), key=len)) > 1024
    library = RegoLibrary.load([tmp_path])
    assert not library.diagnostics
    assert isinstance(library.engine, RegorusEngine) and library.engine.vm_packages == [1]  # short, not allow
    decided = library.evaluate(cluster(extension("x", "microsoft.extension_0001"), extension("y", "other")))
    assert [violation.msg for violation in decided["long.allow"].violations] == ["y"]
