"""Expressions a careless or hostile author writes: each is refused with one line and exit 2, in a policy
rule (``scan``) and in a DINE deployment template (``plan``), and nothing is written; none exits 3.

The cases are the ones issue 16's audit found crashing, hanging or exhausting memory.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from azure_policy.builders import BUILTINS, cluster, write_json

from engine.cli.main import main
from engine.expressions import COMMON_FUNCTIONS, EvaluationError, compile_expression
from engine.limits import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH

HOSTILE = [
    "[first(5)]",
    "[div('a',2)]",
    "[padLeft('a','b')]",
    "[max(createArray())]",
    "[take('abc','x')]",
    "[substring('abc',json('null'))]",
    "[base64ToString('abc')]",
    "[base64ToString('/w==')]",
    "[concat(]",
    "[" + "concat(" * 5000 + "'a'" + ")" * 5000 + "]",  # RecursionError before
    "[" + "concat(" * (MAX_EXPRESSION_DEPTH + 1) + "'a'" + ")" * (MAX_EXPRESSION_DEPTH + 1) + "]",
    "[length(range(0,2000000000))]",  # 4 GB before
    "[mul(1000000000,'ab')]",  # 2 GB before
    "[padLeft('a',1000000000)]",
    "[format('{0:D999999999}', 1)]",
    "[replace(padLeft('a',4000000,'a'),'a','aaaaaaaaaa')]",
    "[mul(9223372036854775807,2)]",
    "[int('" + "1" * 5000 + "')]",
    "[json('" + "[" * 100000 + "')]",
]
POLICY_ONLY = ["[field(createObject('a',1))]", "[field(5)]", "[parameters(5)]"]
TEMPLATE_ONLY = ["[parameters(5)]", "[variables(5)]"]


def _error_lines(stderr: str) -> list[str]:
    """The error lines (progress lines aside); a traceback would be more than one."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("arcpolicy:")]


def _short(expression: str) -> str:
    return expression if len(expression) < 40 else expression[:37] + "..."


def _scan(tmp_path: Path, policy_rule: dict[str, Any], fleet: list[dict[str, Any]]) -> tuple[int, str, Path]:
    policy = write_json(tmp_path / "hostile.json", {"properties": {"mode": "All", "policyRule": policy_rule}})
    inventory = write_json(tmp_path / "fleet.json", fleet)
    out = tmp_path / "states.json"
    return main(["scan", "-i", str(inventory), "-p", str(policy), "-o", str(out)]), str(policy), out


@pytest.mark.parametrize("expression", HOSTILE + POLICY_ONLY, ids=_short)
def test_policy_rule_expression_is_refused_with_exit_2(tmp_path: Path, capsys, expression: str) -> None:
    status, policy, out = _scan(tmp_path, {"if": {"value": expression, "equals": "x"}, "then": {"effect": "audit"}},
                                [cluster("c1")])
    error = _error_lines(capsys.readouterr().err)
    assert status == 2
    assert len(error) == 1 and f"{policy}: policyRule.if.value: bad expression" in error[0]
    assert len(error[0]) < 1000
    assert not out.exists()


def _dine_with(release_train: Any = None, copy_count: Any = None) -> dict[str, Any]:
    definition = copy.deepcopy(json.loads((BUILTINS / "ArcPolicyExtension_DINE.json").read_text()))
    resource = definition["properties"]["policyRule"]["then"]["details"]["deployment"]["properties"]["template"][
        "resources"][0]
    if release_train is not None:
        resource["properties"]["releaseTrain"] = release_train
    if copy_count is not None:
        resource["copy"] = {"name": "loop", "count": copy_count}
    return definition


def _plan(tmp_path: Path, definition: dict[str, Any]) -> tuple[int, str, Path]:
    policy = write_json(tmp_path / "hostile.json", definition)
    inventory = write_json(tmp_path / "fleet.json", [cluster("c1")])
    out = tmp_path / "plan.json"
    status = main(["plan", "-i", str(inventory), "-p", str(policy), "-o", str(out), "--workers", "1"])
    return status, str(policy), out


@pytest.mark.parametrize("expression", HOSTILE + TEMPLATE_ONLY, ids=_short)
def test_template_expression_is_refused_with_exit_2(tmp_path: Path, capsys, expression: str) -> None:
    status, policy, out = _plan(tmp_path, _dine_with(release_train=expression))
    error = _error_lines(capsys.readouterr().err)
    assert status == 2
    assert len(error) == 1 and f"{policy}: " in error[0]
    assert "template.resources[0].properties.releaseTrain" in error[0] and len(error[0]) < 1000
    assert not out.exists()


@pytest.mark.parametrize("count", ["[json('null')]", "[add(7,1000000)]", -1, "[createObject()]", True, "eight"])
def test_copy_count_outside_arms_limits_is_refused(tmp_path: Path, capsys, count: Any) -> None:
    status, policy, out = _plan(tmp_path, _dine_with(copy_count=count))
    assert policy.endswith("hostile.json")
    error = _error_lines(capsys.readouterr().err)
    assert status == 2
    assert len(error) == 1 and "template.resources[0].copy.count: a copy count is an integer from 0 to 800" in error[0]
    assert not out.exists()


def test_an_expression_failing_on_one_clusters_value_is_that_records_error(tmp_path: Path, capsys) -> None:
    """Azure marks the record it cannot evaluate as an error; the rest of the scan goes on."""
    rule = {"if": {"value": "[first(field('Microsoft.Kubernetes/connectedClusters/totalNodeCount'))]",
                   "equals": "1"}, "then": {"effect": "audit"}}
    status, _, out = _scan(tmp_path, rule, [cluster("counted", totalNodeCount=3),
                                            cluster("named", totalNodeCount="12")])
    assert status == 1
    states = {record["resourceId"].rsplit("/", 1)[-1]: record for record in json.loads(out.read_text())["value"]}
    assert states["counted"]["complianceState"] == "Error"
    assert "first() expects an array or a string as argument 1, got an integer" in json.dumps(states["counted"])
    assert states["named"]["complianceState"] == "NonCompliant"  # first('12') is '1'


def test_an_untaken_if_branch_that_would_fail_costs_nothing() -> None:
    """Failing constants fail when evaluated: ARM evaluates only the branch ``if`` takes."""
    assert compile_expression("[if(true(), 'ok', first(5))]", COMMON_FUNCTIONS)(None) == "ok"
    with pytest.raises(EvaluationError, match="first"):
        compile_expression("[if(false(), 'ok', first(5))]", COMMON_FUNCTIONS)(None)


def test_limits_are_arms_and_exactly_at_them_works() -> None:
    deepest = "[" + "concat(" * MAX_EXPRESSION_DEPTH + "'a'" + ")" * MAX_EXPRESSION_DEPTH + "]"
    assert compile_expression(deepest, COMMON_FUNCTIONS)(None) == "a"
    longest = "[concat('" + "a" * (MAX_EXPRESSION_LENGTH - len("[concat('')]")) + "')]"
    assert len(compile_expression(longest, COMMON_FUNCTIONS)(None)) == MAX_EXPRESSION_LENGTH - len("[concat('')]")
    assert compile_expression("[length(range(2147473647, 10000))]", COMMON_FUNCTIONS)(None) == 10000
    assert compile_expression("[mul(4611686018427387903, 2)]", COMMON_FUNCTIONS)(None) == 2**63 - 2


def _doubling(function: str, levels: int) -> dict[str, str]:
    variables = {"v0": "[padLeft('x', 1000, 'x')]"}
    for level in range(1, levels + 1):
        variables[f"v{level}"] = f"[{function}(variables('v{level - 1}'), variables('v{level - 1}'))]"
    return variables


@pytest.mark.parametrize(("variables", "used"), [
    (_doubling("createArray", 40), "[variables('v40')]"),  # 2^40 KB of JSON from shared arrays
    (_doubling("createArray", 40), "[length(string(variables('v40')))]"),
    (_doubling("concat", 40), "[variables('v40')]"),  # 2^40 KB of string
    ({f"v{level}": f"[variables('v{level - 1}')]" if level else "x" for level in range(400)}, "[variables('v399')]"),
], ids=["shared-arrays", "shared-arrays-as-string", "doubled-strings", "400-deep-chain"])
def test_template_variables_cannot_build_unbounded_values(tmp_path: Path, capsys, variables: dict[str, str],
                                                          used: str) -> None:
    definition = _dine_with(release_train=used)
    template = definition["properties"]["policyRule"]["then"]["details"]["deployment"]["properties"]["template"]
    template["variables"] = variables
    status, policy, out = _plan(tmp_path, definition)
    error = _error_lines(capsys.readouterr().err)
    assert status == 2
    assert len(error) == 1 and f"{policy}: " in error[0] and len(error[0]) < 1000
    assert not out.exists()


@pytest.mark.parametrize("rule", [
    '{"if": ' + '{"not": ' * 1015 + '{"field": "type", "equals": "x"}' + "}" * 1015 + ', "then": {"effect": "audit"}}',
    '{"if": {"value": ' + "[" * 1015 + "]" * 1015 + ', "equals": 1}, "then": {"effect": "audit"}}',
], ids=["1015-nots", "1015-deep-value"])
def test_deeply_nested_policy_files_are_refused(tmp_path: Path, capsys, rule: str) -> None:
    """orjson reads 1,024 levels; the compiler and encoders recursed out of stack (exit 3) before."""
    policy = tmp_path / "deep.json"
    policy.write_text('{"properties": {"mode": "All", "policyRule": ' + rule + "}}")
    inventory = write_json(tmp_path / "fleet.json", [cluster("c1")])
    out = tmp_path / "states.json"
    assert main(["scan", "-i", str(inventory), "-p", str(policy), "-o", str(out)]) == 2
    error = _error_lines(capsys.readouterr().err)
    assert error == [f"arcpolicy: error: {policy}: objects and arrays nested more than 64 levels deep"]
    assert not out.exists()


def test_union_and_intersection_of_arms_largest_arrays_are_linear() -> None:
    """Item-by-item comparison made these quadratic: 50,000 items ran for minutes."""
    ranges = ", ".join(f"range({start}, 10000)" for start in range(0, 5000, 1000))
    assert compile_expression(f"[length(union({ranges}))]", COMMON_FUNCTIONS)(None) == 14000
    assert compile_expression(f"[length(intersection({ranges}))]", COMMON_FUNCTIONS)(None) == 6000
    assert compile_expression("[union(createArray(1, createArray(1)), createArray(createArray(1), 2))]",
                              COMMON_FUNCTIONS)(None) == [1, [1], 2]
