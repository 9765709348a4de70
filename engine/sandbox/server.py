"""The HTTPS front of the sandbox: a threading HTTP/1.1 server with keep-alive, and a handle to
run it in a background thread (tests, demo, bench) or in the foreground (``sandbox serve``).
"""

from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.errors import InputError
from engine.inventory.snapshot import iter_snapshot
from engine.sandbox import app
from engine.sandbox.core import Sandbox, SandboxOptions
from engine.sandbox.http import Request, arm_error
from engine.sandbox.tls import ensure_certificates, server_context

THREAD_POLL_SECONDS = 0.05  # how fast stop() takes effect on a background sandbox
STATUS_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out as two writes: without TCP_NODELAY the body waits ~40 ms for the client's
    # delayed ACK (Nagle), on every response of a kept-alive connection
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, unquote(parts.path), dict(parse_qsl(parts.query)),
                          {name.lower(): value for name, value in self.headers.items()}, body,
                          self.server.base_url)
        try:
            response = app.handle(self.server.sandbox, request)
        except Exception as error:  # a sandbox bug: answer as ARM does (a 500 with its error shape), never hang up
            response = arm_error(500, "InternalServerError", f"The sandbox failed to process the request: "
                                 f"{type(error).__name__}.")
        if response.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = response.encoded()
        self.send_response(response.status, STATUS_REASONS.get(response.status))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", "sandbox")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: request lines could carry ids users consider sensitive; stats are in /sandbox/stats."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox
    base_url: str

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up mid-request is not the server's problem; stay quiet."""


@dataclass(frozen=True)
class SandboxEndpoint:
    url: str
    ca_bundle: Path


FLEET_DIGEST, FLEET_FILE = "fleet_sha256", "fleet_file"  # the fleet a state directory was made from


def fleet_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_same_fleet(sandbox: Sandbox, fleet: Path, state_dir: Path) -> None:
    """A state directory serves the fleet it was made from (and every write since): ``--fleet`` naming another
    fleet is refused rather than silently ignored."""
    with sandbox.store.lock:
        recorded, source = sandbox.store.meta(FLEET_DIGEST), sandbox.store.meta(FLEET_FILE)
    if recorded is not None and recorded != fleet_digest(fleet):
        raise InputError("--fleet", f"the state directory {state_dir} was made from another fleet ({source}) and "
                                    "keeps serving it, with every write since: give that fleet or no --fleet to "
                                    "go on with it, or another --state-dir for this one", value=str(fleet))


class SandboxServer:
    """A sandbox on ``options.host:options.port`` (0 = any free port); ``start()`` returns its endpoint."""

    def __init__(self, options: SandboxOptions):
        self.options = options
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> SandboxEndpoint:
        """Prepare state, certificates and the listening socket (loading the fleet on first start)."""
        state_dir = self.options.state_dir
        try:  # listen first: a port in use is the user's to fix, before any state is written
            server = _Server((self.options.host, self.options.port), _Handler)
        except OSError as error:
            raise InputError("--port", f"cannot listen on {self.options.host}:{self.options.port}: "
                                       f"{error.strerror or error}") from None
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            ca_bundle = ensure_certificates(state_dir)
            sandbox = Sandbox(self.options)
            if sandbox.store.is_empty():
                if self.options.fleet is None:
                    raise InputError("--fleet", "the state directory is empty; give the fleet to serve")
                sandbox.load_fleet(iter_snapshot(self.options.fleet))
                with sandbox.store.lock:
                    sandbox.store.set_meta(FLEET_DIGEST, fleet_digest(self.options.fleet))
                    sandbox.store.set_meta(FLEET_FILE, str(self.options.fleet))
            elif self.options.fleet is not None:
                check_same_fleet(sandbox, self.options.fleet, state_dir)
        except BaseException:
            server.server_close()
            raise
        context = server_context(state_dir)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.sandbox = sandbox
        port = server.server_address[1]
        server.base_url = f"https://{self.options.host}:{port}"
        self._server = server
        return SandboxEndpoint(server.base_url, ca_bundle)

    @property
    def sandbox(self) -> Sandbox:
        assert self._server is not None, "bind() or start() first"
        return self._server.sandbox

    def start(self) -> SandboxEndpoint:
        endpoint = self.bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, args=(THREAD_POLL_SECONDS,),
                                        name="arcpolicy-sandbox", daemon=True)
        self._thread.start()
        return endpoint

    def serve_forever(self) -> None:
        assert self._server is not None, "bind() first"
        try:
            self._server.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join()
        server.server_close()
        server.sandbox.store.close()
