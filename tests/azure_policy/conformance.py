"""Microsoft's Azure Policy conformance cases (regorus's ``tests/azure_policy``) run through arcpolicy.

``../shared/regorus-azure-policy-tests/`` (MIT, commit 39f535e9 of microsoft/regorus) holds YAML files of
cases: a policy rule or definition, a resource, parameters, alias tables, and the wanted outcome. Each case
runs here as arcpolicy runs a policy: the text is read as a definition file is (:func:`load_documents`),
parameters are resolved as an assignment's are, the rule compiles with :func:`compile_policy` against an
:class:`AliasTable` built from the case's alias file, and :meth:`CompiledPolicy.evaluate` decides the resource:

- ``want_effect``: the ``if`` matches (for AuditIfNotExists/DeployIfNotExists: and no related resource
  satisfies the existence condition) and the effect is the one named (case-insensitive, as Azure's);
  ``want_details``: :meth:`CompiledPolicy.resolved_details` equals them;
- ``want_undefined``: the ``if`` does not match (or the existence condition holds: the effect does not fire);
- ``want_parse_error`` / ``want_compile_error``: loading or compiling the policy is an error;
- none of these: the policy loads, compiles and evaluates without error.

How a case's inputs map onto arcpolicy's (the Rust harness's reading, ``mod.rs``):

- a file with ``aliases: <table>.json`` resolves fields against that table (ARM's provider alias format,
  :func:`provider_aliases`), the resource being ARM JSON; the table is an excerpt of Azure's, and an
  alias it lacks is read by Azure's default convention (``<type>/<path>`` reads ``properties.<path>``, as
  arcpolicy reads aliases of types outside its own table). A file without resolves every field that is not
  a built-in one (``type``, ``tags[...]`` ...) as a property path of the resource (regorus reads
  ``properties.count`` so);
- ``api_version`` is the API version the resource was read at (``apiVersion`` of its JSON: versioned alias
  paths follow it) and, without ``request_context``, ``requestContext().apiVersion``;
- ``context``: ``resourceGroup()``, ``subscription()`` (the resource's id is built from them when it has
  none) and ``utcNow``;
- ``host_await``: the related resources an existence check finds (``response: null``: none);
- ``resource``: in a file with an alias table, written for regorus's normalizer (``properties`` flattened, each
  alias's value put at its short name): a value the case writes where an alias's short name points, not at its
  path, is moved to the path, and ``properties.tags`` are the tags (:func:`reshaped`); an id naming another subscription than the context's is read in the context's, which is
  what regorus's ``subscription()`` returns;
- ``parameters``: a bare rule's definition declares the parameters the rule reads; a declared parameter the
  case gives no value (and without defaultValue) is left unset (:func:`compile_policy`'s ``unset``).

The parser cases (``parser_tests/``) parse at the level they name (a condition, a rule, a definition) and
evaluate their resource too when they name an outcome; one that names none only has to load.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from engine.azure_policy.alias_inference import convention_alias
from engine.azure_policy.aliases import Alias, AliasTable, split_path
from engine.azure_policy.documents import PolicyDefinition, load_documents
from engine.azure_policy.fields import MISSING, lookup, read_path
from engine.azure_policy.functions import OFFLINE_REQUEST, RuleContext
from engine.azure_policy.parameters import resolve_parameters
from engine.azure_policy.policy import CompiledPolicy, NotEvaluable, compile_policy
from engine.azure_policy.secure import PARAMETER_REFERENCE
from engine.errors import InputError
from engine.expressions import EvaluationError

SUITE = Path(__file__).resolve().parents[2] / ".." / "shared" / "regorus-azure-policy-tests"
CASE_FILES = ("cases", "parser_tests/cases")
DEFAULT_CONTEXT = {"resourceGroup": {"name": "myResourceGroup", "location": "eastus"},
                   "subscription": {"subscriptionId": "00000000-0000-0000-0000-000000000000"}}
POLICY_INFO = {"assignmentId": "/providers/Microsoft.Authorization/policyAssignments/conformance",
               "definitionId": "/providers/Microsoft.Authorization/policyDefinitions/conformance",
               "setDefinitionId": "", "definitionReferenceId": ""}


@dataclass
class Case:
    """One conformance case: its name (``<file>:<note>``) and its fields as the YAML gives them."""

    name: str
    source: str  # the policy text (rule, definition or, at parse level "constraint", the rule whose "if" parses)
    level: str  # "rule", "definition" or "constraint"
    fields: dict[str, Any]
    aliases: AliasTable
    short_paths: ShortPaths = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def parse_only(self) -> bool:
        """A parser case that names no outcome: it only has to parse (regorus's parser tests)."""
        return self.name.startswith("parser_tests/") and not (OUTCOMES & self.fields.keys())


OUTCOMES = frozenset({"want_effect", "want_undefined", "want_details", "want_parse_error", "want_compile_error"})


@dataclass
class Verdict:
    """What arcpolicy did with a case: ``passed``, and otherwise what it gave instead of what was wanted."""

    case: Case
    passed: bool
    detail: str = ""


def path_alias(name: str) -> Alias | None:
    """A file without alias table: the field name is the resource's property path (``properties.a[*].b``,
    ``properties.settings['log-level']``)."""
    segments = tuple(segment for part in BRACKETED_KEY.split(name) for segment in (
        (part[2:-2],) if BRACKETED_KEY.fullmatch(part) else split_path(part.strip("."))) if segment)
    return Alias(name, segments) if segments else None


BRACKETED_KEY = re.compile(r"(\['[^']*'\])")
PATH_FIELDS = AliasTable({}, fallback=path_alias)
# resource type -> (an alias's path, the path of its short name below "properties"): see reshaped()
ShortPaths = dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]
_tables: dict[str, tuple[AliasTable, ShortPaths]] = {}


def alias_table(file_name: str) -> tuple[AliasTable, ShortPaths]:
    if file_name not in _tables:
        _tables[file_name] = provider_aliases(json.loads((SUITE / "aliases" / file_name).read_text()))
    return _tables[file_name]


def provider_aliases(providers: list[dict[str, Any]]) -> tuple[AliasTable, ShortPaths]:
    """A table from ARM's provider list with aliases (``GET /providers?$expand=resourceTypes/aliases``, the
    format of ``Get-AzPolicyAlias``): each alias's ``defaultPath`` and its ``paths`` per API version; a legacy
    alias (``Microsoft.Compute/imagePublisher``) a path per type; aliases it lacks read by the convention.
    Also each type's aliases whose path is not where their short name points (see :func:`reshaped`)."""
    table: dict[str, Alias] = {}
    short_paths: ShortPaths = {}
    for provider in providers:
        for resource_type in provider["resourceTypes"]:
            type_name = f"{provider['namespace']}/{resource_type['resourceType']}".lower()
            for entry in resource_type["aliases"]:
                name, path = entry["name"], split_path(entry["defaultPath"])
                if name.count("/") == 1:
                    table.setdefault(name.lower(), Alias(name, ())).paths_by_type[type_name] = path
                    continue
                versioned = tuple((frozenset(version.lower() for version in item["apiVersions"]),
                                   split_path(item["path"])) for item in entry["paths"])
                table[name.lower()] = Alias(name, path, versioned=versioned,
                                            modifiable=_modifiable(entry))
                short = ("properties", *split_path(name.rsplit("/", 1)[1]))
                if path[:1] == ("properties",) and path != short and path.count("[*]") <= (path[-1:] == ("[*]",)):
                    # listed under its provider's type, and under the type its name gives when they differ
                    for owner in {type_name, name.rsplit("/", 1)[0].lower()}:
                        short_paths.setdefault(owner, []).append((path, short))
    return AliasTable(table, fallback=convention_alias), short_paths


def _modifiable(entry: dict[str, Any]) -> bool | None:
    """Whether the alias is Modifiable at its default path or at any API version's path; None when the table
    gives no metadata (arcpolicy's own table does not)."""
    metadata = [entry.get("defaultMetadata")] + [item.get("metadata") for item in entry.get("paths") or []]
    attributes = [str(item.get("attributes", "")) for item in metadata if isinstance(item, dict)]
    return any("modifiable" in attribute.lower() for attribute in attributes) if attributes else None


def reshaped(resource: dict[str, Any], short_paths: ShortPaths) -> dict[str, Any]:
    """The case's resource as regorus's harness reads it. Its normalizer flattens ``properties`` and puts each
    alias's value (read at the alias's path) at the alias's short name, leaving the resource's own structure
    where the path holds nothing; so a case may write a value where the short name points
    (``properties.default.resource.throughput`` for ``.../throughputSettings/default.resource.throughput``,
    whose path is ``properties.resource.throughput``). Such a value is moved to the alias's path, where
    arcpolicy (and Azure) read it; ``properties.tags`` (flattened onto the root) become the resource's tags
    when it has none."""
    tags = lookup(lookup(resource, "properties"), "tags")
    if isinstance(tags, dict) and lookup(resource, "tags") is MISSING:  # flattened onto the root's "tags"
        resource = {**resource, "tags": tags}
    for path, short in short_paths.get(str(resource.get("type", "")).lower(), ()):
        path, short = (path[:-1], short[:-1]) if path[-1] == "[*]" else (path, short)
        value = read_path(resource, short)
        if value is MISSING or read_path(resource, path) is not MISSING:
            continue
        resource = copy.deepcopy(resource)
        parent = resource
        for segment in path[:-1]:
            found = lookup(parent, segment)
            if not isinstance(found, dict):
                found = parent[segment] = {}
            parent = found
        parent[path[-1]] = value
    return resource


def load_cases() -> list[Case]:
    """Every case of the suite, file by file in name order."""
    cases = []
    for folder in CASE_FILES:
        for path in sorted((SUITE / folder).glob("*.yaml")):
            document = yaml.safe_load(path.read_text())
            table, short_paths = alias_table(document["aliases"]) if document.get("aliases") else (PATH_FIELDS, {})
            prefix = f"{folder.split('/')[0]}/{path.stem}" if "/" in folder else path.stem
            for item in document["cases"]:
                if "policy_definition" in item or "policy_rule" in item:
                    is_definition = "policy_definition" in item
                else:
                    is_definition = "policy_definition" in document
                text = item.get("policy_definition" if is_definition else "policy_rule") or document.get(
                    "policy_definition" if is_definition else "policy_rule")
                level = {"constraint": "constraint", "policy_rule": "rule", "policy_definition": "definition"}[
                    item.get("parse_level", "constraint" if folder.startswith("parser") else "policy_rule")]
                if is_definition:
                    level = "definition"
                cases.append(Case(f"{prefix}:{item['note']}", text, level, item, table, short_paths))
    return cases


class CaseError(Exception):
    """The case's policy cannot be loaded or compiled (what ``want_parse_error``/``want_compile_error`` want)."""


def _definition(case: Case, directory: Path) -> PolicyDefinition:
    """The case's policy loaded as arcpolicy loads a definition file."""
    try:
        document = json.loads(case.source, object_pairs_hook=_no_duplicate_keys)
    except ValueError as error:
        raise CaseError(f"malformed JSON: {error}") from None
    if case.level == "constraint" and (not isinstance(document, dict) or "if" not in document):
        raise CaseError("no 'if' condition")
    if case.level != "definition":
        # a bare rule: the definition around it declares the parameters it reads (a value's type when the case
        # gives one, else String, without defaultValue)
        given = {name.lower(): value for name, value in (case.get("parameters") or {}).items()}
        declared = {name: {"type": _parameter_type(value)} for name, value in (case.get("parameters") or {}).items()}
        for name in PARAMETER_REFERENCE.findall(case.source):
            if name.lower() not in given:
                given[name.lower()] = declared[name] = {"type": "String"}
        document = {"mode": "All", "policyRule": document, "parameters": declared}
    path = directory / "case.json"
    path.write_text(json.dumps(document))
    try:
        definitions = load_documents([path]).definitions
    except InputError as error:
        raise CaseError(error.one_line()) from None
    if len(definitions) != 1:
        raise CaseError("not one policy definition")
    return definitions[0]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """ARM rejects a JSON object naming a property twice; so does reading a case."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _parameter_type(value: Any) -> str:
    return {bool: "Boolean", int: "Integer", float: "Float", list: "Array", dict: "Object"}.get(type(value), "String")


def compile_case(case: Case, directory: Path) -> CompiledPolicy | None:
    """The case's policy compiled (None: Disabled); CaseError when it cannot be."""
    definition = _definition(case, directory)
    given = case.get("parameters") or {}
    given_keys = {name.lower() for name in given}
    # A parameter the case gives no value and its definition no defaultValue: no valid assignment in Azure, but
    # Microsoft's cases evaluate the rule anyway (it fails only where the rule reads it).
    unset = frozenset(name for name, declaration in definition.parameters.items()
                      if name.lower() not in given_keys and not declaration.has_default)
    declared = {name: declaration for name, declaration in definition.parameters.items() if name not in unset}
    try:
        values = resolve_parameters(declared, given, "conformance case", definition.origin)
        return compile_policy(definition, values, _context(case).get("policy") or POLICY_INFO, aliases=case.aliases,
                              unset=unset)
    except (InputError, NotEvaluable) as error:
        raise CaseError(str(error)) from None


def _context(case: Case) -> dict[str, Any]:
    return case.get("context") or DEFAULT_CONTEXT


def evaluation_inputs(case: Case) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any], datetime]:
    """The resource (its id built from the context when it has none, its ``apiVersion`` the case's), the
    containers (resource group and subscription), the request context and the evaluation time."""
    context = _context(case)
    group = context.get("resourceGroup") or {}
    subscription = context.get("subscription") or {}
    subscription_id = subscription.get("subscriptionId") or DEFAULT_CONTEXT["subscription"]["subscriptionId"]
    group_id = f"/subscriptions/{subscription_id}/resourceGroups/{group.get('name') or 'myResourceGroup'}"
    resource = dict(case.get("resource") or {})
    if case.aliases is not PATH_FIELDS:  # regorus's harness normalizes the resource when the file names aliases
        resource = reshaped(resource, case.short_paths)
    resource = _in_subscription(_with_id(resource, group_id), subscription_id)
    if case.get("api_version") and "apiVersion" not in resource:
        resource["apiVersion"] = case.get("api_version")
    containers = {group_id.lower(): {"location": group.get("location"), "tags": group.get("tags") or {}},
                  f"/subscriptions/{subscription_id}".lower(): {"name": subscription.get("displayName"),
                                                                "tags": subscription.get("tags") or {}}}
    request = dict(OFFLINE_REQUEST)
    if case.get("api_version"):
        request["apiVersion"] = case.get("api_version")
    request.update(case.get("request_context") or context.get("requestContext") or {})
    now = context.get("utcNow")
    timestamp = datetime.fromisoformat(now.replace("Z", "+00:00")) if now else datetime.now(UTC)
    return resource, containers, request, timestamp


def _with_id(resource: dict[str, Any], group_id: str) -> dict[str, Any]:
    """``resource`` with an ARM id in the group ``group_id`` unless it has one: its type's segments paired with
    its full name's (the harness's ``fullName``, else its ``name``: "the YAML name already contains the full
    name"), so that ``fullName`` reads what the case gives."""
    if "id" not in resource:
        namespace, _, types = str(resource.get("type") or "Microsoft.Resources/resources").partition("/")
        names = str(resource.get("fullName") or resource.get("name") or "resource").split("/")
        kinds = types.split("/")
        kinds = kinds if len(kinds) == len(names) else [kinds[-1]] * len(names)
        resource["id"] = f"{group_id}/providers/{namespace}/" + "/".join(
            f"{kind}/{name}" for kind, name in zip(kinds, names, strict=True))
    return resource


def _in_subscription(resource: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    """regorus's ``subscription()`` is the case's context (its default subscription when it names none), whatever
    the resource's id says; in Azure the two always agree (a resource's subscription is its id's), so a resource
    whose id names another subscription is read in the context's."""
    parts = str(resource["id"]).split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions" and parts[2] != subscription_id:
        resource = {**resource, "id": "/".join([*parts[:2], subscription_id, *parts[3:]])}
    return resource


def related_resources(case: Case, policy: CompiledPolicy, context: RuleContext) -> dict[str, list[dict[str, Any]]]:
    """The related resources the case's host found (``host_await``), as the inventory would hold them: with
    the type (and name) looked up, in the evaluated resource's group."""
    group_id = "/".join(context.resource["id"].split("/")[:5])
    found = []
    for entry in case.get("host_await") or []:
        response = entry.get("response")
        if isinstance(response, dict):
            related = dict(response)
            related.setdefault("type", entry.get("resource_type") or policy.related_type)
            if policy.related_name is not None:
                related.setdefault("name", policy.related_name(context))
            found.append(_with_id(related, group_id))
    return {policy.related_type_key: found}


def outcome(case: Case) -> tuple[str, Any]:
    """("error", message) | ("undefined", None) | (effect name, resolved details)."""
    with tempfile.TemporaryDirectory() as directory:
        try:
            if case.parse_only:
                _definition(case, Path(directory))
                return "parsed", None
            policy = compile_case(case, Path(directory))
        except CaseError as error:
            return "error", str(error)
    if policy is None:
        return "undefined", None
    resource, containers, request, timestamp = evaluation_inputs(case)
    try:
        context = policy.context(resource, timestamp, containers, request)
        result = policy.evaluate(resource, related_resources(case, policy, context), timestamp, explain=True,
                                 containers=containers, request=request)
        if result is None or result[1].compliant:
            return "undefined", None
        effect, _ = result
        return effect.name, policy.resolved_details(context)
    except EvaluationError as error:
        return "evaluation error", str(error)
    except ValueError as error:  # ConditionError
        return "evaluation error", str(error)


def run(case: Case) -> Verdict:
    """The case's verdict: what arcpolicy gave against what the case wants."""
    got, detail = outcome(case)
    wants_error = case.get("want_parse_error") or case.get("want_compile_error")
    if wants_error:
        return Verdict(case, got == "error", f"wanted an error, got {got}")
    if got in ("error", "evaluation error"):
        return Verdict(case, False, f"{got}: {detail}")
    if case.get("want_undefined"):
        return Verdict(case, got == "undefined", f"wanted undefined, got {got}")
    wanted = case.get("want_effect")
    if wanted is None:
        return Verdict(case, True)
    if got.lower() != str(wanted).lower():
        return Verdict(case, False, f"wanted {wanted}, got {got}")
    if "want_details" in case.fields and not _same(detail, case.get("want_details")):
        return Verdict(case, False, f"details {json.dumps(detail)} != wanted {json.dumps(case.get('want_details'))}")
    return Verdict(case, True)


def _same(actual: Any, wanted: Any) -> bool:
    return json.dumps(actual, sort_keys=True) == json.dumps(wanted, sort_keys=True)


@dataclass
class Difference:
    """A case where arcpolicy follows the Azure Policy docs, not the case: its name, and the docs' sentence."""

    case: str
    page: str
    sentence: str


DIFFERENCES_TABLE = Path(__file__).resolve().parents[2] / "docs" / "azure-policy-conformance.md"


def documented_differences() -> dict[str, Difference]:
    """The table of docs/azure-policy-conformance.md: ``| case | docs page | sentence |`` rows (``\\|`` is a pipe
    inside a cell)."""
    found: dict[str, Difference] = {}
    in_table = False
    for line in DIFFERENCES_TABLE.read_text().splitlines():
        if line.startswith("| case |"):
            in_table = True
            continue
        if in_table and line.startswith("|"):
            cells = [cell.strip() for cell in CELL_BORDER.split(line.strip()[1:-1])]
            if set(cells[0]) <= {"-", ":"}:
                continue
            name = cells[0].strip("`")
            found[name] = Difference(name, cells[1], cells[2])
        elif in_table:
            in_table = False
    return found


CELL_BORDER = re.compile(r"(?<!\\)\|")


@dataclass
class Tally:
    """The verdicts: passed, failed, different (failed as documented: the docs win), and the names of listed
    cases that pass (a stale entry)."""

    passed: list[Verdict] = field(default_factory=list)
    failed: list[Verdict] = field(default_factory=list)
    different: list[Verdict] = field(default_factory=list)
    listed_but_passing: list[str] = field(default_factory=list)


def tally(cases: list[Case], differences: dict[str, Difference]) -> Tally:
    result = Tally()
    for verdict in (run(case) for case in cases):
        if verdict.case.name not in differences:
            (result.passed if verdict.passed else result.failed).append(verdict)
        elif verdict.passed:
            result.listed_but_passing.append(verdict.case.name)
        else:
            result.different.append(verdict)
    return result


NORMALIZATION_CASES = sum(len(yaml.safe_load(path.read_text())["cases"])
                          for path in sorted((SUITE / "normalization" / "cases").glob("*.yaml")))


