"""The fleet generator and ``arcpolicy inventory``, driven through the real CLI entry point."""

import json
import subprocess
import sys

from engine.cli.main import main
from engine.inventory import load_snapshot
from engine.inventory.generator import EXTENSION_KINDS, generate_fleet


def test_generator_is_deterministic_per_seed(tmp_path):
    assert main(["sandbox", "generate", "--clusters", "25", "--seed", "9", "-o", str(tmp_path / "a.json")]) == 0
    assert main(["sandbox", "generate", "--clusters", "25", "--seed", "9", "-o", str(tmp_path / "b.json")]) == 0
    assert main(["sandbox", "generate", "--clusters", "25", "--seed", "10", "-o", str(tmp_path / "c.json")]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.json").read_bytes() != (tmp_path / "c.json").read_bytes()


def test_generated_fleet_is_realistic():
    resources = list(generate_fleet(400, seed=2))
    clusters = [resource for resource in resources if resource["type"] == "Microsoft.Kubernetes/connectedClusters"]
    distributions = {cluster["properties"]["distribution"] for cluster in clusters}
    assert {"k3s", "aks_edge_essentials", "openshift", "eks", "gke", "aks"} <= distributions
    assert {cluster["properties"]["connectivityStatus"] for cluster in clusters} == {"Connected", "Offline", "Expired"}
    assert any(resource["type"] == "Microsoft.ContainerService/managedClusters" for resource in resources)
    assert len({resource["id"].split("/")[2] for resource in resources}) >= 2  # several subscriptions
    types = {resource["properties"]["extensionType"] for resource in resources
             if resource["type"] == "Microsoft.KubernetesConfiguration/extensions"}
    assert types == {kind.extension_type for kind in EXTENSION_KINDS}
    trains = {resource["properties"]["releaseTrain"] for resource in resources
              if resource["type"] == "Microsoft.KubernetesConfiguration/extensions"}
    assert trains == {"Stable", "Preview"}
    # cluster-scoped types have at most one instance per cluster
    for cluster in load_snapshot_from(resources).clusters():
        cluster_scoped = [extension["properties"]["extensionType"] for extension in cluster.extensions
                          if "cluster" in extension["properties"]["scope"]]
        assert len(cluster_scoped) == len(set(cluster_scoped))


def load_snapshot_from(resources):
    from engine.inventory import Fleet

    return Fleet(resources)


def test_inventory_json_summary(tmp_path, capsys):
    fleet_file = tmp_path / "fleet.json"
    assert main(["sandbox", "generate", "-n", "30", "-s", "4", "-o", str(fleet_file)]) == 0
    capsys.readouterr()
    assert main(["inventory", "--inventory", str(fleet_file), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    expected = load_snapshot(fleet_file).summary().model_dump(by_alias=True)
    assert summary == expected
    assert summary["clusters"] == 30


def test_inventory_table_to_file(tmp_path):
    fleet_file, table_file = tmp_path / "fleet.ndjson", tmp_path / "summary.txt"
    assert main(["sandbox", "generate", "-n", "12", "-o", str(fleet_file)]) == 0
    assert main(["inventory", "-i", str(fleet_file), "-o", str(table_file)]) == 0
    text = table_file.read_text()
    assert "Fleet: 12 clusters" in text and "distribution" in text


def test_inventory_save_says_what_it_wrote(tmp_path, capsys):
    fleet_file, saved = tmp_path / "fleet.json", tmp_path / "pulled.json"
    assert main(["sandbox", "generate", "-n", "5", "-o", str(fleet_file)]) == 0
    capsys.readouterr()
    assert main(["inventory", "-i", str(fleet_file), "--save", str(saved)]) == 0
    count = len(json.loads(saved.read_text()))
    assert f"saved the fleet ({count} resources) to {saved}" in capsys.readouterr().err


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c"}]')
    out = tmp_path / "summary.json"
    completed = subprocess.run([sys.executable, "-m", "engine", "inventory", "-i", str(bad), "-f", "json",
                                "-o", str(out)], capture_output=True, text=True)
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0
    assert completed.stderr.startswith(f"arcpolicy: error: {bad}: resource 1:")
    assert "Traceback" not in completed.stderr
    assert not out.exists()


def test_usage_errors_exit_2(capsys):
    assert main(["inventory", "--no-such-option"]) == 2
    assert main(["inventory"]) == 2
    assert "--inventory" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("arcpolicy ")
