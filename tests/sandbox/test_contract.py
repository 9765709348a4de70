"""The contract: every example of the kept REST API specifications, replayed against the sandbox.

Each example (``engine/sandbox/specs``, see SOURCE.md) is a request and the responses the service gives.
Its ids are mapped onto a fixture fleet (its subscription becomes a GUID; the cluster, the resources its
GET or list responses show, the resources a Resource Graph query reads are loaded as a fleet file), the
request is sent, and the response is compared with the example's for the status received: the status must
be one the example lists, every header and member the example shows must be there, and every value it shows
must be ours (a ``null`` in the example matches a member left out; ids compare without regard to case; the
rows of an unordered query and the items of a list compare as sets, by id). What differs is only allowed
where docs/sandbox.md lists it with a reason; a listed difference that no longer happens fails too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.swagger import SPEC_ROOT, SpecOperation, load_document, operations
from engine.sandbox.values import deterministic_uuid
from tests.sandbox.test_arm import raw_session

DIFFERENCES_DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
GRAPH_OPERATION = "Resources"
OPERATION_STATUS = re.compile(r"OperationStatus_Get$")
CLUSTER_PARAMETERS = ("clusterRp", "clusterResourceName", "clusterName")


@dataclass(frozen=True)
class Example:
    """One kept example and the operation of the swagger that references it (or whose example it replaces)."""

    operation: SpecOperation
    file: str  # path under specs/

    @property
    def name(self) -> str:
        return Path(self.file).name

    @property
    def document(self) -> dict[str, Any]:
        return load_document(self.file)


def _swaggers() -> list[str]:
    return sorted(str(path.relative_to(SPEC_ROOT)) for path in SPEC_ROOT.rglob("*.json")
                  if "examples" not in path.parts and "paths" in json.loads(path.read_text())
                  and json.loads(path.read_text())["paths"])


def _kept_examples() -> tuple[list[Example], list[str]]:
    """The examples to replay, and the ones the swaggers reference that are not kept."""
    kept = {str(path.relative_to(SPEC_ROOT)): path for path in SPEC_ROOT.rglob("examples/*.json")}
    by_name: dict[str, list[str]] = {}
    for file in kept:
        by_name.setdefault(Path(file).name, []).append(file)
    examples, missing = [], []
    for swagger in _swaggers():
        provider = swagger.split("/stable/")[0]
        for operation in operations(swagger):
            for file in operation.examples.values():
                if file not in kept:
                    # the same operation's example from another version of the provider, kept in its stead
                    file = next((other for other in by_name.get(Path(file).name, []) if other.startswith(provider)
                                 and other not in operation.examples.values()), file)
                if file in kept:
                    examples.append(Example(operation, file))
                else:
                    missing.append(file)
    return examples, missing


EXAMPLES, MISSING = _kept_examples()


def test_every_kept_example_belongs_to_an_operation_and_every_missing_one_is_explained():
    replayed = {example.file for example in EXAMPLES}
    kept = {str(path.relative_to(SPEC_ROOT)) for path in SPEC_ROOT.rglob("examples/*.json")}
    assert replayed == kept
    source = (SPEC_ROOT / "SOURCE.md").read_text()
    assert MISSING and all(Path(file).name in source for file in MISSING)


# ---- ids mapped onto the fixture fleet ---------------------------------------------------------
def _subscriptions(example: Example) -> dict[str, str]:
    """The example's subscription ids (in its parameters and in the ids its responses show) -> GUIDs."""
    text = json.dumps(example.document)
    named = set(re.findall(r"/subscriptions/([^/\"]+)", text))
    parameters = example.document["parameters"]
    named.update(value for value in (parameters.get("subscriptionId"),) if isinstance(value, str))
    query = parameters.get("query") if isinstance(parameters.get("query"), dict) else {}
    named.update(query.get("subscriptions") or [])
    return {name: deterministic_uuid("contract", name) for name in named if "{" not in name}


def _mapped(value: Any, subscriptions: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {name: _mapped(item, subscriptions) for name, item in value.items()}
    if isinstance(value, list):
        return [_mapped(item, subscriptions) for item in value]
    if isinstance(value, str):
        for original, mapped in subscriptions.items():
            value = re.sub(f"/subscriptions/{re.escape(original)}(?=/|$|\\?)", f"/subscriptions/{mapped}", value,
                           flags=re.IGNORECASE)
            if value == original:
                value = mapped
        return value
    return value


@dataclass
class Replay:
    """The request an example makes, with the fixture fleet it needs."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    fleet: list[dict[str, Any]] = field(default_factory=list)


def _path(operation: SpecOperation, parameters: dict[str, Any]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: str(parameters[match.group(1)]), operation.template)


def _body_parameter(operation: SpecOperation, parameters: dict[str, Any]) -> Any:
    name = next((parameter["name"] for parameter in operation.parameters if parameter.get("in") == "body"), None)
    return parameters.get(name) if name else None


def _get_example(example: Example) -> dict[str, Any] | None:
    """The body the kept GET example of the same resource shows: the state a PATCH, DELETE or action starts from."""
    getter = next((operation for operation in operations(example.operation.file) if operation.method == "GET"
                   and operation.template == _resource_template(example.operation)), None)
    for file in (getter.examples.values() if getter else ()):
        if (SPEC_ROOT / file).exists():
            return load_document(file)["responses"]["200"]["body"]
    return None


def _resource_template(operation: SpecOperation) -> str:
    template = operation.template
    if OPERATION_STATUS.search(operation.operation_id):
        return template.rsplit("/operations/", 1)[0]
    if operation.method == "POST":
        return template.rsplit("/", 1)[0]
    return template


def _seeded(body: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """A response body as a fleet resource at the id the request names (some examples' responses name another)."""
    resource = dict(body)
    resource.update(id=resource_id, name=resource_id.rsplit("/", 1)[1], type=resource.get("type") or _type_of(resource_id))
    return resource


def _type_of(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    provider = len(parts) - 1 - parts[::-1].index("providers")
    return "/".join([parts[provider + 1], *parts[provider + 2::2]])


def _cluster_fixture(parameters: dict[str, Any], flux: bool) -> list[dict[str, Any]]:
    cluster_id = (f"/subscriptions/{parameters['subscriptionId']}/resourceGroups/{parameters['resourceGroupName']}"
                  f"/providers/{parameters['clusterRp']}/{parameters['clusterResourceName']}/{parameters['clusterName']}")
    fleet = [{"id": cluster_id, "name": parameters["clusterName"],
              "type": f"{parameters['clusterRp']}/{parameters['clusterResourceName']}", "location": "eastus",
              "properties": {"connectivityStatus": "Connected", "provisioningState": "Succeeded"}}]
    if flux:
        fleet.append({"id": f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/flux", "name": "flux",
                      "type": "Microsoft.KubernetesConfiguration/extensions",
                      "properties": {"extensionType": "microsoft.flux", "provisioningState": "Succeeded"}})
    return fleet


def _graph_fixture(example: Example, subscriptions: dict[str, str]) -> list[dict[str, Any]]:
    """The resources a Resource Graph example's answer implies: its rows, or as many virtual machines per group as
    its counts say."""
    body = example.document["responses"]["200"]["body"]
    subscription = next(iter(subscriptions.values()))
    rows = body["data"]
    fleet = []
    for index, row in enumerate(rows):
        count = row.get("count_", row.get("count"))
        if "id" in row:
            resource = {key: value for key, value in row.items() if key not in ("resourceGroup",) and "_" not in key}
            resource["type"] = resource.get("type") or "microsoft.compute/virtualmachines"
            for column, value in row.items():
                if column.startswith("properties_"):
                    _set(resource, column.split("_"), value)
            fleet.append(_mapped(resource, subscriptions))
            continue
        for number in range(count or 1):
            vm = {"id": f"/subscriptions/{subscription}/resourceGroups/rg-{index}/providers/Microsoft.Compute/"
                        f"virtualMachines/vm-{index}-{number:03d}", "name": f"vm-{index}-{number:03d}",
                  "type": "microsoft.compute/virtualmachines", "location": row.get("location", "eastus")}
            for column, value in row.items():
                if column.startswith("properties_"):
                    _set(vm, column.split("_"), value)
            fleet.append(vm)
    return [*fleet, *_paged_around(example, subscription, len(rows))]


def _paged_around(example: Example, subscription: str, shown: int) -> list[dict[str, Any]]:
    """For a paging example (its options page with $skip or $skipToken through more rows than it shows), the rows
    its page does not show, matching its query: before the page (as many as $skip, or a previous page of the same
    size for a $skipToken) and after it, up to its totalRecords; their ids sort around the example's rows."""
    body = example.document["responses"]["200"]["body"]
    options = example.document["parameters"]["query"].get("options") or {}
    total = body.get("totalRecords")
    if not isinstance(total, int) or total <= shown or not {"$skip", "$skipToken"} & set(options):
        return []
    before = body["count"] if "$skipToken" in options else options.get("$skip") or 0
    return [{"id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/disks/"
                   f"test-{group}-{number:04d}", "name": f"test-{group}-{number:04d}",
             "type": "microsoft.compute/disks", "location": "eastus"}
            for group, count in (("aaa-paging", before), ("zzz-paging", total - before - shown))
            for number in range(count)]


def _set(resource: dict[str, Any], path: list[str], value: Any) -> None:
    node = resource
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _replay(example: Example, subscriptions: dict[str, str]) -> Replay:
    operation = example.operation
    parameters = _mapped(example.document["parameters"], subscriptions)
    query = {"api-version": parameters["api-version"]}
    if operation.operation_id == GRAPH_OPERATION:
        return Replay("POST", operation.template, query, parameters["query"], _graph_fixture(example, subscriptions))
    fleet: list[dict[str, Any]] = []
    if all(name in parameters for name in CLUSTER_PARAMETERS):
        fleet = _cluster_fixture(parameters, flux="fluxConfiguration" in operation.template)
    elif "resourceGroupName" in parameters:
        group = f"/subscriptions/{parameters['subscriptionId']}/resourceGroups/{parameters['resourceGroupName']}"
        fleet = [{"id": group, "name": parameters["resourceGroupName"], "type": "Microsoft.Resources/resourceGroups",
                  "location": "eastus"}]
    resource_id = _path_for(operation, _resource_template(operation), parameters)
    responses = example.document["responses"]
    if operation.method == "GET" and "value" in (responses.get("200", {}).get("body") or {}):
        seen: dict[str, dict[str, Any]] = {}
        for item in _mapped(responses["200"]["body"]["value"], subscriptions):
            seen.setdefault(item["id"].lower(), item)
        fleet.extend(seen.values())
    elif operation.method == "GET" and not OPERATION_STATUS.search(operation.operation_id):
        fleet.append(_seeded(_mapped(responses["200"]["body"], subscriptions), resource_id))
    elif operation.method != "PUT":
        state = _get_example(example)
        if state is not None:
            fleet.append(_seeded(_mapped(state, subscriptions), resource_id))
    return Replay(operation.method, _path(operation, parameters), query, _body_parameter(operation, parameters), fleet)


def _path_for(operation: SpecOperation, template: str, parameters: dict[str, Any]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: str(parameters.get(match.group(1), match.group(0))), template)


# ---- comparison --------------------------------------------------------------------------------
def _is_id(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("/subscriptions/") or "/providers/" in value)


def compare(expected: Any, actual: Any, place: str, *, as_set: bool = False) -> list[str]:
    """Where ``actual`` lacks or changes what ``expected`` shows (see the module docstring)."""
    if expected is None:
        return [] if actual is None else [f"{place}: expected null, got {json.dumps(actual)[:80]}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{place}: missing" if actual is None else f"{place}: expected an object"]
        return [difference for name, value in expected.items()
                for difference in (compare(value, actual.get(name), f"{place}.{name}".lstrip("."))
                                   if name in actual or value is None else [f"{place}.{name}".lstrip(".") + ": missing"])]
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{place}: missing" if actual is None else f"{place}: expected an array"]
        if as_set:
            return _compare_sets(expected, actual, place)
        differences = [difference for index, (left, right) in enumerate(zip(expected, actual, strict=False))
                       for difference in compare(left, right, f"{place}[{index}]")]
        if len(expected) != len(actual):
            differences.append(f"{place}: expected {len(expected)} items, got {len(actual)}")
        return differences
    if _is_id(expected) and isinstance(actual, str):
        return [] if expected.lower() == actual.lower() else [f"{place}: expected {expected!r}, got {actual!r}"]
    return [] if expected == actual and type(expected) is type(actual) else [
        f"{place}: expected {json.dumps(expected)[:80]}, got {json.dumps(actual)[:80]}"]


def _compare_sets(expected: list[Any], actual: list[Any], place: str) -> list[str]:
    """Items matched by id (else by equality), in any order."""
    def key(item: Any) -> str:
        return str(item.get("id", "")).lower() if isinstance(item, dict) and "id" in item else json.dumps(item, sort_keys=True)

    remaining = {key(item): item for item in actual}
    differences = []
    for item in expected:
        match = remaining.pop(key(item), None)
        label = f"{place}[{item['id'].rsplit('/', 1)[1]}]" if isinstance(item, dict) and "id" in item else place
        differences += [f"{label}: missing"] if match is None else compare(item, match, label)
    return [*differences, f"{place}: {len(remaining)} more items"] if remaining else differences


def _unordered(example: Example) -> bool:
    query = example.document["parameters"].get("query")
    text = query.get("query", "") if isinstance(query, dict) else ""
    return example.operation.operation_id != GRAPH_OPERATION or not re.search(r"\|\s*(top|order|sort)\b", text)


@dataclass
class Outcome:
    example: Example
    requests: int
    differences: list[str]


def _run(example: Example, sandbox_factory, tmp_path: Path) -> Outcome:
    subscriptions = _subscriptions(example)
    replay = _replay(example, subscriptions)
    tmp_path.mkdir(parents=True, exist_ok=True)
    fleet_file = tmp_path / f"{example.name}.fleet.json"
    fleet_file.write_text(json.dumps(replay.fleet))
    running = sandbox_factory(fleet=fleet_file, state_dir=tmp_path / f"{example.name}.state")
    session = raw_session(running)
    requests = 0
    if OPERATION_STATUS.search(example.operation.operation_id):  # an operation the sandbox started: a write's
        resource = replay.path.rsplit("/operations/", 1)[0]
        state = _get_example(example) or {}
        started = session.put(f"{running.url}{resource}", params=replay.query,
                              json={"properties": _writable(state.get("properties") or {})})
        requests += 1
        operation_id = started.headers["Azure-AsyncOperation"].split("/operations/")[1].split("?")[0]
        replay.path = f"{resource}/operations/{operation_id}"
        running.control.advance_clock(3600)
        placeholder = example.document["parameters"]["operationId"]
        expected_text = json.dumps(example.document["responses"]).replace(placeholder, operation_id)
    else:
        expected_text = json.dumps(example.document["responses"])
    options = (replay.body or {}).get("options") or {} if example.operation.operation_id == GRAPH_OPERATION else {}
    if "$skipToken" in options:  # another service's token: the sandbox's own, from the page before
        shown = example.document["responses"]["200"]["body"]["count"]
        before = session.post(f"{running.url}{replay.path}", params=replay.query,
                              json={**replay.body, "options": {"$top": shown}})
        requests += 1
        replay.body = {**replay.body, "options": {**options, "$skipToken": before.json()["$skipToken"]}}
    response = session.request(replay.method, f"{running.url}{replay.path}", params=replay.query,
                               json=replay.body if replay.body is not None else None)
    requests += 1
    expected = json.loads(expected_text)
    if str(response.status_code) not in expected:
        return Outcome(example, requests, [f"status: expected {' or '.join(expected)}, got {response.status_code} "
                                           f"{response.text[:200]}"])
    shown = _mapped(expected[str(response.status_code)], subscriptions)
    differences = [f"header {name}: missing" for name in shown.get("headers") or {} if name not in response.headers]
    if "body" in shown:
        actual = response.json() if response.content else None
        if example.operation.operation_id == GRAPH_OPERATION or "value" in (shown["body"] or {}):
            unordered = _unordered(example)
            collection = "data" if "data" in shown["body"] else "value"
            differences += compare(shown["body"][collection], (actual or {}).get(collection), collection,
                                   as_set=unordered)
            differences += compare({name: value for name, value in shown["body"].items() if name != collection},
                                   actual, "")
        else:
            differences += compare(shown["body"], actual, "")
    return Outcome(example, requests, differences)


def _writable(properties: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in properties.items() if name not in (
        "provisioningState", "statuses", "complianceState", "currentVersion", "isSystemExtension", "errorMessage",
        "repositoryPublicKey", "sourceSyncedCommitId", "sourceUpdatedAt", "statusUpdatedAt")}


# ---- the allowed differences -------------------------------------------------------------------
def _matches(pattern: str, text: str) -> bool:
    """A pattern whose only wildcard is ``*`` (brackets are the literal ones of ``statuses[1]``)."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text) is not None


@dataclass(frozen=True)
class Allowed:
    example: str  # a pattern on the example's file name
    place: str  # a pattern on the difference ("properties.version: missing")
    reason: str

    def covers(self, example: Example, difference: str) -> bool:
        return _matches(self.example, example.name) and _matches(self.place, difference)


def allowed_differences() -> list[Allowed]:
    """The table under "Allowed differences" in docs/sandbox.md: | example | difference | reason |."""
    text = DIFFERENCES_DOC.read_text()
    section = text.split("### Allowed differences", 1)[1].split("\n#", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.strip().startswith("| `")]
    return [Allowed(example.strip().strip("`"), place.strip().strip("`").replace("\\|", "|"), reason.strip())
            for example, place, reason in rows]


def test_every_example_replays_with_only_listed_differences(sandbox_factory, tmp_path, record_property):
    allowed = allowed_differences()
    outcomes = [_run(example, sandbox_factory, tmp_path / f"case{index}") for index, example in enumerate(EXAMPLES)]
    unlisted = [f"{outcome.example.file}: {difference}" for outcome in outcomes for difference in outcome.differences
                if not any(rule.covers(outcome.example, difference) for rule in allowed)]
    unused = [rule for rule in allowed if not any(rule.covers(outcome.example, difference) for outcome in outcomes
                                                   for difference in outcome.differences)]
    differences = sum(len(outcome.differences) for outcome in outcomes)
    record_property("figure", f"sandbox contract: {len(outcomes)} examples of the kept REST specs replayed "
                              f"({sum(outcome.requests for outcome in outcomes)} requests), {differences} differences, "
                              f"{len(unlisted)} unlisted ({len(allowed)} rules with reasons in docs/sandbox.md); "
                              f"{len(MISSING)} referenced examples not kept (engine/sandbox/specs/SOURCE.md)")
    assert not unlisted, "\n".join(unlisted)
    assert not unused, "listed differences that no longer happen:\n" + "\n".join(
        f"{rule.example} {rule.place}" for rule in unused)


@pytest.mark.parametrize("difference", ["properties.version: missing", "status: expected 200, got 404"])
def test_an_unlisted_difference_is_one_no_rule_covers(difference):
    example = next(example for example in EXAMPLES if example.name == "GetExtension.json")
    assert not any(rule.covers(example, difference) for rule in allowed_differences())
