"""OpaServerTestDouble: a stand-in for ``opa run --server``, backed by regopy (compiling the uploaded modules per request).

The OPA binary cannot be installed here, so the OPA engine's client path is tested against this
double. It speaks the parts of OPA's REST API that opa-python-client uses: ``GET /health``,
``PUT /v1/policies/{id}`` (text/plain Rego), ``POST /v1/data/{path}`` with ``{"input": ...}``
and ``POST /v1/query`` (the client's batched ``with input as`` queries).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import regopy

from engine.rego.engines import new_interpreter, output_error


class OpaServerTestDouble:
    """Serves on 127.0.0.1 (a free port) in a thread; ``url`` is what ``--opa-url`` takes."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
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

    def _interpreter(self, document: Any) -> regopy.Interpreter:
        interpreter = new_interpreter()
        for policy_id, source in self.policies.items():
            interpreter.add_module(policy_id, source)
        interpreter.set_input_term(orjson.dumps(document).decode())
        return interpreter

    def _query(self, query: str, document: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            output = self._interpreter(document).query(query)
        if not output.ok():
            return 500, {"code": "internal_error", "message": output_error(output._impl)}
        text = str(output)
        return 200, ({} if text == "undefined" else json.loads(text))

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
                policy_id = self.path.removeprefix("/v1/policies/")
                source = self._body().decode()
                try:
                    new_interpreter().add_module(policy_id, source)
                except regopy.RegoError as error:
                    self._reply(400, {"code": "invalid_parameter", "message": "error(s) occurred while compiling",
                                      "errors": [{"code": "rego_parse_error", "message": str(error)[:200]}]})
                    return
                with double._lock:
                    double.policies[policy_id] = source
                self._reply(200, {"result": {}})

            def do_POST(self) -> None:
                double.requests.append(("POST", self.path))
                body = json.loads(self._body() or b"{}")
                if self.path.startswith("/v1/query"):
                    self._batch(body["query"])
                    return
                path = self.path.removeprefix("/v1/data/").split("?")[0].replace("/", ".")
                status, answer = double._query(f"x := data.{path}", body.get("input"))
                if status != 200:
                    self._reply(status, answer)
                    return
                bindings = answer.get("bindings") or {}
                self._reply(200, {"result": bindings["x"]} if "x" in bindings else {})

            def _batch(self, query: str) -> None:
                """The client's batch form ``rN := data.p with input as {json}; ...``, one input at a time.

                (regopy itself aborts on some ``with input as`` queries, so each input is set instead.)
                """
                row: dict[str, Any] = {}
                position = 0
                while position < len(query):
                    statement = _BATCH_STATEMENT.match(query, position)
                    if statement is None:
                        self._reply(400, {"code": "invalid_parameter", "message": "unsupported ad-hoc query"})
                        return
                    document, position = _DECODER.raw_decode(query, statement.end())
                    status, answer = double._query(f"x := {statement.group(2)}", document)
                    if status != 200:
                        self._reply(status, answer)
                        return
                    bindings = answer.get("bindings") or {}
                    if "x" not in bindings:
                        self._reply(200, {"result": []})
                        return
                    row[statement.group(1)] = bindings["x"]
                    position = query.find("; ", position)
                    position = len(query) if position < 0 else position + 2
                self._reply(200, {"result": [row]})

        return Handler


_BATCH_STATEMENT = re.compile(r"(r\d+) := (data\.[\w.]+) with input as ")
_DECODER = json.JSONDecoder()
