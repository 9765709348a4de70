"""The sandbox credential reaches loopback addresses only: the URL is read as the HTTP client reads
it, and the address a name resolves to is checked before connecting.

No test here sends traffic anywhere but 127.0.0.1: connection attempts are recorded, and a refused
endpoint must make none.
"""

from __future__ import annotations

import socket

import pytest
import urllib3.util.connection

from engine.cli.main import main

BYPASSES = [
    "https://192.0.2.2:18777\\@127.0.0.1:18600",  # the audit's: urlsplit sees 127.0.0.1, urllib3 192.0.2.2
    "https://192.0.2.2:18777\\\\@127.0.0.1:18600",
    "https://127.0.0.1:18600\\@192.0.2.2",
    "https://user:password@127.0.0.1:18600",
    "https://192.0.2.2@127.0.0.1:18600",
    "https://127.0.0.1:18600 @192.0.2.2",
    "https://127.0.0.1\t:18600",
    "https://127.0.0.1:notaport",
    "http://127.0.0.1:18600",
]


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every address urllib3 connects to (the real connect still happens)."""
    attempted: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def recording(address, *args, **kwargs):
        attempted.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    return attempted


@pytest.mark.parametrize("endpoint", BYPASSES)
@pytest.mark.parametrize("command", [["inventory", "--resource-graph"],
                                     ["scan", "--resource-graph", "--policy", "policies/azure"]])
def test_endpoints_read_two_ways_or_with_user_info_are_refused_before_connecting(endpoint, command, connections,
                                                                               capsys, tmp_path):
    assert main([*command, "--arm-endpoint", endpoint, "--credential", "sandbox",
                 "--save" if command[0] == "inventory" else "-o", str(tmp_path / "out.json")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("arcpolicy: error: --arm-endpoint: "), error
    assert "password" not in error
    assert connections == [] and not (tmp_path / "out.json").exists()


def test_a_name_resolving_outside_loopback_is_refused_before_connecting(sandbox, connections, capsys, monkeypatch,
                                                                      tmp_path):
    port = int(sandbox.url.rsplit(":", 1)[1])
    arguments = ["inventory", "--resource-graph", "--arm-endpoint", f"https://localhost:{port}",
                 "--ca-bundle", str(sandbox.endpoint.ca_bundle), "--credential", "sandbox"]
    real = socket.getaddrinfo

    def elsewhere(host, *args, **kwargs):  # "localhost" as a hostile resolver answers it
        if host == "localhost":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.2", port))]
        return real(host, *args, **kwargs)

    before = sandbox.control.stats()["requests"]
    monkeypatch.setattr(socket, "getaddrinfo", elsewhere)
    assert main([*arguments, "--save", str(tmp_path / "refused.json")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "localhost resolves to 192.0.2.2, not a loopback address" in error
    assert connections == [] and sandbox.control.stats()["requests"] == before + 1  # + this stats request
    assert not (tmp_path / "refused.json").exists()

    monkeypatch.setattr(socket, "getaddrinfo", real)  # the same endpoint, resolved honestly, works
    assert main([*arguments, "--save", str(tmp_path / "pulled.json")]) == 0
    assert connections and all(host in ("localhost", "127.0.0.1", "::1") for host, _ in connections)
    assert (tmp_path / "pulled.json").is_file()
