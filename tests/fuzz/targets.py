"""Fuzz targets: each a Hypothesis strategy of hostile inputs and the one way its reader may refuse them.

A reader may answer an input, or refuse it with its user error (``InputError`` and the errors the
evaluators turn into Error records); anything else is a crash (exit 3 in the CLI), and an input
taking more than :data:`SLOW_SECONDS` (twice: the second timing confirms it) is slow. :func:`run` feeds a target ``examples`` inputs and
counts both; the default suite runs every target with a fixed seed and budget
(``test_fuzz.py``), ``make fuzz`` runs them long (``python -m fuzz``).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.azure_policy.conditions import OPERATORS, ConditionError
from engine.azure_policy.documents import PolicyDefinition
from engine.azure_policy.functions import POLICY_FUNCTIONS, RuleContext, registry_with_parameters
from engine.azure_policy.policy import compile_policy
from engine.config import load_config
from engine.errors import InputError
from engine.evaluate.record_json import RecordEncoder
from engine.evaluate.records import Row, json_timestamp, record_document, row_order
from engine.expressions import EvaluationError, ExpressionSyntaxError, compile_expression
from engine.inventory import FleetShard, iter_snapshot, stream_snapshot
from engine.inventory.lines import LineCheckFailed, parse_line
from engine.models.results import ComplianceState
from engine.output.json_format import encode_record
from engine.output.redact import redact_record
from engine.sandbox import kql
from engine.sandbox.resources.clusters import CONNECTED_CLUSTERS
from engine.sandbox.resources.kubernetes_configuration import EXTENSIONS, FLUX_CONFIGURATIONS
from engine.sandbox.validation import Refused, cleaned, create_only_changes, merge_patch, with_defaults
from engine.secret_values import forget_all, remember, scrub
from remediation.plan.io import read_plan
from remediation.template import (
    TEMPLATE_FUNCTIONS,
    CompiledTemplate,
    DeploymentScope,
    DineDeployment,
    expand_template,
)

SLOW_SECONDS = 2.0
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
CLUSTER_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a/providers/Microsoft.Kubernetes/connectedClusters/c1"
EXTENSION_TYPE = "Microsoft.KubernetesConfiguration/extensions"

# ---- values -------------------------------------------------------------------------------------------
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=10)


def _cluster(properties: dict[str, Any], tags: Any, location: Any) -> dict[str, Any]:
    return {"id": CLUSTER_ID, "name": "c1", "type": "Microsoft.Kubernetes/connectedClusters", "location": location,
            "tags": tags, "properties": properties}


# arrays of objects whose members may lack a property or be no object at all (the [*] and count readings)
COMPONENTS = st.lists(st.one_of(st.dictionaries(st.sampled_from(["type", "majorVersion", "currentVersion"]), JSON,
                                                max_size=3), JSON), max_size=4)
RESOURCES = st.builds(_cluster, st.one_of(
    st.dictionaries(st.sampled_from(["distribution", "totalNodeCount", "kubernetesVersion", "agentVersion",
                                     "connectivityStatus", "provisioningState", "privateLinkState", "infrastructure"]),
                    JSON, max_size=5),
    st.builds(lambda components, groups: {"arcAgentProfile": {"systemComponents": components},
                                          "aadProfile": {"adminGroupObjectIDs": groups}},
              COMPONENTS, st.one_of(JSON, st.lists(st.text(max_size=4), max_size=3)))),
    st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
    st.one_of(st.sampled_from(["westeurope", "West Europe", " EAST us 2 ", "ΣΕΛΑΣ", "İstanbul"]), JSON))

# ---- expressions ----------------------------------------------------------------------------------------
FUNCTION_NAMES = sorted(POLICY_FUNCTIONS.names() | TEMPLATE_FUNCTIONS.names() | {"nope", "listKeys"})
PROPERTY_NAMES = st.sampled_from(["id", "name", "properties", "a", "value", "length", "x y"])
ATOMS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=10).map(lambda text: "'" + text.replace("'", "''") + "'"),
    st.sampled_from(["true()", "false()", "null()", "createArray()", "createObject()", "json('[1,{\"a\":2}]')",
                     "field('name')", "field('tags')", "field('Microsoft.Kubernetes/connectedClusters/totalNodeCount')",
                     "parameters('p')", "parameters('list')", "variables('v')", "range(0, 3)", "'*a*b'", "''",
                     "utcNow()", "resourceGroup()", "subscription()", "copyIndex()", "current()",
                     # lambdas (templates only), the largest arrays they may walk, and the formats and
                     # ranges the date, CIDR and IP functions read
                     "lambda('x', lambdaVariables('x'))", "lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b')))",
                     "lambda('x', 'i', concat(string(lambdaVariables('i')), string(lambdaVariables('x'))))",
                     "lambdaVariables('x')", "range(0, 10000)", "'10.0.0.0/24'", "'192.168.0.1-192.168.0.9'",
                     "'fdad:3236:5555::/48'", "'2020-04-07T14:53:14Z'", "'P1Y2M3DT4H'", "'yyyy-MM-dd HH:mm:ss.FFF'",
                     "'{0,8:N2} {1}'"]),
)


def _call(name: str, arguments: list[str]) -> str:
    return f"{name}({', '.join(arguments)})"


EXPRESSIONS = st.recursive(ATOMS, lambda inner: st.one_of(
    st.builds(_call, st.sampled_from(FUNCTION_NAMES), st.lists(inner, max_size=4)),
    st.builds(lambda target, name: f"{target}.{name}", inner, PROPERTY_NAMES),
    st.builds(lambda target, index: f"{target}[{index}]", inner, inner),
), max_leaves=14)
EDITS = st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=4),
                           st.text(alphabet="()[],.' 0a9-*{}\\\"", max_size=4)), max_size=3)


def _edited(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with a few characters deleted and inserted: mutated, not only well-formed, input."""
    for position, deleted, inserted in edits:
        at = position % (len(text) + 1)
        text = text[:at] + inserted + text[at + deleted:]
    return text


MUTATED_EXPRESSIONS = st.builds(_edited, EXPRESSIONS, EDITS).map(lambda text: f"[{text}]")
POLICY_PARAMETERS = {"p": "x", "list": [1, "a", None], "obj": {"a": {"b": 1}}}


def check_policy_expression(case: tuple[str, dict[str, Any]]) -> None:
    """A policy-rule expression compiles and evaluates on a resource, or is refused."""
    text, resource = case
    try:
        compiled = compile_expression(text, registry_with_parameters(POLICY_PARAMETERS))
        compiled(RuleContext(resource, NOW, {"assignmentId": "/a"}))
    except (ExpressionSyntaxError, EvaluationError):
        pass


TEMPLATE_SCOPE = DeploymentScope(SUBSCRIPTION, "rg-a", "westeurope")


def check_template_expression(text: str) -> None:
    """A template expression in a resource's property expands, or the template is refused."""
    template = {"parameters": {"p": {"type": "string", "defaultValue": "x"},
                               "list": {"type": "array", "defaultValue": [1, "a"]}},
                "variables": {"v": [1, {"a": 2}]},
                "resources": [{"type": EXTENSION_TYPE, "apiVersion": "2022-11-01", "name": "e",
                               "scope": "Microsoft.Kubernetes/connectedClusters/c1",
                               "properties": {"x": text}}]}
    with contextlib.suppress(InputError):
        expand_template(CompiledTemplate.compile(template, "fuzz.json"), {}, TEMPLATE_SCOPE, "fuzz", now=NOW)


# ---- policy rules ------------------------------------------------------------------------------------------
COMPONENT = "Microsoft.Kubernetes/connectedClusters/arcAgentProfile.systemComponents[*]"
GROUP_IDS = "Microsoft.Kubernetes/connectedClusters/aadProfile.adminGroupObjectIDs[*]"
FIELDS = st.sampled_from([
    "type", "name", "location", "id", "tags", "tags['a']", "tags.a", "Microsoft.Kubernetes/connectedClusters/distribution",
    "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "Microsoft.Kubernetes/connectedClusters/nope",
    "Microsoft.KubernetesConfiguration/extensions/extensionType", "[concat('na', 'me')]", "", "[field('name')]",
    "Microsoft.KubernetesConfiguration/extensions/configurationSettings", "tags[*]", "tags['''a''']",
    COMPONENT, f"{COMPONENT}.type", f"{COMPONENT}.majorVersion", GROUP_IDS, "[concat('loca', 'tion')]",
    f"[concat('{COMPONENT}', '.type')]", "Microsoft.Test/resourceType/missing[*].property",
])
# field() and current() of array aliases, inside counts and out (the arrays page's readings)
ARRAY_VALUES = st.sampled_from([
    f"[field('{COMPONENT}')]", f"[first(field('{COMPONENT}.type'))]", f"[length(field('{COMPONENT}.type'))]",
    f"[current('{COMPONENT}')]", f"[current('{COMPONENT}.type')]", "[length(field('Microsoft.Test/resourceType/x[*]'))]",
    f"[field('{GROUP_IDS}')]", "[requestContext().apiVersion]", "[empty(field('tags'))]",
])
OPERATOR_NAMES = st.sampled_from([*sorted(OPERATORS), "Equals", "LIKE", "nope"])
EXPECTED = st.one_of(JSON, MUTATED_EXPRESSIONS, st.sampled_from(["*", "a*b*", "##-??", "[parameters('list')]"]))


def _condition(subject: str, subject_value: Any, operator: str, expected: Any) -> dict[str, Any]:
    return {subject: subject_value, operator: expected}


CONDITIONS = st.one_of(
    st.builds(_condition, st.just("field"), FIELDS, OPERATOR_NAMES, EXPECTED),
    st.builds(_condition, st.just("value"), st.one_of(JSON, MUTATED_EXPRESSIONS), OPERATOR_NAMES, EXPECTED),
    st.builds(_condition, st.just("count"), st.fixed_dictionaries(
        {"field": st.sampled_from(["tags[*]", "Microsoft.Kubernetes/connectedClusters/nope[*]", "name", COMPONENT,
                                   GROUP_IDS])},
        optional={"where": st.one_of(st.builds(_condition, st.just("field"), FIELDS, OPERATOR_NAMES, EXPECTED),
                                     st.builds(_condition, st.just("value"), ARRAY_VALUES, OPERATOR_NAMES, EXPECTED)),
                  "name": st.text(max_size=3)}),
              OPERATOR_NAMES, st.integers(min_value=-2, max_value=3)),
    st.builds(_condition, st.just("value"), ARRAY_VALUES, OPERATOR_NAMES, EXPECTED),
    st.builds(_condition, st.just("count"), st.fixed_dictionaries(
        {"value": st.one_of(JSON, MUTATED_EXPRESSIONS)}, optional={"name": st.text(max_size=4), "where": st.builds(
            _condition, st.just("value"), st.sampled_from(["[current()]", "[current('x')]", "[first(current())]"]),
            OPERATOR_NAMES, EXPECTED)}), OPERATOR_NAMES, st.integers(min_value=-2, max_value=3)),
    JSON,  # not a condition at all
)
RULES = st.recursive(CONDITIONS, lambda inner: st.one_of(
    st.builds(lambda children: {"allOf": children}, st.lists(inner, max_size=3)),
    st.builds(lambda children: {"anyOf": children}, st.lists(inner, max_size=3)),
    st.builds(lambda child: {"not": child}, inner),
), max_leaves=6)
EFFECTS = st.one_of(st.sampled_from(["audit", "deny", "AuditIfNotExists", "disabled", "[parameters('p')]", "nope"]),
                    MUTATED_EXPRESSIONS)


def check_policy_rule(case: tuple[Any, Any, dict[str, Any]]) -> None:
    """A rule compiles and decides (and explains) a resource, or is refused, or that record is an Error."""
    condition, effect, resource = case
    document = {"id": "/providers/Microsoft.Authorization/policyDefinitions/fuzz", "name": "fuzz", "mode": "All",
                "parameters": {"p": {"type": "String"}, "list": {"type": "Array"}, "obj": {"type": "Object"}},
                "policyRule": {"if": condition, "then": {"effect": effect, "details": {
                    "type": EXTENSION_TYPE, "existenceCondition": condition}}}, "source": "fuzz.json"}
    try:
        definition = PolicyDefinition.model_validate(document)
        policy = compile_policy(definition, POLICY_PARAMETERS, {"assignmentId": "/a", "definitionId": "/d"})
    except (InputError, ValidationError):
        return
    if policy is None:
        return
    related = {EXTENSION_TYPE.lower(): [{"id": f"{CLUSTER_ID}/providers/{EXTENSION_TYPE}/e", "name": "e",
                                         "type": EXTENSION_TYPE, "properties": resource["properties"]}]}
    with contextlib.suppress(EvaluationError, ConditionError):
        policy.evaluate(resource, related, NOW, explain=True)


# ---- files -----------------------------------------------------------------------------------------------
def _snapshot_text(resources: list[Any], shape: str, edits: list[tuple[int, int, str]]) -> bytes:
    text = {"list": lambda: json.dumps(resources), "value": lambda: json.dumps({"value": resources}, indent=1),
            "ndjson": lambda: "\n".join(json.dumps(resource) for resource in resources)}[shape]()
    return _edited(text, edits).encode("utf-8", "surrogatepass")


SNAPSHOT_EDITS = st.lists(st.tuples(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=3),
                                    st.one_of(st.text(alphabet="[]{}\",:0123456789e-.", max_size=6),
                                              st.sampled_from(["9" * 70, "[" * 80, "1e999", "\ufeff", "\x00"]))),
                          max_size=3)
SNAPSHOTS = st.builds(_snapshot_text, st.lists(st.one_of(RESOURCES, JSON), max_size=4),
                      st.sampled_from(["list", "value", "ndjson"]), SNAPSHOT_EDITS)


class FileTarget:
    """Checks of readers that take a path: the input is written to one scratch file."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="arcpolicy-fuzz-"))

    def write(self, name: str, content: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(content)
        return path


FILES = FileTarget()


def check_snapshot(content: bytes) -> None:
    """Every resource of a snapshot is read, or the file is refused."""
    try:
        for _ in iter_snapshot(FILES.write("fleet.json", content)):
            pass
    except InputError:
        pass


# A scan routes plain NDJSON lines unparsed (engine.inventory.lines): it must read what the exact reading reads,
# or refuse the file with the exact reading's error (the first bad line). Only a second 'id' or 'type' member,
# which the exact reading takes the last of, is refused by the scan alone.
LINE_VALUES = st.one_of(st.sampled_from(["East US", "eastus", "", None, "s3cret-value", {"k": ""}, {},
                                         {"k": "s3cret-value"}, "a\\b", "caf\u00e9"]), JSON)
LINE_MEMBERS = st.dictionaries(st.sampled_from(["name", "location", "kind", "tags", "properties", "identity", "sku",
                                                "type", "id", "x"]), LINE_VALUES, max_size=3)
LINE_IDS = st.sampled_from([CLUSTER_ID, CLUSTER_ID + "/", CLUSTER_ID.replace("c1", "providers"), CLUSTER_ID.lower(),
                            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a",
                            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a/providers/Microsoft.Web/sites/w"])
LINE_EXTENSION = st.builds(lambda properties, extra: {
    "id": f"{CLUSTER_ID}/providers/{EXTENSION_TYPE}/flux", "name": "flux", "type": EXTENSION_TYPE, **extra,
    "properties": properties}, st.dictionaries(st.sampled_from(["extensionType", "configurationProtectedSettings",
                                                                "configurationSettings", "location"]), LINE_VALUES,
                                               max_size=3), LINE_MEMBERS)
LINE_RESOURCES = st.one_of(RESOURCES, LINE_EXTENSION, st.builds(lambda resource, resource_id, extra: {
    "id": resource_id, "name": "n", "type": resource["type"], **extra, **{k: v for k, v in resource.items()
                                                                         if k not in ("id", "name", "type")}},
    RESOURCES, LINE_IDS, LINE_MEMBERS), st.builds(lambda extra: {"id": CLUSTER_ID, **extra}, LINE_MEMBERS))
LINE_EDITS = st.lists(st.tuples(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=3),
                                st.one_of(st.text(alphabet='[]{}",:0123456789\\ne', max_size=6),
                                          st.sampled_from(['"type":"x",', '"id":"/x",', '"location":"West US",',
                                                           '\n', "[" * 70, "\xff"]))), max_size=3)
SCAN_LINES = st.builds(lambda resources, edits: _edited("".join(
    json.dumps(resource, separators=(",", ":"), ensure_ascii=False) + "\n" for resource in resources), edits),
                       st.lists(LINE_RESOURCES, max_size=5), st.one_of(st.just([]), LINE_EDITS)).map(
    lambda text: text.encode("utf-8", "surrogatepass").replace(b"\xc3\xbf", b"\xff"))


def _read_for_a_scan(path: Path, defer: bool) -> Any:
    """What a scan reads of a snapshot (clusters with their children, other resources, warnings), or its error."""
    try:
        fleet = stream_snapshot(path, defer_lines=defer)
        clusters, others = [], []
        try:
            for partition in fleet.partitions():
                clusters += [cluster.model_dump() for cluster in FleetShard(
                    [entry for entry in partition.entries if entry.resource is not None]).clusters(parse_line)]
                others += [(position, orjson.loads(encoded)) for position, encoded in partition.others]
        except LineCheckFailed as failure:
            fleet.raise_bad_line(failure)
        return sorted(clusters, key=orjson.dumps), sorted(others, key=orjson.dumps), fleet.warnings, fleet.containers
    except InputError as error:
        return error.one_line()


def check_scan_lines(content: bytes) -> None:
    path = FILES.write("fleet.ndjson", content)
    forget_all()
    exact = _read_for_a_scan(path, defer=False)
    masked = scrub("s3cret-value") != "s3cret-value"
    forget_all()
    deferred = _read_for_a_scan(path, defer=True)
    if deferred != exact and not (isinstance(deferred, str) and "more than one 'id' or 'type' member" in deferred):
        raise AssertionError(f"the scan read {str(deferred)[:300]}, the exact reading {str(exact)[:300]}")
    if masked and scrub("s3cret-value") == "s3cret-value":  # (remembering more, from lines after a bad one, is safe)
        raise AssertionError("a protected setting was not remembered as a secret")


# A scan writes a record from parts serialised once (engine.evaluate.record_json): byte for byte what building the
# record whole, masking it and writing it gives (the reference path), for any row, secrets remembered or not.
PLAIN_RECORD_TEXT = st.one_of(st.sampled_from(["", "eastus", "s3cret-value", "password", "a\"b\\c", "<x>&"]),
                              st.text(alphabet=st.characters(max_codepoint=126), max_size=8))
ODD_RECORD_TEXT = st.one_of(st.sampled_from(["Zürich-Ω", "\x7f", "\u2028"]), st.text(max_size=4))
# mostly what orjson writes as the json module would (the parts' path), now and then what it does not
RECORD_TEXT = st.integers(min_value=0, max_value=15).flatmap(lambda n: ODD_RECORD_TEXT if n == 0 else PLAIN_RECORD_TEXT)
RECORD_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), RECORD_TEXT),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(RECORD_TEXT, inner, max_size=3)), max_leaves=6)
RECORD_VALUES = st.one_of(RECORD_JSON, st.dictionaries(st.sampled_from(["password", "apiKey", "x", "s3cret-value"]),
                                                       RECORD_JSON, max_size=2),
                          st.sampled_from(["s3cret-value", 2**70, 1e16, -0.0]))
RECORD_POLICIES = st.tuples(st.sampled_from(["/providers/Microsoft.Authorization/policyAssignments/a",
                                              "/providers/Microsoft.Authorization/policyAssignments/B"]), RECORD_TEXT,
                            st.one_of(st.none(), st.just("/")), st.sampled_from(["def-1", "rego:arcpolicy.x"]),
                            RECORD_TEXT, st.one_of(st.none(), RECORD_TEXT), st.one_of(st.none(), st.just("set-1")),
                            st.one_of(st.none(), st.sampled_from(["ref-1", "Ref-2"])), st.sampled_from(["audit", "deny"]))
RECORD_REASONS = st.tuples(RECORD_TEXT, st.one_of(st.none(), RECORD_TEXT),
                           st.one_of(st.none(), st.sampled_from(["properties.configurationProtectedSettings.token",
                                                                 "location", "tags.password"]), RECORD_TEXT),
                           st.one_of(st.none(), st.just("equals")), RECORD_VALUES, RECORD_VALUES)
RECORD_DETAILS = st.one_of(st.none(), st.lists(st.dictionaries(st.sampled_from(["msg", "token", "s3cret-value"]),
                                                               RECORD_VALUES, max_size=2), max_size=2))
RECORD_ROWS = st.tuples(st.lists(st.tuples(
    st.sampled_from([CLUSTER_ID, CLUSTER_ID.upper(), CLUSTER_ID + "-Zürich"]), st.sampled_from(["t", "T"]),
    st.one_of(st.none(), RECORD_TEXT), st.one_of(st.none(), st.just("rg-a")), st.one_of(st.none(), st.just(SUBSCRIPTION)),
    RECORD_POLICIES, st.sampled_from(list(ComplianceState)), st.lists(RECORD_REASONS, max_size=2).map(tuple),
    st.one_of(st.none(), RECORD_TEXT), st.one_of(st.none(), st.just("Waiver")), RECORD_DETAILS, RECORD_DETAILS,
    st.one_of(st.none(), RECORD_TEXT)), min_size=1, max_size=4), st.booleans())


def check_record_json(case: tuple[list[Row], bool]) -> None:
    rows, secret_remembered = case
    forget_all()
    if secret_remembered:
        remember("s3cret-value")
    timestamp = json_timestamp(NOW)
    encoder = RecordEncoder(timestamp)
    for row in rows:
        expected = row_order(row), encode_record(redact_record(record_document(row, timestamp)))
        if encoder.encode(row) != expected:
            raise AssertionError(f"record of {row!r} differs from the reference path's {expected[1][:300]!r}")


TOML_VALUES = st.recursive(
    st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=8).map(json.dumps),
              st.sampled_from(["true", "90d", "'never'", "1979-05-27", "inf", "'x.json'", '"https://x"'])),
    lambda inner: st.one_of(st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
                            st.dictionaries(st.sampled_from(["a", "b", "format", "path"]), inner, max_size=2).map(
                                lambda table: "{" + ", ".join(f"{key} = {value}" for key, value in table.items()) + "}")),
    max_leaves=6)
TOML_KEYS = st.sampled_from(["inventory", "policies", "fail_on", "workers", "format", "path", "url", "keep", "level",
                             "assignments", "strict_aliases", "nope"])
TOML_SECTIONS = st.sampled_from(["[scan]", "[[outputs]]", "[store]", "[logging]", "[schedule]", "[nope]", ""])
CONFIGS = st.builds(
    lambda sections, edits, raw: _edited("".join(f"{header}\n" + "".join(f"{key} = {value}\n" for key, value in body)
                                                 for header, body in sections), edits).encode("utf-8") + raw,
    st.lists(st.tuples(TOML_SECTIONS, st.lists(st.tuples(TOML_KEYS, TOML_VALUES), max_size=3)), max_size=3),
    st.lists(st.tuples(st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=3),
                       st.text(alphabet="[]{}=\"',\n#x1", max_size=4)), max_size=2),
    st.sampled_from([b"", b"", b"", b"\xff\xfe", b"x = " + b"[" * 5000 + b"]" * 5000]))


def check_config(content: bytes) -> None:
    """A config file is read and validated, or refused."""
    with contextlib.suppress(InputError):
        load_config(FILES.write("arcpolicy.toml", content))


def _plan_documents() -> list[Any]:
    """A real plan (a canary wave, dependencies, shared bodies) in plan.json's layout and the expanded one."""
    from apply.plans import fleet_plan

    from engine.inventory import Fleet
    from engine.inventory.generator import generate_fleet
    from remediation.plan.io import plan_json

    plan = fleet_plan(Fleet(generate_fleet(3, seed=3)), canary=2)
    return [json.loads(plan_json(plan)), plan.to_json()]


PLAN_DOCUMENTS = _plan_documents()
DELETE = object()


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [path, *(place for key, child in children for place in _places(child, (*path, key)))]


def _mutated(document: Any, changes: list[tuple[int, Any]]) -> Any:
    """``document`` (changed in place) with a few values replaced or deleted anywhere."""
    for choice, replacement in changes:
        places = _places(document)[1:]
        if not places:
            break
        *parents, key = places[choice % len(places)]
        container = document
        for parent in parents:
            container = container[parent]
        if replacement is DELETE:
            del container[key]
        else:
            container[key] = replacement
    return document


def _mutated_plan(base: int, changes: list[tuple[int, Any]], edits: list[tuple[int, int, str]]) -> bytes:
    """A real plan with a few values replaced or deleted anywhere, then a few characters edited."""
    document = _mutated(json.loads(json.dumps(PLAN_DOCUMENTS[base])), changes)
    return _edited(json.dumps(document), edits).encode("utf-8", "surrogatepass")


PLANS = st.builds(_mutated_plan, st.integers(min_value=0, max_value=len(PLAN_DOCUMENTS) - 1),
                  st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.one_of(JSON, st.just(DELETE))),
                           min_size=1, max_size=3),
                  st.lists(st.tuples(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=2),
                                     st.text(alphabet="[]{}\",:0-9", max_size=3)), max_size=1))


def check_plan(content: bytes) -> None:
    """A plan file is read and checked in full, or refused."""
    with contextlib.suppress(InputError):
        read_plan(FILES.write("plan.json", content))


# ---- templates: whole ARM templates and deployIfNotExists definitions, their structure mutated ---------------
TEMPLATE_EXAMPLES = Path(__file__).resolve().parents[1] / "template" / "docs_examples"


@cache
def _template_documents() -> list[tuple[str, Any]]:
    """The docs' example templates and Microsoft's deployIfNotExists built-ins for Kubernetes (with one
    of every other kind of deployment), as ``("template" | "definition", document)``."""
    from template.corpus import dine_definitions

    examples = [("template", json.loads(path.read_text(encoding="utf-8-sig")))
                for path in sorted(TEMPLATE_EXAMPLES.rglob("*.json"))]
    definitions = [("definition", document) for number, (path, document) in enumerate(dine_definitions())
                   if path.parent.name == "Kubernetes" or number % 100 == 0]
    return examples + definitions


TEMPLATE_BASES = 64  # each input picks a document by its number modulo how many there are


def check_template(case: tuple[int, list[tuple[int, Any]]]) -> None:
    """A template, or a deployIfNotExists definition, with values replaced or deleted anywhere: compiled and
    expanded (a definition for a resource of its ``if`` type with placeholder parameters), or refused."""
    from template.corpus import ASSIGNMENT_ID, parameters_of, synthetic_resource

    base, changes = case
    documents = _template_documents()
    kind, original = documents[base % len(documents)]
    document = _mutated(json.loads(json.dumps(original)), changes)
    with contextlib.suppress(InputError):
        if kind == "template":
            expand_template(CompiledTemplate.compile(document, "fuzz.json"), {}, TEMPLATE_SCOPE, "fuzz", now=NOW)
            return
        resource = synthetic_resource(Path("fuzz.json"), original["properties"])
        DineDeployment.from_definition(document, "fuzz.json").expand(
            resource, parameters_of(original["properties"], resource["location"]), ASSIGNMENT_ID, now=NOW)


TEMPLATES = st.tuples(st.integers(min_value=0, max_value=TEMPLATE_BASES),
                      st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.one_of(JSON, st.just(DELETE))),
                               min_size=1, max_size=3))


REGO_TESTS = ["""package fuzz_test

cases := [{"n": "a", "v": 1}, {"n": "b", "v": 2}]

default allowed := false

allowed if {
	input.method == "GET"
	count(input.users) > 0
}

test_table[tc.n] if {
	some tc in cases
	print("case", tc.n)
	tc.v < 2
}

test_x if { not allowed with input as {"method": "POST"} }

test_x if true

todo_test_y if false

names := {n | some n in ["x", "y"]}

test_every if {
	every n in names {
		startswith(n, "x")
	}
}
""", """package fuzz_policy

violation contains {"msg": sprintf("%s", [e.name])} if {
	some e in input.extensions
	e.properties.version == "1.0"
}

tier := "gold" if { input.premium } else := "basic"

test_violation if count(violation) == 1 with input.extensions as [{"name": "a", "properties": {"version": "1.0"}}]

test_tier[k] := v if {
	some k, v in {"basic": tier == "basic"}
}
"""]
REGO_EDITS = st.lists(st.tuples(st.integers(min_value=0, max_value=2_000), st.integers(min_value=0, max_value=3),
                                st.text(alphabet="{}[]()\"`#;:=|\n\t ._xin01", max_size=4)), max_size=3)


def check_rego_tests(case: tuple[int, list[tuple[int, int, str]]]) -> None:
    """A Rego test file is run, its coverage taken (the tests again on probed copies), or the file is refused.

    Refusing a file that ran, while preparing its coverage, is a crash: the probes broke it.
    """
    from engine.rego.testing import run_tests

    source, edits = case
    path = FILES.write("fuzz_test.rego", _edited(REGO_TESTS[source], edits).encode("utf-8", "surrogatepass"))
    try:
        run_tests([path])
    except InputError:
        return
    run_tests([path], coverage=True)


# ---- Rego built-ins arcpolicy provides in Python (tests/rego/test_builtins_fuzzed_against_opa.py judges them by OPA)
REGO_SCALARS = st.one_of(SCALARS, st.sampled_from([
    "10.0.0.0/8", "10.0.0.1", "::ffff:10.0.0.0/104", "2001:db8::/33", "fe80::1%eth0/64", "0.0.0.0/0", "::/0",
    "e30.e30.", "eyJjdHkiOiJKV1QifQ.ImUzMC5lMzAuIg.", "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
    "%d|%v|%-8.3f|%q|%x|%!", "1.0.0-rc.1+b", "2006-01-02T15:04:05Z", "*.a.{b,c}", "a,b,,c", "ß", "a%zz&b=%20", "1e30",
    # regex.globs_match patterns; a certificate for the x509 parsers (EC P-256, CN root)
    "[a-c]+x*", "a\\*.+", "[c-a]", "[a-", "\\",
    "-----BEGIN CERTIFICATE-----\nMIIBMzCB2aADAgECAgEBMAoGCCqGSM49BAMCMA8xDTALBgNVBAMMBHJvb3QwIBcN\n"
    "MjQwMTAxMDAwMDAwWhgPMjEyNDAxMDEwMDAwMDBaMA8xDTALBgNVBAMMBHJvb3Qw\n"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ+0RO3iDtMWQY4N52wwhzaFnQu0CVQ\n"
    "SL9DM5HTdLwh0ZCZIJrMxMiiJMhDr6T0xooJDQTaXpiJ2uL47vzoKjdAoyQwIjAP\n"
    "BgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaCBHJvb3QwCgYIKoZIzj0EAwIDSQAw\n"
    "RgIhAI8ia1rXRR9eZaHOC9evOUCtPXkX8QTSpB2kzo0C/zyuAiEAyxnwIEBWDdDy\n"
    "+09XZzh0UXSjWie+HYg1uGEcwMJrj7U=\n-----END CERTIFICATE-----\n",
    # keys of the JWT verifiers: a PEM public key (EC P-256), a JWK set with kid and alg
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEknF5kKi+F6DdM49mDyQ5QKS3J+u2\n"
    "FUg6eFUtCY2zinvNAbrPr8+77Ulb91nLSnX6QkepzbfLJ46/NJkJEpMnXA==\n-----END PUBLIC KEY-----\n",
    '{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "alg": "ES256", "x": "knF5kKi-F6DdM49mDyQ5QKS3J-u2FUg6eFUtCY2zinv", '
    '"y": "zQG6z6_Pu-1JW_dZy0p1-kJHqc23yyeOvzSZCRKTJ1w"}, {"kty": "oct", "k": "c2VjcmV0"}]}']))
REGO_VALUES = st.recursive(REGO_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3),
    st.frozensets(REGO_SCALARS, max_size=4).map(set)), max_leaves=8)


def check_rego_builtin(case: tuple[str, list[Any]]) -> None:
    """A built-in answers its operands (Python values, as regorus hands them: sets included) or refuses them
    with OPA's error (BuiltinError)."""
    from engine.rego.opa_builtins import BUILTINS, BuiltinError

    name, operands = case
    entry = BUILTINS[name]
    with contextlib.suppress(BuiltinError):
        entry.function(*operands[:entry.arity])


def _rego_builtin_names() -> list[str]:
    from engine.rego.opa_builtins import BUILTINS

    return sorted(BUILTINS)


# ---- running ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]


# ---- the sandbox: KQL and request bodies -----------------------------------------------------------
KQL_QUERIES = ["resources | where type =~ 'microsoft.kubernetes/connectedclusters' and subscriptionId in ('a', 'b')",
               "resources | project id, name, properties.a.b | order by id asc | take 3",
               "resources | summarize count() by tostring(properties.a) | top 2 by count_",
               "resources | extend lower = tolower(name) | where lower contains 'x' or name startswith 'y'",
               "resourcecontainers | summarize by location | limit 1"]
KQL = st.builds(_edited, st.sampled_from(KQL_QUERIES), EDITS)
KQL_ROWS = [{"id": f"{CLUSTER_ID}{index}", "name": f"c{index}", "type": "microsoft.kubernetes/connectedclusters",
             "location": "eastus", "properties": {"a": value}} for index, value in enumerate([1, "x", None, [2], {"b": 3}])]


def check_kql(text: str) -> None:
    with contextlib.suppress(kql.UnsupportedQuery):
        kql.parse(text).run(KQL_ROWS)


BODY_SCHEMAS = [(resource_type, path, method) for resource_type, path in (
    (EXTENSIONS, f"{CLUSTER_ID}/providers/Microsoft.KubernetesConfiguration/extensions/e"),
    (FLUX_CONFIGURATIONS, f"{CLUSTER_ID}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/f"),
    (CONNECTED_CLUSTERS, CLUSTER_ID)) for method in ("PUT", "PATCH")]
BODIES = st.tuples(st.sampled_from(BODY_SCHEMAS), st.one_of(
    JSON, st.dictionaries(st.sampled_from(["properties", "identity", "location", "kind"]), st.one_of(JSON, st.dictionaries(
        st.sampled_from(["extensionType", "scope", "configurationSettings", "kustomizations", "gitRepository",
                         "namespace", "sourceKind", "agentPublicKeyCertificate", "suspend"]), JSON, max_size=4)),
                       max_size=3)))


def check_body(case: tuple[tuple[Any, str, str], Any]) -> None:
    """What the sandbox does with a body before storing it: cleaned, defaulted, merged, compared."""
    (resource_type, path, method), body = case
    schema = resource_type.body_schema(method, path)
    with contextlib.suppress(Refused):
        written = with_defaults(schema, cleaned(schema, body, patch=method == "PATCH"))
        create_only_changes(schema, merge_patch(written, body), written)


TARGETS = [
    Target("policy rules", st.tuples(RULES, EFFECTS, RESOURCES), check_policy_rule),
    Target("policy expressions", st.tuples(MUTATED_EXPRESSIONS, RESOURCES), check_policy_expression),
    Target("template expressions", MUTATED_EXPRESSIONS, check_template_expression),
    Target("templates", TEMPLATES, check_template),
    Target("snapshots", SNAPSHOTS, check_snapshot),
    Target("scan lines", SCAN_LINES, check_scan_lines),
    Target("record json", RECORD_ROWS, check_record_json),
    Target("configs", CONFIGS, check_config),
    Target("plans", PLANS, check_plan),
    Target("sandbox kql", KQL, check_kql),
    Target("sandbox bodies", BODIES, check_body),
    Target("rego built-ins", st.tuples(st.sampled_from(_rego_builtin_names()), st.lists(REGO_VALUES, min_size=4,
                                                                                       max_size=4)), check_rego_builtin),
    Target("rego unit tests", st.tuples(st.integers(min_value=0, max_value=len(REGO_TESTS) - 1), REGO_EDITS),
           check_rego_tests),
]


@dataclass
class Report:
    target: str
    inputs: int = 0
    crashes: list[str] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)


BATCH = 5_000  # inputs per Hypothesis run: its record of the inputs tried grows with them


def run(target: Target, examples: int, seed: int | None = None) -> Report:
    """Feed ``target`` ``examples`` inputs and count them, the crashes (each with its input) and the
    inputs slower than :data:`SLOW_SECONDS`. Without ``seed`` the inputs are Hypothesis' fixed
    derandomized sequence (the default suite's); with one, batches of :data:`BATCH` from the seeds
    ``seed``, ``seed + 1`` ..."""
    report = Report(target.name)
    for batch, start in enumerate(range(0, examples, BATCH)):
        _feed(target, min(BATCH, examples - start), None if seed is None else seed + batch, report)
    return report


def _feed(target: Target, examples: int, seed: int | None, report: Report) -> None:
    @settings(max_examples=examples, derandomize=seed is None, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis_seed(seed)
    @given(target.strategy)
    def feed(case: Any) -> None:
        report.inputs += 1
        started = time.perf_counter()
        try:
            target.check(case)
        except Exception as error:  # a crash: recorded, and the run goes on
            report.crashes.append(f"{type(error).__name__}: {str(error)[:200]} <- {repr(case)[:300]}")
        elapsed = time.perf_counter() - started
        if elapsed > SLOW_SECONDS:  # timed again: on a busy machine a pause is not the input's
            started = time.perf_counter()
            with contextlib.suppress(Exception):
                target.check(case)
            elapsed = min(elapsed, time.perf_counter() - started)
        if elapsed > SLOW_SECONDS:
            report.slow.append(f"{elapsed:.1f} s <- {repr(case)[:300]}")

    feed()
