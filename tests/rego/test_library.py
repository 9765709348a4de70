"""The Rego library: author contract, compile and runtime errors, parameters, secrets."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from rego_fixtures import cluster, extension

from engine.errors import InputError
from engine.rego import RegoLibrary
from policies import LIBRARY

CONTRACT = '''# METADATA
# title: Contract probe
# description: Reports what it sees.
# custom:
#   effect: audit
package probe.contract

applicable if input.resource.tags.environment != "dev"

violation contains {"msg": concat("", ["sees ", format_int(count(input.extensions), 10), " extensions, ",
	format_int(count(input.fluxConfigurations), 10), " flux configurations"]),
	"details": {"threshold": input.parameters.threshold}} if {
	count(input.extensions) > input.parameters.threshold
}
'''

CONFLICT = '''package probe.conflict

mode := "a"
mode := "b" if input.resource.name == "edge-1"

violation contains {"msg": mode} if true
'''


def test_shipped_library_loads_six_policies_with_metadata() -> None:
    library = RegoLibrary.load([LIBRARY / "rego"])
    assert library.diagnostics == []
    assert [policy.package for policy in library.policies] == [
        "arcpolicy.defender_required_non_aks", "arcpolicy.flux_auto_upgrade", "arcpolicy.monitoring_required",
        "arcpolicy.no_preview_in_production", "arcpolicy.pinned_versions_allowed",
        "arcpolicy.retired_extensions_absent"]
    monitoring = library.policy("arcpolicy.monitoring_required")
    assert monitoring is not None
    assert monitoring.effect == "deployIfNotExists"
    assert monitoring.title == "Azure Monitor container insights on the Stable train"
    assert monitoring.definition_id == "rego:arcpolicy.monitoring_required"


def test_input_document_parameters_and_applicable(write_policy: Callable[[str, str], Path]) -> None:
    library = RegoLibrary.load([write_policy("contract.rego", CONTRACT)])
    two = cluster(extension("a", "microsoft.flux"), extension("b", "microsoft.dapr"), flux=1)
    verdict = library.evaluate(two, {"probe.contract": {"threshold": 1}})["probe.contract"]
    assert verdict.applicable and not verdict.compliant
    assert [violation.msg for violation in verdict.violations] == ["sees 2 extensions, 1 flux configurations"]
    assert verdict.violations[0].details == {"threshold": 1}
    assert library.evaluate(two, {"probe.contract": {"threshold": 5}})["probe.contract"].compliant
    dev = cluster(environment="dev")
    assert library.evaluate(dev, {"probe.contract": {"threshold": 0}})["probe.contract"].applicable is False


def test_parameter_sets_of_several_assignments_in_one_query(write_policy: Callable[[str, str], Path]) -> None:
    library = RegoLibrary.load([write_policy("contract.rego", CONTRACT)])
    verdicts = library.evaluate_sets(cluster(extension("a", "microsoft.flux")),
                                     {"probe.contract": [{"threshold": 0}, {"threshold": 3}]})
    assert [verdict.compliant for verdict in verdicts["probe.contract"]] == [False, True]


def test_compile_error_is_reported_with_file_and_line_and_skipped(
        write_policy: Callable[[str, str], Path]) -> None:
    write_policy("good.rego", CONTRACT)
    directory = write_policy("broken.rego", "package probe.broken\n\nviolation contains {\"msg\": x} if {\n  x = \n}\n")
    library = RegoLibrary.load([directory])
    assert [policy.package for policy in library.policies] == ["probe.contract"]
    [diagnostic] = library.diagnostics
    assert diagnostic.file.endswith("broken.rego")
    assert (diagnostic.line, diagnostic.column) == (4, 5)  # regorus's place: the `=` with nothing after it
    assert diagnostic.message == "expecting `}` while parsing set"
    assert str(diagnostic) == f"{directory / 'broken.rego'}:4:5: expecting `}}` while parsing set"


def test_bad_effect_and_package_are_diagnostics(write_policy: Callable[[str, str], Path]) -> None:
    write_policy("effect.rego", "# METADATA\n# custom:\n#   effect: modify\npackage probe.effect\n\n"
                                "violation contains {\"msg\": \"x\"} if true\n")
    directory = write_policy("nopackage.rego", "violation contains {\"msg\": \"x\"} if true\n")
    library = RegoLibrary.load([directory])
    assert library.policies == []
    messages = sorted(str(diagnostic) for diagnostic in library.diagnostics)
    assert "custom.effect must be one of" in messages[0] and "effect.rego:3" in messages[0]
    assert messages[1].endswith("nopackage.rego:1: no package declaration")


def test_runtime_error_is_isolated_to_its_policy(write_policy: Callable[[str, str], Path]) -> None:
    write_policy("contract.rego", CONTRACT)
    directory = write_policy("conflict.rego", CONFLICT)
    library = RegoLibrary.load([directory])
    verdicts = library.evaluate(cluster(), {"probe.contract": {"threshold": 5}})
    assert verdicts["probe.conflict"].error == f"{directory / 'conflict.rego'}:4:1: rule conflicts with rule at " \
                                               f"{directory / 'conflict.rego'}:3:1"
    assert not verdicts["probe.conflict"].compliant
    assert verdicts["probe.contract"].error is None and verdicts["probe.contract"].compliant


def test_violation_without_msg_breaks_the_contract(write_policy: Callable[[str, str], Path]) -> None:
    library = RegoLibrary.load([write_policy("nomsg.rego", "package probe.nomsg\n\n"
                                                           "violation contains {\"text\": \"x\"} if true\n")])
    verdict = library.evaluate(cluster())["probe.nomsg"]
    assert verdict.error is not None and "msg" in verdict.error


def test_protected_setting_values_never_reach_policies(write_policy: Callable[[str, str], Path]) -> None:
    library = RegoLibrary.load([write_policy("leak.rego", "package probe.leak\n\nviolation contains {\"msg\": "
                                "\"echo\", \"details\": e.properties} if { some e in input.extensions }\n")])
    secret = extension("defender", "microsoft.azuredefender.kubernetes",
                       configurationProtectedSettings={"logAnalytics.key": "s3cr3t-workspace-key"})
    verdict = library.evaluate(cluster(secret))["probe.leak"]
    assert verdict.violations[0].details["configurationProtectedSettings"] == {"logAnalytics.key": ""}
    assert "s3cr3t" not in verdict.model_dump_json()


def test_remediation_action_is_inferred_from_the_cluster() -> None:
    library = RegoLibrary.load([LIBRARY / "rego"])
    missing = library.evaluate(cluster())["arcpolicy.flux_auto_upgrade"].violations[0].remediation
    pinned = library.evaluate(cluster(extension("flux", "microsoft.flux", autoUpgradeMinorVersion=False)))
    assert missing is not None and missing.action == "create"
    update = pinned["arcpolicy.flux_auto_upgrade"].violations[0].remediation
    assert update is not None and update.action == "update" and update.properties["autoUpgradeMinorVersion"] is True


def test_retired_extension_is_deleted_and_pinned_versions_use_parameters() -> None:
    library = RegoLibrary.load([LIBRARY / "rego"])
    osm = extension("osm", "microsoft.openservicemesh")
    pinned = extension("flux", "microsoft.flux", autoUpgradeMinorVersion=False, version="1.13.1")
    verdicts = library.evaluate(cluster(osm, pinned), {
        "arcpolicy.pinned_versions_allowed": {"allowedVersions": {"microsoft.flux": ["1.14.0", "1.14.1"]}}})
    [delete] = verdicts["arcpolicy.retired_extensions_absent"].violations
    assert delete.remediation is not None and (delete.remediation.name, delete.remediation.action) == ("osm", "delete")
    [upgrade] = verdicts["arcpolicy.pinned_versions_allowed"].violations
    assert upgrade.remediation is not None and upgrade.remediation.properties == {"version": "1.14.1"}
    assert library.evaluate(cluster(osm, pinned))["arcpolicy.pinned_versions_allowed"].compliant


def test_unknown_package_and_engine_are_bad_input() -> None:
    library = RegoLibrary.load([LIBRARY / "rego"])
    with pytest.raises(InputError, match="no loaded Rego policy"):
        library.evaluate_sets(cluster(), {"arcpolicy.nope": [{}]})
    with pytest.raises(InputError, match="unknown engine"):
        RegoLibrary.load([LIBRARY / "rego"], engine="wasm")


def test_library_pickles_to_worker_processes() -> None:
    library = RegoLibrary.load([LIBRARY / "rego"])
    copy = pickle.loads(pickle.dumps(library))
    sample = cluster(extension("osm", "microsoft.openservicemesh"))
    assert copy.evaluate(sample) == library.evaluate(sample)
