"""``whatif`` loads its policy set as ``scan`` does: ``--attestation`` and ``--strict-aliases`` apply to it too."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cli.main import main

from .builders import assignment, write_json
from .test_effects_offline import C1, C2, attestation, manual
from .test_inferred_aliases import UNTABLED


def baseline(tmp_path: Path, policies: Path, assigned: list[str]) -> str:
    """A store holding one scan of c1 and c2 with the given policies."""
    fleet = write_json(tmp_path / "fleet.json", [C1, C2])
    store = str(tmp_path / "history.db")
    main(["scan", "-i", str(fleet), "-p", str(policies), *assigned, "--store", store, "-o", str(tmp_path / "s.json")])
    return store


def test_whatif_applies_attestations(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    write_json(folder / "manual.json", manual())
    assigned = ["-a", str(write_json(tmp_path / "a.json", assignment("attest", "attest-backup")))]
    store = baseline(tmp_path, folder, assigned)  # both clusters Unknown (the Manual default)
    attested = write_json(tmp_path / "att.json", attestation(C1, "NonCompliant"))
    report = tmp_path / "w.json"
    assert main(["whatif", "--store", store, "-p", str(folder), *assigned, "--attestation", str(attested),
                 "-o", str(report)]) == 1
    impacts = json.loads(report.read_text())["assignments"]
    newly = [record["resourceId"].rsplit("/", 1)[-1] for impact in impacts for record in impact["newlyNonCompliant"]]
    assert newly == [C1["name"]] and C2["id"] not in report.read_text()  # the name "c2" may be in the scan id
    capsys.readouterr()


def test_whatif_takes_strict_aliases(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    write_json(folder / "widgets.json", UNTABLED)
    store = baseline(tmp_path, folder, [])
    capsys.readouterr()
    report = tmp_path / "w.json"
    assert main(["whatif", "--store", store, "-p", str(folder), "--strict-aliases", "-o", str(report)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--strict-aliases" in error and "widgets.json" in error
    assert not report.exists()
    assert main(["whatif", "--store", store, "-p", str(folder), "-o", str(report)]) == 0
    assert "warning:" in capsys.readouterr().err and report.exists()
