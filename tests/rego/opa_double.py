"""OpaServerTestDouble: a stand-in for the OPA REST server (``opa run --server``), backed by the real OPA.

The OPA server cannot run here, so the OPA engine's client path (opa-python-client over HTTP) is
tested against this double. Its answers come from OPA itself: the Go ``rego`` package of OPA
v1.20 embedded in process (:mod:`opa_oracle`); what the double adds is the HTTP layer, for the
parts of OPA's REST API that opa-python-client uses: ``GET /health``, ``PUT /v1/policies/{id}``
(text/plain Rego; the modules are compiled together as OPA does, a module that does not compile
with the others is refused with 400), ``POST /v1/data/{path}`` with ``{"input": ...}`` and
``POST /v1/query`` (the client's batched ``with input as`` queries).

One difference from a real server: the embedded OPA evaluates with ``strict-builtin-errors``
(see :mod:`opa_oracle`), so a built-in's error is an HTTP 500 here where ``opa run`` by default
answers without the failing expression (as ``POST /v1/data/...?strict-builtin-errors`` would).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rego.opa_oracle import OpaError, OpaOracle


class OpaServerTestDouble:
    """Serves on 127.0.0.1 (a free port) in a thread; ``url`` is what ``--opa-url`` takes."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._opa = OpaOracle([])
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OpaServerTestDouble:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._opa.close()

    def put_policy(self, policy_id: str, source: str) -> tuple[int, dict[str, Any]]:
        """OPA compiles the new module with every module it has; on an error nothing changes."""
        with self._lock:
            candidate = OpaOracle({**self.policies, policy_id: source}.items())
            try:
                candidate.query("true")
            except OpaError as error:
                candidate.close()
                return 400, {"code": "invalid_parameter", "message": "error(s) occurred while compiling module(s)",
                             "errors": [{"code": error.code, "message": error.message}]}
            self._opa.close()
            self._opa, self.policies[policy_id] = candidate, source
        return 200, {"result": {}}

    def query(self, query: str, document: Any = None) -> tuple[int, dict[str, Any]]:
        """An ad-hoc query's result set, or OPA's error as the server answers it (HTTP 500)."""
        with self._lock:
            try:
                rows = self._opa.query(query, document)
            except OpaError as error:
                return 500, {"code": "internal_error", "message": error.message}
        return 200, {"result": rows}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_GET(self) -> None:
                double.requests.append(("GET", self.path))
                if self.path.startswith("/health"):
                    self._reply(200, {})
                elif self.path.rstrip("/") == "/v1/policies":
                    self._reply(200, {"result": [{"id": policy_id} for policy_id in double.policies]})
                else:
                    self._reply(404, {"code": "resource_not_found", "message": self.path})

            def do_PUT(self) -> None:
                double.requests.append(("PUT", self.path))
                self._reply(*double.put_policy(self.path.removeprefix("/v1/policies/"), self._body().decode()))

            def do_POST(self) -> None:
                double.requests.append(("POST", self.path))
                body = json.loads(self._body() or b"{}")
                if self.path.startswith("/v1/query"):
                    self._reply(*double.query(body["query"]))
                    return
                path = self.path.removeprefix("/v1/data/").split("?")[0].replace("/", ".")
                status, answer = double.query(f"x := data.{path}", body.get("input"))
                rows = answer.get("result")
                if status == 200:
                    answer = {"result": rows[0]["x"]} if rows else {}
                self._reply(status, answer)

        return Handler
