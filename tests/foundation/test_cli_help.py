"""``--help`` of every command: values named (no Python types as metavars), the same short options for the
same things; and the wording of reasons and skipped-definition messages."""

from __future__ import annotations

import re
from importlib import import_module

import pytest
import typer

from engine.azure_policy.conditions import OPERATORS
from engine.cli.app import COMMANDS, app
from engine.cli.main import main


def command_paths() -> list[list[str]]:
    for entry in COMMANDS.values():  # each command's module registers it when imported (engine.cli.app)
        for module in entry.modules:
            import_module(module)
    group = typer.main.get_command(app)
    paths = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        paths += [[name, sub] for sub in subcommands] if subcommands else [[name]]
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_help_names_values_instead_of_python_types(path: list[str], capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    metavars = re.findall(r"-[\w-]+ <([^>]*)>", text)  # an option's value shown in angle brackets
    assert all("|" in metavar for metavar in metavars), text  # only choices (<table|json>)
    assert "<list[" not in text and "range>" not in text, text
    assert not re.search(r"-[\w-]+ TEXT ", text), text  # every value named: URL, SCAN, FORMAT ...


def test_help_lists_the_commands_in_pipeline_order(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["--help"]) == 0
    listed = re.findall(r"^  (\w+) ", capsys.readouterr().out.split("Commands:")[1], re.MULTILINE)
    assert listed[:4] == ["inventory", "scan", "plan", "apply"], listed
    assert sorted(listed) == sorted({path[0] for path in command_paths()}), listed


@pytest.mark.parametrize("group", [[], ["sandbox"], ["policies"]], ids=["arcpolicy", "sandbox", "policies"])
def test_command_lists_say_each_command_in_full_at_80_columns(group: list[str], capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*group, "--help"]) == 0
    listing = capsys.readouterr().out.split("Commands:")[1]
    assert "..." not in listing and all(len(line) <= 80 for line in listing.splitlines()), listing


@pytest.mark.parametrize("command", ["scan", "plan"])
def test_scan_and_plan_share_the_assignment_and_exemption_short_options(command: str, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "-a, --assignment" in text and "-e, --exemption" in text and "-p, --policy" in text


@pytest.mark.parametrize(("operator", "holds", "fails"), [
    ("equals", "equals", "does not equal"), ("notEquals", "does not equal", "equals"),
    ("in", "is in", "is not in"), ("notIn", "is not in", "is in"), ("like", "is like", "is not like"),
    ("greaterOrEquals", "is at least", "is less than"), ("containsKey", "has the key", "does not have the key"),
])
def test_reasons_read_as_english(operator: str, holds: str, fails: str):
    assert (OPERATORS[operator.lower()].describe(True), OPERATORS[operator.lower()].describe(False)) == (holds, fails)
    assert all(" is not " + name.lower() not in OPERATORS[name].describe(False).lower() for name in OPERATORS)


def _help(path: list[str], capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "300")
    assert main([*path, "--help"]) == 0
    text = re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out)  # rich boxes, wraps and pads: compare words
    return " ".join(text.split())


def test_scan_says_policy_is_required_unless_the_config_gives_it(capsys, monkeypatch):
    assert "Required, unless --config gives scan.policies." in _help(["scan"], capsys, monkeypatch)
    assert "--policy" in _help(["plan"], capsys, monkeypatch) and "[required]" in _help(["plan"], capsys, monkeypatch)


def test_history_and_trend_take_the_same_option_for_the_newest_scans(capsys, monkeypatch):
    for command in ("history", "trend"):
        assert "-n, --last" in _help([command], capsys, monkeypatch), command


def test_apply_takes_repeatable_assignments_and_the_scan_options_that_shape_its_evaluation(capsys, monkeypatch):
    text = _help(["apply"], capsys, monkeypatch)
    assert "-a, --assignment PATH Assignment file: its parameters feed protected settings and --policy " \
           "(repeatable)." in text
    for option in ("-e, --exemption", "--attestation", "--management-groups"):
        assert option in text, option
