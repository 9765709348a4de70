"""A store written by arcpolicy's schema version 3 (records as JSON rows) is never upgraded by a reader; writers
opening it at once migrate it once, and every reading command then shows exactly what it showed before the
migration (SQLite and PostgreSQL).

``data/store_v3/tables.json`` holds the rows of a real version-3 store (three scans of a generated fleet, with
inventories, assignments, an exemption and a protected setting), and ``data/store_v3/expected/`` what ``history``,
``diff``, ``trend``, ``inventory --from-store``, ``whatif`` and ``history --keep`` printed on that store with the
arcpolicy that wrote it (main at 4aabcf4; written again with main at 01fe633, which added the resource compliance figures, before the store kept states as parts; the trend pages again with main at 0765f28, whose charts name each scan's time and fit their axis; what-if's Markdown again with issue 23's escaping, names and reasons as code spans). The store is rebuilt here
row by row in the version-3 schema, then opened by today's code: first by a reader, then by several writers at once.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import threading
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, insert

from engine.cli.main import main
from engine.history import HistoryStore
from engine.history.schema import MIGRATIONS, applied_version, migrate
from engine.history.store import database_url, safe_url

DATA = Path(__file__).resolve().parent / "data" / "store_v3"
EXPECTED = DATA / "expected"
POLICIES = Path(__file__).resolve().parents[2] / "policies"
FIRST, SECOND, THIRD = "20260501T060000Z-aaaaaa", "20260501T120000Z-bbbbbb", "20260501T180000Z-cccccc"
KEEP_AFTER = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)  # --keep prunes the first scan only
STORE_MARK = "<store>"
COLUMNS = "160"  # tables as wide as a wide terminal
WRITERS = 4  # writers opening the version-3 store at once
# What-if's JSON gained fields since version 3 (changes within records, the assignment sets compared): the
# fields version 3 wrote must read as they did.
WHATIF_V3_FIELDS = ("baselineScanId", "baselineStartedAt", "baselinePolicyFingerprint", "policyFingerprint",
                    "baselineToolVersion", "clusters", "definitionsAdded", "definitionsRemoved", "skipped")
# History's JSON gained a scan's shards (a scan recorded in shards): every scan of a version-3 store was recorded
# whole, so each shows these lines, which version 3 did not write.
HISTORY_SHARD_LINES = ('"shardCount": null,', '"shardsRecorded": null,', '"complete": true,')
IMPACT_V3_FIELDS = ("assignmentId", "assignmentName", "title", "nonCompliantBefore", "nonCompliantAfter",
                    "newlyNonCompliant", "newlyCompliant", "newRecords", "removedRecords")


def _decoded(value: Any) -> Any:
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    if isinstance(value, dict) and "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    return value


def build_version_3_store(url: str) -> None:
    """The version-3 tables (created by the migrations of that time) filled with the stored rows."""
    engine = create_engine(database_url(url))
    with engine.begin() as connection:
        assert migrate(connection, MIGRATIONS[:3]) == 3
        tables = MetaData()
        tables.reflect(connection)
        rows = json.loads((DATA / "tables.json").read_text())
        for name in ("scans", "policy_states", "inventory_blobs", "scan_inventories", "scan_assignments"):
            connection.execute(insert(tables.tables[name]),
                               [{key: _decoded(value) for key, value in row.items()} for row in rows[name]])
    engine.dispose()


def _run(arguments: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(arguments)
    return status, out.getvalue()


def _keep_duration(now: datetime) -> str:
    return f"{int((now - KEEP_AFTER).total_seconds())}s"


def command_outputs(store: str, work: Path) -> dict[str, str]:
    """Each command's exit status and output, the store's URL replaced by a mark (it differs per run) and lines
    stripped (a table's title is centred over it)."""
    shown = safe_url(store)
    policies = ["-p", str(POLICIES / "azure"), "-p", str(POLICIES / "rego")]
    whatif = ["whatif", "--store", store, *policies, "-a", str(DATA / "assignments_after.json"), "-e",
              str(DATA / "exemptions.json"), "--baseline", FIRST[:12]]
    commands: dict[str, Callable[[], tuple[int, str]]] = {
        "history.json": lambda: _run(["history", "--store", store, "--format", "json"]),
        "history.txt": lambda: _run(["history", "--store", store]),
        "history-2.txt": lambda: _run(["history", "--store", store, "-n", "2"]),
        "diff-1-2.json": lambda: _run(["diff", FIRST, SECOND, "--store", store, "--format", "json"]),
        "diff-1-2.txt": lambda: _run(["diff", FIRST[:12], "latest~1", "--store", store]),
        "diff-2-1.json": lambda: _run(["diff", SECOND, FIRST, "--store", store, "--format", "json"]),
        "diff-2-3.txt": lambda: _run(["diff", "latest~1", "latest", "--store", store]),
        "trend.html": lambda: _file(["trend", "--store", store, "-o", str(work / "trend.html")], work / "trend.html"),
        "trend-2.svg": lambda: _file(["trend", "--store", store, "--last", "2", "-o", str(work / "t.html"), "--svg",
                                      str(work / "trend.svg")], work / "trend.svg"),
        "inventory-1.json": lambda: _file(["inventory", "--from-store", store, "--scan", FIRST, "--save",
                                           str(work / "inventory-1.json")], work / "inventory-1.json"),
        "inventory-3.json": lambda: _file(["inventory", "--from-store", store, "--scan", "latest", "--save",
                                           str(work / "inventory-3.json")], work / "inventory-3.json"),
        "whatif.json": lambda: _run([*whatif, "--format", "json"]),
        "whatif.md": lambda: _run([*whatif, "--format", "markdown"]),
        "whatif.txt": lambda: _run(whatif),
        # last: --keep deletes the first scan (and the inventory only it used)
        "keep.txt": lambda: _run(["history", "--store", store, "--keep", _keep_duration(datetime.now(UTC)),
                                  "--format", "json"]),
        "kept-inventory-2.json": lambda: _file(["inventory", "--from-store", store, "--scan", SECOND, "--save",
                                                str(work / "inventory-2.json")], work / "inventory-2.json"),
        "kept-trend.html": lambda: _file(["trend", "--store", store, "-o", str(work / "kept.html")],
                                         work / "kept.html"),
    }
    outputs = {}
    for name, command in commands.items():
        status, text = command()
        text = "\n".join(line.strip() for line in text.replace(shown, STORE_MARK).splitlines())  # titles centred
        outputs[name] = f"exit {status}\n{text}\n"
    return outputs


def _file(arguments: list[str], path: Path) -> tuple[int, str]:
    """The status and the file written; a saved inventory (tens of KB) as its digest and size."""
    status, _ = _run(arguments)
    if not path.exists():
        return status, ""
    if path.name.startswith("inventory-"):
        return status, f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_size} bytes\n"
    return status, path.read_text()


def comparable(name: str, text: str) -> str:
    """The output as version 3 could have written it: what-if's JSON cut to version 3's fields, its table and
    Markdown without the notes on the assignment sets compared (new: here they differ, Defender's is dropped)."""
    if name in ("history.json", "keep.txt"):
        return "".join(f"{line}\n" for line in text.splitlines() if line not in HISTORY_SHARD_LINES)
    if name == "whatif.md":
        return re.sub(r"\*\*note: [^\n]*\*\*\n\n", "", text)
    if name == "whatif.txt":
        kept, in_note = [], False
        for line in text.splitlines():
            in_note = line.startswith("note: ") or (in_note and not line.startswith(("┏", "definitions ")))
            if not in_note:
                kept.append(line)
        return "\n".join(kept)
    if name != "whatif.json":
        return text
    status, _, document = text.partition("\n")
    report = json.loads(document)
    report = {key: report[key] for key in WHATIF_V3_FIELDS} | {
        "assignments": [{key: impact[key] for key in IMPACT_V3_FIELDS} for impact in report["assignments"]]}
    return f"{status}\n{json.dumps(report, indent=2)}"


def schema_version(url: str) -> int:
    engine = create_engine(database_url(url))
    with engine.connect() as connection:
        version = applied_version(connection)
    engine.dispose()
    return version


def open_at_once(url: str) -> list[BaseException]:
    """Writers opening the store at the same moment (as scans starting together would); the errors they met."""
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer() -> None:
        start.wait()
        try:
            HistoryStore(url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_a_version_3_store_migrates_and_every_command_shows_what_it_showed(store_url, tmp_path: Path, capsys,
                                                                           monkeypatch):
    monkeypatch.setenv("COLUMNS", COLUMNS)
    build_version_3_store(store_url)
    assert main(["history", "--store", store_url]) == 2  # a reader never upgrades it
    assert "reading never upgrades it" in capsys.readouterr().err
    assert schema_version(store_url) == 3
    assert open_at_once(store_url) == []  # migrated once: a second migration would find policy_states gone
    assert schema_version(store_url) == MIGRATIONS[-1].version
    outputs = command_outputs(store_url, tmp_path)
    capsys.readouterr()
    for name, text in outputs.items():
        assert comparable(name, text) == comparable(name, (EXPECTED / name).read_text()), name
    for name in ("history.json", "keep.txt"):
        lines = outputs[name].splitlines()
        assert [lines.count(line) for line in HISTORY_SHARD_LINES] == [outputs[name].count('"scanId"')] * 3
    assert "note: The assignment sets differ" in outputs["whatif.md"] and "defender-required" in outputs["whatif.txt"]


def test_a_migration_stopped_part_way_leaves_the_store_as_it_was(store_url, monkeypatch) -> None:
    """A migration is one transaction, DDL included (SQLite's too: pysqlite would commit each CREATE and ALTER
    on its own): stopped part-way, the store is still version 3 and the next writer migrates it."""
    import engine.history.records

    build_version_3_store(store_url)

    def power_cut(*_: object, **__: object) -> None:
        raise RuntimeError("stopped part-way")

    with monkeypatch.context() as patched:
        patched.setattr(engine.history.records.StatesWriter, "finish", power_cut)
        with pytest.raises(RuntimeError, match="stopped part-way"):
            HistoryStore(store_url)
    assert schema_version(store_url) == 3
    with HistoryStore(store_url) as store:
        assert [scan.scan_id for scan in store.scans()] == [THIRD, SECOND, FIRST]


if __name__ == "__main__":  # how data/store_v3/expected was written (with the arcpolicy that wrote tables.json)
    import os
    import tempfile

    os.environ["COLUMNS"] = COLUMNS
    with tempfile.TemporaryDirectory() as directory:
        url = str(Path(directory) / "history.db")
        build_version_3_store(url)
        HistoryStore(url).close()  # a writer migrates it (with the arcpolicy that wrote tables.json: nothing to do)
        EXPECTED.mkdir(exist_ok=True)
        for output_name, output in command_outputs(url, Path(directory)).items():
            (EXPECTED / output_name).write_text(output)
    sys.exit(0)
