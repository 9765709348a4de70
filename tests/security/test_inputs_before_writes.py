"""Every input is checked before any output, journal or write: a bad --store or --ca-bundle is one
line and exit 2 (exit 4 for a database server that cannot be reached), with nothing written."""

from __future__ import annotations

import pytest

from engine.cli.main import main
from tests.apply.test_apply_sandbox import _connected_amd64_without_policy, _one_cluster_plan, _save

NOT_SQLITE = b"id,name\n1,not a database at all\n" * 64


def _scan(sandbox_fleet_file, tmp_path, store: str) -> int:
    return main(["scan", "-i", str(sandbox_fleet_file), "-p", "policies/azure", "--workers", "1",
                 "-o", str(tmp_path / "out.json"), "-o", str(tmp_path / "out.html"), "--store", store])


def _one_error_line(capsys, *naming: str) -> str:
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("arcpolicy: error: "), captured.err
    assert all(text in captured.err for text in naming), captured.err
    return captured.err


@pytest.mark.parametrize(("store", "status", "naming"), [
    ("nosuchdb://somewhere/x", 2, ("--store", "not a database URL")),
    ("postgresql+psycopg://arcpolicy@127.0.0.1:notaport/db", 2, ("--store", "not a database URL")),
    ("postgresql+psycopg://arcpolicy@127.0.0.1:9/db", 4, ("cannot open the history store",)),  # nothing listens on 9
    ("NOT_SQLITE", 2, ("--store", "not arcpolicy's history store", "not a SQLite database")),
])
def test_a_bad_store_is_refused_before_any_output_is_written(sandbox_fleet_file, tmp_path, capsys, store, status,
                                                             naming):
    if store == "NOT_SQLITE":
        store = str(tmp_path / "records.csv")
        (tmp_path / "records.csv").write_bytes(NOT_SQLITE)
    capsys.readouterr()
    assert _scan(sandbox_fleet_file, tmp_path, store) == status
    _one_error_line(capsys, *naming)
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.html").exists()
    if store.endswith("records.csv"):
        assert (tmp_path / "records.csv").read_bytes() == NOT_SQLITE  # left as it was
    for reader in (["history"], ["trend", "-o", str(tmp_path / "trend.html")]):
        assert main([*reader, "--store", store]) == status
        _one_error_line(capsys, *naming)
    assert not (tmp_path / "trend.html").exists()


@pytest.mark.parametrize("content", [b"", b"not a certificate\n", b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                                  b"-----END CERTIFICATE-----\n", NOT_SQLITE])
def test_a_ca_bundle_that_is_not_pem_certificates_is_refused_before_the_journal_or_any_request(
        sandbox_factory, tmp_path, capsys, content):
    running = sandbox_factory(provisioning_seconds=0)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    plan_file = _save(plan, tmp_path)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(content)
    requests_before = running.control.stats()["requests"]
    capsys.readouterr()
    assert main(["apply", str(plan_file), "--arm-endpoint", running.url, "--ca-bundle", str(bundle),
                 "--credential", "sandbox", "-o", str(tmp_path / "result.json")]) == 2
    _one_error_line(capsys, str(bundle), "not a PEM file of CA certificates")
    assert not (tmp_path / "plan.json.journal.sqlite").exists() and not (tmp_path / "result.json").exists()
    assert main(["inventory", "--resource-graph", "--arm-endpoint", running.url, "--ca-bundle", str(bundle),
                 "--credential", "sandbox", "--save", str(tmp_path / "pulled.json")]) == 2
    _one_error_line(capsys, str(bundle))
    assert not (tmp_path / "pulled.json").exists()
    assert running.control.stats()["requests"] == requests_before + 1  # only this stats request reached it


def test_an_output_that_cannot_be_written_is_refused_before_any_work_or_other_output(sandbox_fleet_file, tmp_path,
                                                                                    capsys):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    inputs = ["-i", str(sandbox_fleet_file), "-p", "policies/azure", "--workers", "1"]
    capsys.readouterr()
    assert main(["scan", *inputs, "-o", str(tmp_path / "states.json"), "-o", str(tmp_path / "a-file/x.html")]) == 2
    _one_error_line(capsys, "a-file/x.html", "a-file is not a folder (-o)")
    assert main(["scan", *inputs, "-o", str(tmp_path / "states.json"), "-o", f"json:{tmp_path / 'a-folder'}"]) == 2
    _one_error_line(capsys, "a-folder", "is a folder, not a file to write (-o)")
    assert main(["plan", *inputs, "-o", str(tmp_path / "plan.json"), "--markdown", str(tmp_path / "a-file/p.md")]) == 2
    _one_error_line(capsys, "a-file/p.md", "(--markdown)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "a-folder"]


def test_apply_refuses_a_journal_or_result_it_cannot_write_before_any_request(sandbox_factory, tmp_path, capsys):
    running = sandbox_factory(provisioning_seconds=0)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    plan_file = _save(plan, tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    connection = ["--arm-endpoint", running.url, "--ca-bundle", str(running.endpoint.ca_bundle),
                  "--credential", "sandbox"]
    requests_before = running.control.stats()["requests"]
    capsys.readouterr()
    assert main(["apply", str(plan_file), *connection, "--journal", str(tmp_path / "a-file/journal.sqlite")]) == 2
    _one_error_line(capsys, "a-file/journal.sqlite", "(--journal)")
    assert main(["apply", str(plan_file), *connection, "-o", str(tmp_path / "a-file/result.json")]) == 2
    _one_error_line(capsys, "a-file/result.json", "(-o)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "plan.json", "state-0"]  # state-0: the sandbox
    assert running.control.stats()["requests"] == requests_before + 1  # only this stats request reached it
