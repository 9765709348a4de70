"""The two `with` idioms of Rego authors pass on the default engine (regorus): `with input as {...}` and
`with data.x as {...}`, written in test rules (run by `arcpolicy test`) and in policy rules (run by a scan)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rego_fixtures import cluster, extension

from engine.cli.main import main
from engine.rego import RegoLibrary

POLICY = '''package idiom.allowed_types

# METADATA is optional; the allowed types can be replaced with `with data.idiom.allowed_types.allowed as ...`
allowed := {"microsoft.flux"}

violation contains {"msg": concat("", ["extension type ", type, " is not allowed"])} if {
	some e in input.extensions
	type := lower(e.properties.extensionType)
	not type in allowed
}
'''
TESTS = '''package idiom.allowed_types_test

import data.idiom.allowed_types

flux := {"name": "flux", "properties": {"extensionType": "Microsoft.Flux"}}

dapr := {"name": "dapr", "properties": {"extensionType": "Microsoft.Dapr"}}

test_whole_input_replaced if {
	count(allowed_types.violation) == 1 with input as {"resource": {}, "extensions": [flux, dapr]}
}

test_input_part_replaced if {
	count(allowed_types.violation) == 0 with input.extensions as [flux]
}

test_rule_replaced_with_data if {
	count(allowed_types.violation) == 0 with input as {"extensions": [dapr]}
		with data.idiom.allowed_types.allowed as {"microsoft.dapr"}
}

test_message if {
	allowed_types.violation == {{"msg": "extension type microsoft.dapr is not allowed"}} with input.extensions as [dapr]
}
'''
# both idioms inside policy rules: a second opinion on a fixed input, and a data document replaced
IN_POLICY = '''package idiom.in_policy

reference_cluster := {"extensions": [{"name": "osm", "properties": {"extensionType": "microsoft.openservicemesh"}}]}

names contains lower(e.name) if {
	some e in input.extensions
}

violation contains {"msg": concat("", ["reference cluster has ", name])} if {
	some name in names with input as reference_cluster
}

violation contains {"msg": concat("", ["limit ", format_int(limit, 10)])} if {
	limit := data.idiom.settings.limit with data.idiom.settings.limit as 3
	count(input.extensions) < limit
}
'''


def test_authors_tests_with_both_idioms_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "allowed_types.rego").write_text(POLICY)
    (tmp_path / "allowed_types_test.rego").write_text(TESTS)
    assert main(["test", "-v", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for test in ("test_whole_input_replaced", "test_input_part_replaced", "test_rule_replaced_with_data",
                 "test_message"):
        assert f"data.idiom.allowed_types_test.{test}: PASS" in out
    assert "PASS: 4/4" in out


def test_a_wrong_expectation_under_with_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The idioms are really evaluated: the same test expecting the opposite fails."""
    (tmp_path / "allowed_types.rego").write_text(POLICY)
    (tmp_path / "allowed_types_test.rego").write_text(
        TESTS.replace('as {"microsoft.dapr"}', 'as {"microsoft.flux"}'))
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "data.idiom.allowed_types_test.test_rule_replaced_with_data: FAIL (" in out
    assert "FAIL: 1/4" in out


def test_both_idioms_inside_policy_rules_in_a_scan(tmp_path: Path) -> None:
    (tmp_path / "in_policy.rego").write_text(IN_POLICY)
    library = RegoLibrary.load([tmp_path])
    assert library.diagnostics == []
    lonely = library.evaluate(cluster())["idiom.in_policy"]
    assert sorted(violation.msg for violation in lonely.violations) == ["limit 3", "reference cluster has osm"]
    busy = cluster(*(extension(f"e{n}", "microsoft.flux") for n in range(3)))
    verdict = library.evaluate(busy)["idiom.in_policy"]
    assert [violation.msg for violation in verdict.violations] == ["reference cluster has osm"]
