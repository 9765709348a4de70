"""The Kubernetes manifests (deploy/kubernetes): each resource the kustomization lists validated against the
Kubernetes OpenAPI schemas (kubernetes-validate ships them, strict: no unknown fields) for the oldest and newest
versions checked, and what they wire together checked against arcpolicy itself: the config file it loads, the
options its commands take, the image's user, the Secret and ConfigMap the pods read.

The overlays (deploy/kubernetes/resident: the resident scheduler's Deployment, deploy/kubernetes/sharded: the
sharded scan's CronJob of Indexed Jobs, each instead of the CronJob) are rendered here as kustomize renders what
they use (the base's resources, a delete patch, the new files). The Deployment runs as a local process with its own
arguments and the probes it declares are carried out against it (the exec probe as the command it names, the HTTP
probe as a GET of its path and port); the Indexed Job's pods run in turn with the environment Kubernetes gives each.

Not checked here (no cluster, no kustomize binary): kustomize's own rendering (the kustomizations only list files,
delete the CronJob in the overlay and set the image tag, which is read here), admission (the workload identity
webhook, Pod Security), the kubelet carrying out the probes, and a run on a cluster.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml

from engine.cli.app import app, import_command
from engine.cli.main import main
from engine.config import load_config
from engine.history import HistoryStore
from engine.inventory.generator import write_generated_fleet

from .dockerfile import parse

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
RESIDENT = MANIFESTS / "resident"
SHARDED = MANIFESTS / "sharded"
VERSIONS = ("1.30.0", "1.37.0")  # the oldest Kubernetes AKS and Arc still support, and the newest schemas shipped
KINDS = {MANIFESTS: {"Namespace", "ServiceAccount", "ConfigMap", "Secret", "CronJob"},
         RESIDENT: {"Namespace", "ServiceAccount", "ConfigMap", "Secret", "Deployment"},  # one scheduler, never two
         SHARDED: {"Namespace", "ServiceAccount", "ConfigMap", "Secret", "CronJob"}}
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}  # what resources() reads


def kustomization(folder: Path = MANIFESTS) -> dict[str, Any]:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def resources(folder: Path = MANIFESTS) -> list[dict[str, Any]]:
    """The documents kustomize renders from ``folder``: each listed file, each listed folder's own rendering, less
    what a ``$patch: delete`` patch names (the only patches used)."""
    layout = kustomization(folder)
    assert set(layout) <= KUSTOMIZATION_KEYS, set(layout) - KUSTOMIZATION_KEYS  # anything else would go unread
    documents = []
    for name in layout["resources"]:
        listed = (folder / name).resolve()
        documents += resources(listed) if listed.is_dir() else [
            document for document in yaml.safe_load_all(listed.read_text()) if document]
    for entry in layout.get("patches", []):
        patch = yaml.safe_load(entry["patch"])
        assert patch.pop("$patch") == "delete"
        deleted = [document for document in documents if (document["apiVersion"], document["kind"],
                   document["metadata"]["name"]) == (patch["apiVersion"], patch["kind"], patch["metadata"]["name"])]
        assert len(deleted) == 1, patch  # kustomize refuses a patch matching nothing
        documents.remove(deleted[0])
    return documents


def named(kind: str, name: str | None = None, folder: Path = MANIFESTS) -> dict[str, Any]:
    [found] = [document for document in resources(folder) if document["kind"] == kind
               and (name is None or document["metadata"]["name"] == name)]
    return found


def pod_of(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod template of a CronJob or a Deployment."""
    spec = workload["spec"]
    return spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else spec["template"]


WORKLOADS = [("CronJob", "arcpolicy-scan", MANIFESTS), ("Deployment", "arcpolicy-scheduler", RESIDENT),
             ("CronJob", "arcpolicy-shards", SHARDED)]
WORKLOAD_IDS = ["cronjob", "resident", "sharded"]


@pytest.mark.parametrize("folder", [MANIFESTS, RESIDENT, SHARDED], ids=WORKLOAD_IDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version: str, folder: Path) -> None:
    listed = resources(folder)
    assert {document["kind"] for document in listed} == KINDS[folder]
    for document in listed:
        kubernetes_validate.validate(document, version, strict=True)  # raises ValidationError naming the field


def test_the_validator_rejects_a_broken_cronjob() -> None:
    """The check above can fail: a misspelt field and a wrong type are refused."""
    broken = named("CronJob", "arcpolicy-scan")
    broken["spec"]["concurrencyPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    misspelt = named("CronJob", "arcpolicy-scan")
    misspelt["spec"]["startingDeadline"] = misspelt["spec"].pop("startingDeadlineSeconds")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, VERSIONS[-1], strict=True)


def test_the_validator_rejects_a_broken_deployment_probe() -> None:
    broken = named("Deployment", "arcpolicy-scheduler", RESIDENT)
    [container] = broken["spec"]["template"]["spec"]["containers"]
    container["livenessProbe"]["exec"]["cmd"] = container["livenessProbe"]["exec"].pop("command")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


@pytest.mark.parametrize(("kind", "name", "folder"), WORKLOADS, ids=WORKLOAD_IDS)
def test_workloads_run_as_the_workload_identity_never_overlapping(kind: str, name: str, folder: Path) -> None:
    workload = named(kind, name, folder)
    if kind == "CronJob":
        assert workload["spec"]["concurrencyPolicy"] == "Forbid"
        assert workload["spec"]["startingDeadlineSeconds"] > 0
    else:  # one resident scheduler, the old pod gone before a new one starts
        assert workload["spec"]["replicas"] == 1 and workload["spec"]["strategy"]["type"] == "Recreate"
        assert workload["spec"]["selector"]["matchLabels"].items() <= pod_of(workload)["metadata"]["labels"].items()
    pod = pod_of(workload)
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    account = named("ServiceAccount", pod["spec"]["serviceAccountName"])
    assert "azure.workload.identity/client-id" in account["metadata"]["annotations"]
    [container] = pod["spec"]["containers"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    # the image's own user, as the Dockerfile sets it, and nothing that needs root
    _, stages = parse((REPO / "Dockerfile").read_text())
    uid, gid = (int(part) for part in stages[-1].last("USER").arguments.split(":"))
    context = pod["spec"]["securityContext"]
    assert (context["runAsNonRoot"], context["runAsUser"], context["runAsGroup"]) == (True, uid, gid)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # the store URL from the Secret, the config from the ConfigMap
    [store] = [variable for variable in container["env"] if variable["name"] == "ARCPOLICY_STORE"]
    reference = store["valueFrom"]["secretKeyRef"]
    assert reference["key"] in named("Secret", reference["name"])["stringData"]
    [config_volume] = [volume for volume in pod["spec"]["volumes"] if "configMap" in volume]
    [mount] = [mount for mount in container["volumeMounts"] if mount["name"] == config_volume["name"]]
    config_map = named("ConfigMap", config_volume["configMap"]["name"])
    [config_path] = [argument for argument in container["args"] if argument.startswith(mount["mountPath"] + "/")]
    assert Path(config_path).name in config_map["data"]
    assert container["image"] in {image["name"] for image in kustomization()["images"]}


def command_options(path: list[str]) -> set[str]:
    import_command(path)
    command = typer.main.get_command(app).commands[path[0]]  # type: ignore[attr-defined]
    return {option for parameter in command.params for option in getattr(parameter, "opts", [])}


def probe_commands(container: dict[str, Any]) -> list[list[str]]:
    return [probe["exec"]["command"] for key, probe in container.items() if key.endswith("Probe") and "exec" in probe]


@pytest.mark.parametrize(("kind", "name", "folder"), WORKLOADS, ids=WORKLOAD_IDS)
def test_the_containers_arguments_are_arcpolicy_options(kind: str, name: str, folder: Path) -> None:
    [container] = pod_of(named(kind, name, folder))["spec"]["containers"]
    assert not container.get("command")  # the image's entrypoint, arcpolicy
    for command, *arguments in [container["args"]] + [probe[1:] for probe in probe_commands(container)]:
        options = command_options([command])
        assert all(argument in options for argument in arguments if argument.startswith("-")), shlex.join(arguments)
    assert all(probe[0] == "arcpolicy" for probe in probe_commands(container))  # on the image's PATH


def test_the_resident_schedulers_probes_read_what_it_writes_and_serves() -> None:
    """The probes name the health file the ConfigMap's arcpolicy.toml writes and the port --metrics-port serves."""
    [container] = pod_of(named("Deployment", "arcpolicy-scheduler", RESIDENT))["spec"]["containers"]
    config = tomllib.loads(named("ConfigMap", "arcpolicy-config")["data"]["arcpolicy.toml"])
    probes = probe_commands(container)
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(container)
    assert probes and all(probe[1:3] == ["health", config["schedule"]["health_file"]] for probe in probes)
    readiness = container["readinessProbe"]["httpGet"]
    [port] = [port for port in container["ports"] if port["name"] == readiness["port"]]
    arguments = container["args"]
    assert arguments[arguments.index("--metrics-port") + 1] == str(port["containerPort"])
    assert readiness["path"] == "/metrics"


def test_the_config_map_is_a_valid_arcpolicy_toml(tmp_path: Path) -> None:
    config_map = named("ConfigMap", "arcpolicy-config")
    path = tmp_path / "arcpolicy.toml"
    path.write_text(config_map["data"]["arcpolicy.toml"])
    config = load_config(path)
    assert config.scan.inventory is None and config.scan.credential == "default"  # Resource Graph, workload identity
    assert config.store.url is None  # from the Secret (ARCPOLICY_STORE), never in the ConfigMap
    assert config.schedule.health_file is not None


def run_probe(command: list[str], moved: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """An exec probe's command as the kubelet runs it in the container (arcpolicy on the PATH), its paths moved."""
    arcpolicy, *arguments = command
    program = Path(sys.executable).parent / arcpolicy
    return subprocess.run([str(program), *[moved.get(word, word) for word in arguments]], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def resident_scheduler(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any], dict[str, str]]]:
    """The Deployment's container run here with its own arguments: the ConfigMap's arcpolicy.toml (scanning a
    generated snapshot instead of Resource Graph, into a SQLite store), every path moved under ``tmp_path``, a
    cron firing every second, no jitter and a free metrics port."""
    [container] = pod_of(named("Deployment", "arcpolicy-scheduler", RESIDENT))["spec"]["containers"]
    config = tomllib.loads(named("ConfigMap", "arcpolicy-config")["data"]["arcpolicy.toml"])
    [config_path] = [argument for argument in container["args"] if argument.endswith(".toml")]
    health_file = config["schedule"]["health_file"]
    moved = {config_path: str(tmp_path / "arcpolicy.toml"), health_file: str(tmp_path / "health.json")}
    write_generated_fleet(tmp_path / "fleet.json", 4, seed=3)
    text = named("ConfigMap", "arcpolicy-config")["data"]["arcpolicy.toml"].replace(
        "[scan]\n", f'[scan]\ninventory = "{tmp_path / "fleet.json"}"\n').replace(health_file, moved[health_file])
    Path(moved[config_path]).write_text(text)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    arguments = [moved.get(word, word) for word in container["args"]]
    arguments[arguments.index("--cron") + 1] = "* * * * * *"
    arguments[arguments.index("--jitter") + 1] = "0s"
    arguments[arguments.index("--metrics-port") + 1] = str(port)
    with (tmp_path / "scheduler.log").open("w") as log:  # a file: a pipe nobody reads would fill and block it
        process = subprocess.Popen([sys.executable, "-m", "engine", *arguments, "--metrics-address", "127.0.0.1"],
                                   cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "ARCPOLICY_STORE": str(tmp_path / "history.db")})
    try:
        yield process, container, moved | {"port": str(port), "log": str(tmp_path / "scheduler.log")}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def log_of(moved: dict[str, str]) -> str:
    return Path(moved["log"]).read_text()


def test_the_resident_schedulers_probes_pass_while_it_runs_and_fail_once_it_stopped(resident_scheduler) -> None:
    process, container, moved = resident_scheduler
    startup, liveness = container["startupProbe"]["exec"]["command"], container["livenessProbe"]["exec"]["command"]
    deadline = time.monotonic() + 120  # bounds a broken start only: the startup probe allows 30 x 10 s
    while (started := run_probe(startup, moved)).returncode != 0:
        assert process.poll() is None and time.monotonic() < deadline, (started.stderr, log_of(moved))
        time.sleep(0.2)
    health_file = Path(moved[liveness[2]])
    while json.loads(health_file.read_text())["runs"] < 2:  # a scan or two on the per-second cron
        assert process.poll() is None and time.monotonic() < deadline, log_of(moved)
        time.sleep(0.2)
    alive = run_probe(liveness, moved)
    assert alive.returncode == 0 and alive.stdout.startswith("alive: "), alive.stderr
    readiness = container["readinessProbe"]["httpGet"]
    with urllib.request.urlopen(f"http://127.0.0.1:{moved['port']}{readiness['path']}", timeout=30) as response:
        assert response.status == 200 and b"arcpolicy_scans_total" in response.read()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0, log_of(moved)
    stopped = run_probe(liveness, moved)
    assert (stopped.returncode, stopped.stderr) == (1, "not alive: stopped\n")
    missing = run_probe(liveness, moved | {liveness[2]: str(health_file.with_name("absent.json"))})
    assert missing.returncode == 2 and "health file not found" in missing.stderr


def test_the_indexed_job_runs_one_shard_per_index_as_one_scan() -> None:
    cronjob = named("CronJob", "arcpolicy-shards", SHARDED)
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"]
    [container] = pod_of(cronjob)["spec"]["containers"]
    arguments = container["args"]
    assert arguments[0] == "scan"
    assert arguments[arguments.index("--shard") + 1] == str(job["completions"])  # N; I from JOB_COMPLETION_INDEX
    [group] = [variable for variable in container["env"] if variable["name"] == "ARCPOLICY_SCAN_GROUP"]
    assert group["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['batch.kubernetes.io/job-name']"


def test_the_indexed_jobs_pods_run_here_make_one_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pod of the Indexed Job run in turn with its container's arguments and the environment Kubernetes gives
    it (JOB_COMPLETION_INDEX, the Job's name as ARCPOLICY_SCAN_GROUP, the store URL as the Secret gives it), the
    ConfigMap's arcpolicy.toml scanning a generated snapshot into SQLite: one complete scan, the records of a whole
    scan of the same fleet with the same config."""
    cronjob = named("CronJob", "arcpolicy-shards", SHARDED)
    completions = cronjob["spec"]["jobTemplate"]["spec"]["completions"]
    [container] = pod_of(cronjob)["spec"]["containers"]
    [config_path] = [argument for argument in container["args"] if argument.endswith(".toml")]
    write_generated_fleet(tmp_path / "fleet.json", 12, seed=5)
    Path(tmp_path / "arcpolicy.toml").write_text(named("ConfigMap", "arcpolicy-config")["data"]["arcpolicy.toml"]
                                                 .replace("[scan]\n", f'[scan]\ninventory = "{tmp_path / "fleet.json"}"\n'))
    arguments = [str(tmp_path / "arcpolicy.toml") if word == config_path else word for word in container["args"]]
    store = tmp_path / "history.db"
    monkeypatch.setenv("ARCPOLICY_STORE", str(store))
    monkeypatch.setenv("ARCPOLICY_SCAN_GROUP", "arcpolicy-shards-29000000")
    for index in range(completions):
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        assert main(arguments) == 0  # fail_on = "never": a non-compliant fleet is not a failed pod
    monkeypatch.delenv("JOB_COMPLETION_INDEX")
    monkeypatch.delenv("ARCPOLICY_SCAN_GROUP")
    assert main(["scan", "--config", str(tmp_path / "arcpolicy.toml")]) == 0
    with HistoryStore(str(store), create=False) as history:
        [whole] = [scan for scan in history.scans() if scan.scan_id != "arcpolicy-shards-29000000"]
        sharded = history.resolve("arcpolicy-shards-29000000")
        assert sharded.complete and sharded.shards_recorded == completions
        assert sorted(record.view() for record in history.records(sharded.scan_id)) == sorted(
            record.view() for record in history.records(whole.scan_id))
