"""The OPA-server engine (opa-python-client) against OpaServerTestDouble, a stand-in for the OPA server backed by the real OPA."""

from __future__ import annotations

from pathlib import Path

import pytest
from opa_double import OpaServerTestDouble
from rego_fixtures import cluster, extension

from engine.errors import InputError, ServiceError
from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet
from engine.rego import RegoLibrary
from policies import LIBRARY


def test_opa_engine_gives_the_embedded_verdicts_in_batches() -> None:
    clusters = list(Fleet(generate_fleet(6, seed=5)).clusters())
    embedded = RegoLibrary.load([LIBRARY / "rego"])
    with OpaServerTestDouble() as opa:
        remote = RegoLibrary.load([LIBRARY / "rego"], engine="opa", url=opa.url)
        parameter_sets = {policy.package: [{}] for policy in remote.policies}
        assert remote.evaluate_many(clusters, parameter_sets) == embedded.evaluate_many(clusters, parameter_sets)
        posts = [path for method, path in opa.requests if method == "POST"]
        puts = [path for method, path in opa.requests if method == "PUT"]
    assert posts == ["/v1/query"]  # one batched request for the 6 clusters
    assert len(puts) == len(embedded.bundle.modules) + 1  # every module and the entry module, once
    assert any(violations for verdicts in embedded.evaluate_many(clusters, parameter_sets)
               for answer in verdicts.values() for violations in (answer[0].violations,))


def test_opa_runtime_error_falls_back_per_cluster_and_per_package(tmp_path: Path) -> None:
    (tmp_path / "conflict.rego").write_text('package probe.conflict\n\nmode := "a"\n'
                                            'mode := "b" if input.resource.tags.environment == "dev"\n\n'
                                            'violation contains {"msg": mode} if true\n')
    (tmp_path / "ok.rego").write_text('package probe.ok\n\nviolation contains {"msg": "osm"} if {\n'
                                      '\tsome e in input.extensions\n\te.name == "osm"\n}\n')
    with OpaServerTestDouble() as opa:
        library = RegoLibrary.load([tmp_path], engine="opa", url=opa.url)
        sets = {"probe.conflict": [{}], "probe.ok": [{}]}
        dev, prod = library.evaluate_many([cluster(extension("osm", "x"), environment="dev"), cluster()], sets)
    assert dev["probe.conflict"][0].error is not None
    assert "multiple outputs" in dev["probe.conflict"][0].error
    assert [violation.msg for violation in dev["probe.ok"][0].violations] == ["osm"]
    assert prod["probe.conflict"][0].violations[0].msg == "a"


def stopped_opa_url() -> str:
    """The URL of an OPA server that has stopped: nothing listens there any more."""
    with OpaServerTestDouble() as opa:
        return opa.url


def test_a_malformed_opa_url_is_bad_input() -> None:
    with pytest.raises(InputError, match="expected http"):
        RegoLibrary.load([LIBRARY / "rego"], engine="opa", url="opa.local:8181")


def test_an_unreachable_opa_server_is_a_service_error() -> None:
    url = stopped_opa_url()
    with pytest.raises(ServiceError) as raised:
        RegoLibrary.load([LIBRARY / "rego"], engine="opa", url=url, timeout=1.0)
    assert str(raised.value) == f"cannot reach OPA server {url}: ConnectionError"


def test_an_opa_server_lost_mid_scan_is_a_service_error_not_error_records() -> None:
    """Only OPA's runtime errors send a batch back one cluster at a time; a lost server stops the scan."""
    clusters = list(Fleet(generate_fleet(3, seed=5)).clusters())
    with OpaServerTestDouble() as opa:
        library = RegoLibrary.load([LIBRARY / "rego"], engine="opa", url=opa.url, timeout=1.0)
    parameter_sets = {policy.package: [{}] for policy in library.policies}
    with pytest.raises(ServiceError, match=f"^cannot reach OPA server {opa.url}: ConnectionError$"):
        library.evaluate_many(clusters, parameter_sets)
