"""Every property rule the kept swaggers state, swept over the resource types the sandbox validates with them.

For each writable type (extensions and Flux configurations 2023-05-01, connected clusters 2024-01-01), the
rules are read from the swagger files here, with this file's own ``$ref`` / ``allOf`` walk and not with
engine/sandbox/swagger.py, so that a rule the sandbox's reader misses is a failing case rather than a missing
one: a value outside an ``enum`` is refused (400 ``InvalidRequestContent`` naming the member); a ``readOnly``
member written by the client is neither stored nor echoed; a ``default`` is what a PUT that leaves the member out
reads back; a member whose ``x-ms-mutability`` lacks ``update`` cannot change on a second PUT; an
``x-ms-secret`` value is never returned (by the PUT, a GET or a list).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any

import pytest

from engine.sandbox.swagger import SPEC_ROOT
from tests.sandbox.test_arm import connected_clusters, raw_session
from tests.sandbox.test_strict_arm import _with_flux_extension

KC = "specification/kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration/stable/2023-05-01"
HK = "specification/hybridkubernetes/resource-manager/Microsoft.Kubernetes/stable/2024-01-01"
FORGED = "forged-by-client"
FORGED_NUMBER = 987654
ENUM_OUTSIDE = "galaxy-by-client"
ABSENT: Any = object()


@dataclass(frozen=True)
class Spec:
    """A type the sandbox serves from a kept swagger: the smallest valid PUT body, and the schema of the body of
    ``method`` (PUT: the resource's definition; PATCH: the body parameter of the type's PATCH operation)."""

    name: str
    file: str
    api_version: str
    body: dict[str, Any]
    method: str = "PUT"

    @property
    def schema(self) -> dict[str, Any]:
        paths = _document(self.file)["paths"]
        path = next(path for path in paths if path.endswith("}") and f"/{self.name}/{{" in path)
        operation = paths[path][self.method.lower()]
        body = next(parameter for parameter in operation["parameters"] if parameter.get("in") == "body")
        return body["schema"]


PUT_SPECS = [
    Spec("extensions", f"{KC}/extensions.json", "2023-05-01", {"properties": {}}),
    Spec("fluxConfigurations", f"{KC}/fluxconfiguration.json", "2023-05-01",
         {"properties": {"gitRepository": {"url": "https://github.com/contoso/gitops"}, "kustomizations": {"k": {}}}}),
    Spec("connectedClusters", f"{HK}/connectedClusters.json", "2024-01-01",
         {"location": "eastus", "identity": {"type": "SystemAssigned"}, "properties": {"agentPublicKeyCertificate": ""}}),
]
SPECS = [*PUT_SPECS, *(Spec(spec.name, spec.file, spec.api_version, spec.body, "PATCH") for spec in PUT_SPECS)]


@dataclass(frozen=True)
class Rule:
    spec: Spec
    kind: str  # enum | readOnly | default | createOnly | secret
    path: tuple[str, ...]  # members; "*" a map's member, "[]" an array's item
    schema: dict[str, Any]
    required: bool = False  # its parent lists it as required

    @property
    def id(self) -> str:
        return f"{self.spec.method} {self.spec.name}:{self.kind}:{'.'.join(self.path)}"


def _document(file: str) -> Any:
    return json.loads((SPEC_ROOT / file).read_text())


def _resolved(schema: dict[str, Any], file: str) -> tuple[dict[str, Any], str]:
    """A schema with its ``$ref`` followed; the attributes written beside a ``$ref`` win, as autorest reads them."""
    while "$ref" in schema:
        target, _, pointer = schema["$ref"].partition("#")
        referenced = posixpath.normpath(posixpath.join(posixpath.dirname(file), target)) if target else file
        node = _document(referenced)
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema, file = {**node, **{key: value for key, value in schema.items() if key != "$ref"}}, referenced
    return schema, file


def _rules(spec: Spec, schema: dict[str, Any], file: str, path: tuple[str, ...], seen: frozenset[str],
           required: bool = False) -> list[Rule]:
    reference = schema.get("$ref")
    if reference in seen:
        return []
    schema, file = _resolved(schema, file)
    seen = seen | {reference} if reference else seen
    if path and schema.get("readOnly"):
        return [Rule(spec, "readOnly", path, schema, required)]  # ignored on write, with whatever is below it
    found = [Rule(spec, kind, path, schema, required) for kind, present in (
        ("enum", "enum" in schema), ("default", "default" in schema),
        ("createOnly", "update" not in schema.get("x-ms-mutability", ["update"])),
        ("secret", schema.get("x-ms-secret") is True)) if path and present]
    for member in schema.get("allOf", ()):
        found += _rules(spec, member, file, path, seen)
    for name, member in schema.get("properties", {}).items():
        found += _rules(spec, member, file, (*path, name), seen, name in schema.get("required", ()))
    if isinstance(schema.get("additionalProperties"), dict):
        found += _rules(spec, schema["additionalProperties"], file, (*path, "*"), seen)
    if isinstance(schema.get("items"), dict):
        found += _rules(spec, schema["items"], file, (*path, "[]"), seen)
    return found


RULES = [rule for spec in SPECS for rule in _rules(spec, spec.schema, spec.file, (), frozenset())]


def _step(node: Any, part: str, create: bool) -> Any:
    if part == "[]":
        if create and not node:
            node.append({})
        return node[0] if node else ABSENT
    key = "k" if part == "*" else part
    if create:
        node.setdefault(key, {})
    return node.get(key, ABSENT) if isinstance(node, dict) else ABSENT


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """``value`` at ``path``, with the objects and one-item arrays above it made as needed."""
    node: Any = body
    for part, following in zip(path, (*path[1:], None), strict=True):
        if following is None:
            if part == "[]":
                node[:] = [value]
            else:
                node["k" if part == "*" else part] = value
            return
        if following == "[]" and not isinstance(node.get("k" if part == "*" else part), list):
            node["k" if part == "*" else part] = []
        node = _step(node, part, create=True)


def _get(body: Any, path: tuple[str, ...]) -> Any:
    node = body
    for part in path:
        if node is ABSENT or not isinstance(node, dict | list):
            return ABSENT
        node = _step(node, part, create=False)
    return node


def _forged(schema: dict[str, Any]) -> Any:
    kind = schema.get("type", "object" if "properties" in schema else "string")
    return {"boolean": not schema.get("default", False), "integer": FORGED_NUMBER, "number": FORGED_NUMBER + 0.5,
            "array": [FORGED], "object": {"forged": FORGED}}.get(kind, FORGED)


class Target:
    """Where a rule's resources are written: a fresh name per case, under a cluster the fleet holds."""

    def __init__(self, running):
        self.running, self.session, self.count = running, raw_session(running), 0
        self.cluster = connected_clusters(running)[0]
        _with_flux_extension(running, self.session, self.cluster)
        self.group = "/".join(self.cluster.split("/")[:5])

    def url(self, spec: Spec) -> str:
        self.count += 1
        if spec.name == "connectedClusters":
            return f"{self.running.url}{self.group}/providers/Microsoft.Kubernetes/connectedClusters/sweep{self.count}"
        return f"{self.running.url}{self.cluster}/providers/Microsoft.KubernetesConfiguration/{spec.name}/sweep{self.count}"

    def base(self, spec: Spec) -> dict[str, Any]:
        body = json.loads(json.dumps(spec.body))
        if spec.name == "extensions":  # one instance of a cluster-scoped type per cluster: a type per case
            body["properties"]["extensionType"] = f"contoso.sweep{self.count}"
        return body

    def put(self, spec: Spec, url: str, body: dict[str, Any]):
        return self.session.put(url, params={"api-version": spec.api_version}, json=body)

    def write(self, rule: Rule, value: Any) -> tuple[Any, str]:
        """``value`` written at the rule's place by the rule's method (a PATCH of a resource first created and
        settled), and the resource's URL."""
        url = self.url(rule.spec)
        body = self.base(rule.spec)
        _source_kind(rule, body)
        if rule.spec.method == "PATCH":
            created = self.put(rule.spec, url, body)
            assert created.status_code in (200, 201), created.text
            self.read(rule.spec, url)
            body = {}
        _set(body, rule.path, value)
        return self.session.request(rule.spec.method, url, params={"api-version": rule.spec.api_version},
                                    json=body), url

    def read(self, spec: Spec, url: str) -> dict[str, Any]:
        self.running.control.advance_clock(600)  # asynchronous writes settle
        return self.session.get(url, params={"api-version": spec.api_version}).json()


@pytest.fixture
def target(sandbox_factory) -> Target:
    return Target(sandbox_factory(write_limit="100000/1000", read_limit="100000/1000"))


def _source_kind(rule: Rule, body: dict[str, Any]) -> None:
    """A Flux source's members are set with the source kind that reads them."""
    source = {"bucket": "Bucket", "azureBlob": "AzureBlob"}.get(rule.path[1] if len(rule.path) > 1 else "")
    if rule.spec.name == "fluxConfigurations" and source:
        body["properties"]["sourceKind"] = source
        body["properties"].pop("gitRepository")
        body["properties"][rule.path[1]] = {"url": "https://contoso.example/source", "bucketName": "b",
                                            "containerName": "c"} if source == "Bucket" else \
            {"url": "https://contoso.blob.core.windows.net", "containerName": "c"}


def test_the_sweep_finds_each_kind_of_rule_in_each_swagger() -> None:
    kinds = {(rule.spec.method, rule.spec.name, rule.kind) for rule in RULES}
    assert {("PUT", spec.name, kind) for spec in PUT_SPECS for kind in ("enum", "readOnly", "default")} <= kinds
    assert {(method, name, "secret") for method in ("PUT", "PATCH")
            for name in ("extensions", "fluxConfigurations")} <= kinds
    assert ("PATCH", "fluxConfigurations", "enum") in kinds
    assert {rule.id for rule in RULES if rule.kind == "createOnly"} >= {
        "PUT fluxConfigurations:createOnly:properties.scope", "PUT fluxConfigurations:createOnly:properties.namespace",
        "PUT connectedClusters:createOnly:location"}


def _sweep(target: Target, kind: str, case, methods: tuple[str, ...] = ("PUT", "PATCH")) -> None:
    """Each rule of ``kind`` through ``case`` (one sandbox for them all); every rule that does not hold is named."""
    rules = [rule for rule in RULES if rule.kind == kind and rule.spec.method in methods]
    problems = []
    for rule in rules:
        try:
            case(target, rule)
        except AssertionError as error:
            problems.append(f"{rule.id}: {error}")
    assert rules and not problems, "\n".join(problems)


def _outside_the_enum(target: Target, rule: Rule) -> None:
    refused, _ = target.write(rule, ENUM_OUTSIDE)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "InvalidRequestContent" and rule.path[-1] in error["message"], error


def test_a_value_outside_an_enum_is_refused_naming_the_member(target: Target) -> None:
    _sweep(target, "enum", _outside_the_enum)


def _read_only_ignored(target: Target, rule: Rule) -> None:
    forged = _forged(rule.schema)
    written, url = target.write(rule, forged)
    assert written.status_code in (200, 201, 202), written.text
    for answer in (written.json(), target.read(rule.spec, url)):
        text = json.dumps(answer)
        assert FORGED not in text and str(FORGED_NUMBER) not in text, answer
        if isinstance(forged, bool):
            assert _get(answer, rule.path) is not forged, answer


def test_a_read_only_member_written_is_neither_stored_nor_echoed(target: Target) -> None:
    _sweep(target, "readOnly", _read_only_ignored)


def _default_filled(target: Target, rule: Rule) -> None:
    url = target.url(rule.spec)
    body = target.base(rule.spec)
    _source_kind(rule, body)
    if len(rule.path) > 1 and _get(body, rule.path[:-1]) is ABSENT:
        _set(body, rule.path[:-1], {"kind": "ConfigMap", "name": "values"} if rule.path[-3:-1] == (
            "substituteFrom", "[]") else {})
    if rule.required:  # a required member is always sent: its default is what clients send
        return
    assert _get(body, rule.path) is ABSENT
    written = target.put(rule.spec, url, body)
    assert written.status_code in (200, 201), written.text
    assert _get(target.read(rule.spec, url), rule.path) == rule.schema["default"]


def test_a_member_left_out_reads_back_as_its_default(target: Target) -> None:
    _sweep(target, "default", _default_filled, ("PUT",))  # a PATCH changes what it names only


CREATE_ONLY_VALUES = {"location": ("eastus", "westeurope"), "properties.scope": ("cluster", "namespace"),
                      "properties.namespace": ("flux-system", "elsewhere")}


def _create_only_kept(target: Target, rule: Rule) -> None:
    url = target.url(rule.spec)
    body = target.base(rule.spec)
    first, second = CREATE_ONLY_VALUES[".".join(rule.path)]
    _set(body, rule.path, first)
    assert target.put(rule.spec, url, body).status_code in (200, 201)
    assert _get(target.read(rule.spec, url), rule.path) == first  # created, and settled
    _set(body, rule.path, second)
    changed = target.put(rule.spec, url, body)
    assert changed.status_code == 400 and rule.path[-1] in changed.json()["error"]["message"], changed.text
    assert _get(target.read(rule.spec, url), rule.path) == first


def test_a_create_only_member_cannot_change(target: Target) -> None:
    _sweep(target, "createOnly", _create_only_kept, ("PUT",))  # no PATCH schema has them


SECRET = "s3cret-by-client"


def _secret_never_returned(target: Target, rule: Rule) -> None:
    written, url = target.write(rule, {"key": SECRET} if rule.schema.get("type") == "object" else SECRET)
    assert written.status_code in (200, 201, 202), written.text
    listed = target.session.get(url.rsplit("/", 1)[0], params={"api-version": rule.spec.api_version})
    for answer in (written.text, json.dumps(target.read(rule.spec, url)), listed.text):
        assert SECRET not in answer, answer


def test_a_secret_value_is_never_returned(target: Target) -> None:
    _sweep(target, "secret", _secret_never_returned)


GRAPH = "specification/resourcegraph/resource-manager/Microsoft.ResourceGraph/stable/2021-03-01/resourcegraph.json"


def _graph_limits(schema: dict[str, Any], file: str, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """Each value just outside a bound or enum of the query body's schema (read here from the swagger), and each
    required member left out (``None``), by place."""
    schema, file = _resolved(schema, file)
    found: list[tuple[tuple[str, ...], Any]] = []
    if "enum" in schema:
        found.append((path, ENUM_OUTSIDE))
    if "minimum" in schema:
        found.append((path, schema["minimum"] - 1))
    if "maximum" in schema:
        found.append((path, schema["maximum"] + 1))
    found += [((*path, name), None) for name in schema.get("required", ())]
    for name, member in schema.get("properties", {}).items():
        found += _graph_limits(member, file, (*path, name))
    if isinstance(schema.get("items"), dict):
        found += _graph_limits(schema["items"], file, (*path, "[]"))
    return found


def test_a_resource_graph_query_outside_the_schema_is_refused_naming_the_member(sandbox) -> None:
    operation = _document(GRAPH)["paths"]["/providers/Microsoft.ResourceGraph/resources"]["post"]
    schema = next(parameter for parameter in operation["parameters"] if parameter.get("in") == "body")["schema"]
    cases = _graph_limits(schema, GRAPH, ())
    assert {".".join(path) for path, _ in cases} >= {"query", "options.$top", "options.$skip", "options.resultFormat",
                                                      "facets.[].expression", "facets.[].options.$top"}
    session = raw_session(sandbox)
    problems = []
    for path, value in cases:
        body: dict[str, Any] = {"query": "resources | take 1", "facets": [{"expression": "location"}]}
        if value is None:
            parent = _get(body, path[:-1]) if len(path) > 1 else body
            parent.pop(path[-1])
        else:
            _set(body, path, value)
        answer = session.post(f"{sandbox.url}/providers/Microsoft.ResourceGraph/resources",
                              params={"api-version": "2021-03-01"}, json=body)
        if answer.status_code != 400 or path[-1] not in answer.json()["error"]["message"]:
            problems.append(f"{'.'.join(path)} = {value!r}: {answer.status_code} {answer.text[:200]}")
    assert not problems, "\n".join(problems)
