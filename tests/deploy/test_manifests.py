"""The Kubernetes manifests (deploy/kubernetes): each resource the kustomization lists validated against the
Kubernetes OpenAPI schemas (kubernetes-validate ships them, strict: no unknown fields) for the oldest and newest
versions checked, and what they wire together checked against arcpolicy itself: the config file it loads, the
options its commands take, the image's user, the Secret and ConfigMap the pods read.

Not checked here (no cluster, no kustomize binary): kustomize's own rendering (the kustomization only lists
files and sets the image tag, which is read here), admission (the workload identity webhook, Pod Security), and
a run on a cluster.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml

from engine.cli.app import app, import_command
from engine.config import load_config

from .dockerfile import parse

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
VERSIONS = ("1.30.0", "1.37.0")  # the oldest Kubernetes AKS and Arc still support, and the newest schemas shipped


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())


def resources() -> list[dict[str, Any]]:
    documents = []
    for name in kustomization()["resources"]:
        documents += [document for document in yaml.safe_load_all((MANIFESTS / name).read_text()) if document]
    return documents


def named(kind: str, name: str | None = None) -> dict[str, Any]:
    [found] = [document for document in resources() if document["kind"] == kind
               and (name is None or document["metadata"]["name"] == name)]
    return found


def pod_of(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version: str) -> None:
    listed = resources()
    assert {document["kind"] for document in listed} == {"Namespace", "ServiceAccount", "ConfigMap", "Secret",
                                                         "CronJob"}
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


@pytest.mark.parametrize("name", ["arcpolicy-scan"])
def test_cronjobs_run_as_the_workload_identity_never_overlapping(name: str) -> None:
    cronjob = named("CronJob", name)
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["startingDeadlineSeconds"] > 0
    pod = pod_of(cronjob)
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


@pytest.mark.parametrize("name", ["arcpolicy-scan"])
def test_the_containers_arguments_are_arcpolicy_options(name: str) -> None:
    [container] = pod_of(named("CronJob", name))["spec"]["containers"]
    command, *arguments = container["args"]
    options = command_options([command])
    assert all(argument in options for argument in arguments if argument.startswith("-")), shlex.join(arguments)


def test_the_config_map_is_a_valid_arcpolicy_toml(tmp_path: Path) -> None:
    config_map = named("ConfigMap", "arcpolicy-config")
    path = tmp_path / "arcpolicy.toml"
    path.write_text(config_map["data"]["arcpolicy.toml"])
    config = load_config(path)
    assert config.scan.inventory is None and config.scan.credential == "default"  # Resource Graph, workload identity
    assert config.store.url is None  # from the Secret (ARCPOLICY_STORE), never in the ConfigMap
    assert config.schedule.health_file is not None
