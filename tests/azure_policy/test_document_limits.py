"""A policy file costs memory in proportion to its size: a definition, initiative or assignment larger than Azure
Policy's request-body limit (1,048,576 bytes) is refused before it is compiled, and a reason repeats at most 4 KB of
its condition's values on each record (a 40,000-item ``notIn`` is not copied into every record)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from engine.cli.main import main
from engine.limits import MAX_POLICY_DOCUMENT_BYTES, MAX_REASON_VALUE_LENGTH, cut_value

FLEET = "examples/demo-fleet.json"


def _definition(names: int, name: str = "many-names") -> dict[str, object]:
    """A definition whose rule holds one ``notIn`` of ``names`` cluster names (about 24 bytes each)."""
    return {"name": name, "type": "Microsoft.Authorization/policyDefinitions", "properties": {
        "displayName": name, "mode": "All", "policyRule": {
            "if": {"allOf": [{"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                             {"field": "name", "notIn": [f"cluster-name-{index:09d}" for index in range(names)]}]},
            "then": {"effect": "audit"}}}}


def _one_error_line(capsys, *naming: str) -> str:
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("arcpolicy: error: "), captured.err
    assert all(text in captured.err for text in naming), captured.err
    return captured.err


def test_a_56_mb_definition_with_one_notin_of_two_million_names_is_refused(tmp_path, capsys):
    policy = tmp_path / "huge.json"
    policy.write_bytes(orjson.dumps(_definition(2_000_000)))
    assert policy.stat().st_size > 50_000_000
    capsys.readouterr()
    assert main(["scan", "-i", FLEET, "-p", str(policy), "--workers", "1", "-o", str(tmp_path / "out.json")]) == 2
    _one_error_line(capsys, str(policy), "1,048,576 bytes", "definition, initiative or assignment")
    assert not (tmp_path / "out.json").exists()


def test_each_document_of_a_list_is_held_to_the_limit_and_named(tmp_path, capsys):
    policy = tmp_path / "two.json"
    policy.write_bytes(orjson.dumps([_definition(10, "small"), _definition(60_000, "large")]))
    capsys.readouterr()
    assert main(["scan", "-i", FLEET, "-p", str(policy), "--workers", "1"]) == 2
    _one_error_line(capsys, str(policy), "item 1", "bytes as JSON")
    # pretty-printed past the limit but within it as JSON: accepted (Azure counts the request body)
    policy.write_text(json.dumps(_definition(30_000), indent=8))
    assert policy.stat().st_size > MAX_POLICY_DOCUMENT_BYTES > len(orjson.dumps(_definition(30_000)))
    assert main(["scan", "-i", FLEET, "-p", str(policy), "--workers", "1", "-o", str(tmp_path / "out.json")]) == 1


def test_an_assignment_past_the_limit_is_refused(tmp_path, capsys):
    policy = tmp_path / "policy.json"
    policy.write_bytes(orjson.dumps(_definition(10)))
    assignment = tmp_path / "assignment.json"
    assignment.write_bytes(orjson.dumps({
        "name": "a", "type": "Microsoft.Authorization/policyAssignments", "properties": {
            "scope": "/", "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/many-names",
            "parameters": {"padding": {"value": "x" * MAX_POLICY_DOCUMENT_BYTES}}}}))
    capsys.readouterr()
    assert main(["scan", "-i", FLEET, "-p", str(policy), "-a", str(assignment), "--workers", "1"]) == 2
    _one_error_line(capsys, str(assignment), "assignment file", "1,048,576")


def test_a_definition_within_the_limit_costs_its_size_once_not_once_per_record(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_bytes(orjson.dumps(_definition(40_000)))
    assert MAX_POLICY_DOCUMENT_BYTES * 0.9 < policy.stat().st_size <= MAX_POLICY_DOCUMENT_BYTES
    out = tmp_path / "out.json"
    assert main(["scan", "-i", FLEET, "-p", str(policy), "--workers", "1", "-o", str(out)]) == 1
    records = json.loads(out.read_text())["value"]
    assert len(records) >= 30
    reason = records[0]["reasons"][1]
    assert reason["operator"] == "notIn" and len(orjson.dumps(reason["expected"])) <= MAX_REASON_VALUE_LENGTH
    assert reason["expected"][:2] == ["cluster-name-000000000", "cluster-name-000000001"]
    assert reason["expected"][-1].endswith("more items)")
    assert out.stat().st_size < policy.stat().st_size  # was 57 MB: the list on each of 38 records


@pytest.mark.parametrize("value", ["short", 12, None, True, [1, 2, 3], {"a": [1]}, "x" * MAX_REASON_VALUE_LENGTH])
def test_values_within_the_bound_are_kept_exactly(value):
    assert cut_value(value) == value


def test_values_past_the_bound_are_cut_to_it_and_say_what_was_left_out():
    names = [f"name-{index}" for index in range(10_000)]
    cut = cut_value(names)
    assert len(orjson.dumps(cut)) <= MAX_REASON_VALUE_LENGTH and cut[:3] == names[:3]
    assert cut[-1] == f"... ({len(names) - len(cut) + 1:,} more items)"
    members = {f"key{index}": "v" * 50 for index in range(1_000)}
    cut = cut_value(members)
    assert len(orjson.dumps(cut)) <= MAX_REASON_VALUE_LENGTH and cut["key0"] == members["key0"]
    assert cut["..."] == f"{len(members) - len(cut) + 1:,} more members"
    text = cut_value("y" * 100_000)
    assert len(text) <= MAX_REASON_VALUE_LENGTH and text.endswith("... (100,000 characters)")
    nested = cut_value([["z" * 100_000]])
    assert len(orjson.dumps(nested)) <= MAX_REASON_VALUE_LENGTH and nested[0][0].endswith("(100,000 characters)")


def test_the_shipped_and_corpus_documents_are_all_within_the_limit():
    """Azure's own built-ins fit Azure's limit, so the limit refuses none of them."""
    corpus = Path(__file__).resolve().parents[3] / "shared" / "azure-policy-corpus"
    sizes = [len(orjson.dumps(orjson.loads(path.read_bytes()))) for path in corpus.rglob("*.json")]
    assert len(sizes) > 5_000 and max(sizes) <= MAX_POLICY_DOCUMENT_BYTES
