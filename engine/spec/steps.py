"""The Gherkin steps policy authors write: describe a fleet, run arcpolicy, check what it says.

Every step is a thin sentence over :class:`engine.spec.world.SpecWorld` (the fleet builder, the
CLI runs and the expectations); docs/specs.md lists them all with examples. "it" always means
the cluster the scenario described last.
"""

from __future__ import annotations

import hashlib
import re
import signal

import pytest
from pytest_bdd import given, then, when

from engine.spec import compliance, expect, history, remediation, whatif
from engine.spec.fleet import ClusterSpec, ExtensionSpec, default_extension_name
from engine.spec.sentence import Sentence
from engine.spec.world import SpecWorld

QUOTED = re.compile(r'"([^"]*)"')
QUOTED_LIST = r'"[^"]+"(?:(?:, | and )"[^"]+")*'


def quoted(text: str) -> list[str]:
    """The double-quoted items of ``"a", "b" and "c"``."""
    return QUOTED.findall(text)


def _with_policies(opening: str) -> Sentence:
    """``OPENING the policy "p"`` or ``OPENING the policies "a", "b" and "c"`` (argument ``policies``)."""
    return Sentence(f'{opening} the policy "{{path}}" (or: the policies "a", "b" and "c")',
                    rf"{opening} the polic(?:y|ies) (?P<policies>{QUOTED_LIST})")


# ---- the fleet ----------------------------------------------------------------------------
@given(Sentence('a connected cluster "{name}" running "{distribution}" in "{region}"'))
def connected_cluster(arcpolicy_world: SpecWorld, name: str, distribution: str, region: str) -> None:
    """An Azure Arc connected cluster (``Microsoft.Kubernetes/connectedClusters``), connected."""
    arcpolicy_world.add_cluster(ClusterSpec(name=name, region=region, distribution=distribution))


@given(Sentence('an AKS cluster "{name}" in "{region}"'))
def aks_cluster(arcpolicy_world: SpecWorld, name: str, region: str) -> None:
    """An AKS managed cluster (``Microsoft.ContainerService/managedClusters``)."""
    arcpolicy_world.add_cluster(ClusterSpec(name=name, region=region, distribution="aks", managed=True))


@given(Sentence('its connectivity status is "{status}"'))
def connectivity_status(arcpolicy_world: SpecWorld, status: str) -> None:
    """``Connected``, ``Offline``, ``Expired`` ... (a disconnected cluster is ``Offline``)."""
    arcpolicy_world.cluster().connectivity = status


@given(Sentence('its nodes are "{architectures}"'))
def node_architectures(arcpolicy_world: SpecWorld, architectures: str) -> None:
    """The node architectures, e.g. ``arm64`` or ``amd64,arm64``."""
    arcpolicy_world.cluster().set_architectures(architectures)


@given(Sentence('it has the tag "{key}" set to "{value}"'))
def cluster_tag(arcpolicy_world: SpecWorld, key: str, value: str) -> None:
    """A tag on the cluster (``environment`` = ``production`` ...)."""
    arcpolicy_world.cluster().tags[key] = value


@given(Sentence('it is in the resource group "{group}"'))
def resource_group(arcpolicy_world: SpecWorld, group: str) -> None:
    """Move the cluster (and its extensions) to another resource group (default ``rg-specs``)."""
    arcpolicy_world.cluster().resource_group = group


@given(Sentence('it is in the subscription "{subscription}"'))
def subscription(arcpolicy_world: SpecWorld, subscription: str) -> None:
    """Move the cluster to another subscription id."""
    arcpolicy_world.cluster().subscription_id = subscription


def _add_extension(world: SpecWorld, extension_type: str, **properties: object) -> ExtensionSpec:
    extension = ExtensionSpec(extension_type=extension_type, name=default_extension_name(extension_type))
    for key, value in properties.items():
        setattr(extension, key, value)
    world.cluster().extensions.append(extension)
    return extension


@given(Sentence('it has the extension "{extension_type}" on the "{train}" train'))
def extension_on_train(arcpolicy_world: SpecWorld, extension_type: str, train: str) -> None:
    """An installed extension that auto-upgrades on a release train (``Stable``, ``Preview``)."""
    _add_extension(arcpolicy_world, extension_type, release_train=train)


@given(Sentence('it has the extension "{extension_type}" pinned to version "{version}"'))
def extension_pinned(arcpolicy_world: SpecWorld, extension_type: str, version: str) -> None:
    """An installed extension with ``autoUpgradeMinorVersion`` off and a fixed version."""
    _add_extension(arcpolicy_world, extension_type, version=version, auto_upgrade=False)


@given(Sentence('it has the extension "{extension_type}" in the "{state}" state'))
def extension_in_state(arcpolicy_world: SpecWorld, extension_type: str, state: str) -> None:
    """An extension whose ``provisioningState`` is ``Failed``, ``Creating``, ``Pending`` ..."""
    _add_extension(arcpolicy_world, extension_type, provisioning_state=state)


@given(Sentence('it has the extension "{extension_type}" named "{name}"'))
def extension_named(arcpolicy_world: SpecWorld, extension_type: str, name: str) -> None:
    """An installed extension with a chosen instance name (default: the usual one, ``flux`` ...)."""
    _add_extension(arcpolicy_world, extension_type, name=name)


@given(Sentence('its "{extension}" extension is named "{name}"'))
def extension_renamed(arcpolicy_world: SpecWorld, extension: str, name: str) -> None:
    """Give an extension another instance name (cluster-scoped types may be installed under any name)."""
    _extension(arcpolicy_world, extension).name = name


@given(Sentence('its "{extension}" extension has the setting "{key}" set to "{value}"'))
def extension_setting(arcpolicy_world: SpecWorld, extension: str, key: str, value: str) -> None:
    """A ``configurationSettings`` entry of an extension (named by instance name or type)."""
    _extension(arcpolicy_world, extension).settings[key] = value


def _extension(world: SpecWorld, extension: str) -> ExtensionSpec:
    try:
        return world.cluster().extension(extension)
    except KeyError as error:
        raise expect.SpecFailure(str(error.args[0])) from None


@given(Sentence("a fleet of {clusters:d} generated clusters with seed {seed:d}"))
def generated_fleet(arcpolicy_world: SpecWorld, clusters: int, seed: int) -> None:
    """A realistic fleet from ``arcpolicy sandbox generate`` (keep it small: specs run often)."""
    result = arcpolicy_world.run(["sandbox", "generate", "--clusters", str(clusters), "--seed", str(seed),
                                  "-o", "generated.json"])
    expect.succeeded(result)
    arcpolicy_world.inventory = arcpolicy_world.workdir / "generated.json"


@given(Sentence('the snapshot "{path}"'))
def snapshot_file(arcpolicy_world: SpecWorld, path: str) -> None:
    """An existing snapshot file (relative to the feature file or the repository root)."""
    arcpolicy_world.inventory = arcpolicy_world.resolve(path)


@given(Sentence('a file "{name}" containing:'))
def file_containing(arcpolicy_world: SpecWorld, name: str, docstring: str) -> None:
    """A file written verbatim into the scenario's work directory (a policy, a broken snapshot ...)."""
    arcpolicy_world.write_file(name, docstring)


@given(Sentence('the scan configuration "{name}" for the policy "{policy}":'))
def scan_configuration(arcpolicy_world: SpecWorld, name: str, policy: str, docstring: str) -> None:
    """An ``arcpolicy.toml``: [scan] (the scenario's fleet, the policy, its assignments, exemptions and
    management groups) and [store] are written for you; the doc string adds the rest ([[outputs]], [schedule] ...)."""
    arcpolicy_world.write_scan_config(name, [policy], docstring)


@given(Sentence('the scan configuration "{name}" for the policy "{policy}" against the sandbox:'))
def scan_configuration_sandbox(arcpolicy_world: SpecWorld, name: str, policy: str, docstring: str) -> None:
    """Like the scan configuration above, but [scan] reads the fleet live from the scenario's sandbox
    through Resource Graph (which ``--remediate`` then writes to)."""
    arcpolicy_world.write_scan_config(name, [policy], docstring, sandbox=True)


# ---- assignments and exemptions ----------------------------------------------------------
@given(Sentence('the policy "{policy}" is assigned as "{name}"'))
def assign_policy(arcpolicy_world: SpecWorld, policy: str, name: str) -> None:
    """A tenant-scope assignment of a definition or initiative file (Azure Policy JSON or Rego)."""
    arcpolicy_world.assign(policy, name)


@given(Sentence('the policy "{policy}" is assigned as "{name}" with the parameters:'))
def assign_policy_with_parameters(arcpolicy_world: SpecWorld, policy: str, name: str,
                                  datatable: list[list[str]]) -> None:
    """Parameters as a two-column table (``| effect | Audit |``); cells that parse as JSON are JSON."""
    assignment = arcpolicy_world.assign(policy, name)
    rows = datatable[1:] if datatable and [cell.lower() for cell in datatable[0]] == ["parameter", "value"] \
        else datatable
    assignment.parameters.update({key: compliance.parameter_value(value) for key, value in rows})


@given(Sentence('the policy "{policy}" is assigned as "{name}" at the management group "{group}"'))
def assign_policy_at_group(arcpolicy_world: SpecWorld, policy: str, name: str, group: str) -> None:
    """An assignment scoped to a management group: it covers the subscriptions in that group."""
    arcpolicy_world.assign(policy, name).scope = f"/providers/Microsoft.Management/managementGroups/{group}"


@given(Sentence('the subscription "{subscription}" is in the management group "{group}"'))
def subscription_in_group(arcpolicy_world: SpecWorld, subscription: str, group: str) -> None:
    """The management-group map scans get (``--management-groups``); say it again for each group
    above, nearest first."""
    arcpolicy_world.management_groups.setdefault(subscription, []).append(group)


@given(Sentence('the assignment "{name}" excludes "{cluster}"'))
def assignment_excludes(arcpolicy_world: SpecWorld, name: str, cluster: str) -> None:
    """A ``notScopes`` entry: the cluster is not evaluated by the assignment."""
    arcpolicy_world.assignment(name).not_scopes.append(arcpolicy_world.cluster_id(cluster))


@given(Sentence('the assignment "{name}" excludes the resource group "{group}"'))
def assignment_excludes_group(arcpolicy_world: SpecWorld, name: str, group: str) -> None:
    """A ``notScopes`` entry for a resource group of the scenario's subscription."""
    subscription_id = next(iter(arcpolicy_world.clusters.values())).subscription_id \
        if arcpolicy_world.clusters else "00000000-0000-0000-0000-000000000000"
    arcpolicy_world.assignment(name).not_scopes.append(f"/subscriptions/{subscription_id}/resourceGroups/{group}")


@given(Sentence('"{cluster}" is exempt from "{name}" as a "{category}"'))
def cluster_exempt(arcpolicy_world: SpecWorld, cluster: str, name: str, category: str) -> None:
    """A policy exemption on the cluster (category ``Waiver`` or ``Mitigated``)."""
    assignment = arcpolicy_world.assignment(name)
    arcpolicy_world.exemptions.append(compliance.exemption(
        f"{cluster}-{name}", arcpolicy_world.cluster_id(cluster), assignment, category, []))


@given(Sentence('"{cluster}" is exempt from "{reference}" of "{name}" as a "{category}"'))
def cluster_exempt_from_member(arcpolicy_world: SpecWorld, cluster: str, reference: str, name: str,
                               category: str) -> None:
    """An exemption from one member (policyDefinitionReferenceId) of an initiative assignment."""
    assignment = arcpolicy_world.assignment(name)
    arcpolicy_world.exemptions.append(compliance.exemption(
        f"{cluster}-{name}-{reference}", arcpolicy_world.cluster_id(cluster), assignment, category, [reference]))


@given(Sentence('"{cluster}" loses the extension "{extension}"'))
def extension_removed(arcpolicy_world: SpecWorld, cluster: str, extension: str) -> None:
    """The fleet changes between two scans: the extension (instance name or type) is gone."""
    owner = arcpolicy_world.cluster(cluster)
    try:
        owner.extensions.remove(owner.extension(extension))
    except KeyError as error:
        raise expect.SpecFailure(str(error.args[0])) from None


@given(Sentence('"{cluster}" gets the extension "{extension_type}" on the "{train}" train'))
def extension_added(arcpolicy_world: SpecWorld, cluster: str, extension_type: str, train: str) -> None:
    """The fleet changes between two scans: a named cluster gets an extension."""
    arcpolicy_world.current = arcpolicy_world.cluster(cluster)
    _add_extension(arcpolicy_world, extension_type, release_train=train)


@given(Sentence('scans are recorded in the history store "{store}"'))
def history_store(arcpolicy_world: SpecWorld, store: str) -> None:
    """Every scan of the scenario is saved (``--store``): a SQLite file or an SQLAlchemy URL."""
    arcpolicy_world.store = store


@given(Sentence('scans are recorded in a fresh "{kind}" history store'))
def fresh_history_store(arcpolicy_world: SpecWorld, kind: str, request: pytest.FixtureRequest) -> None:
    """``sqlite`` (a file in the work directory) or ``postgresql`` (a schema of its own on the server
    ``ARCPOLICY_TEST_POSTGRES_URL`` names, or the one the ``arcpolicy_postgres_server`` fixture gives)."""
    if kind == "sqlite":
        arcpolicy_world.store = "history.db"
    elif kind == "postgresql":
        arcpolicy_world.store, drop = history.fresh_postgres_schema(request.getfixturevalue("arcpolicy_postgres_server"))
        arcpolicy_world.cleanups.append(drop)
    else:
        raise expect.SpecFailure(f'unknown history store "{kind}" (use: {", ".join(history.STORE_KINDS)})')


# ---- running arcpolicy --------------------------------------------------------------------
@when(Sentence('I run "{command}"'))
def run_command(arcpolicy_world: SpecWorld, command: str) -> None:
    """Any arcpolicy command line; ``{fleet}`` is the scenario's snapshot file."""
    arcpolicy_world.run_line(command)


@when("the fleet inventory is summarised")
def summarise_inventory(arcpolicy_world: SpecWorld) -> None:
    """``arcpolicy inventory --format json`` over the scenario's fleet."""
    arcpolicy_world.summarise("--inventory", arcpolicy_world.snapshot())


@when(Sentence('the inventory "{path}" is summarised'))
def summarise_snapshot(arcpolicy_world: SpecWorld, path: str) -> None:
    """``arcpolicy inventory --format json`` over a snapshot file (written by a step, or next to the feature)."""
    arcpolicy_world.summarise("--inventory", str(arcpolicy_world.resolve(path)))


@when(_with_policies("the fleet is scanned with"))
def scan_fleet(arcpolicy_world: SpecWorld, policies: str) -> None:
    """``arcpolicy scan`` with the policy files or folders (Azure Policy JSON, Rego, or both)."""
    arcpolicy_world.scan(quoted(policies))


@when(_with_policies("the fleet is scanned through Resource Graph with"))
def scan_resource_graph(arcpolicy_world: SpecWorld, policies: str) -> None:
    """``arcpolicy scan --resource-graph`` of the sandbox's fleet as it is now (after an apply, say)."""
    arcpolicy_world.scan(quoted(policies), ["--resource-graph", *arcpolicy_world.connection_arguments()])


@when(Sentence('the fleet is read from Resource Graph and saved to "{path}"'))
def read_resource_graph_and_save(arcpolicy_world: SpecWorld, path: str) -> None:
    """``arcpolicy inventory --resource-graph --save FILE``: the fleet read live, kept as a snapshot."""
    arcpolicy_world.summarise("--resource-graph", *arcpolicy_world.connection_arguments(), "--save", path)


@when(Sentence("the fleet is read from Resource Graph"))
def read_resource_graph(arcpolicy_world: SpecWorld) -> None:
    """``arcpolicy inventory --resource-graph`` against the sandbox; the summary is kept."""
    arcpolicy_world.summarise("--resource-graph", *arcpolicy_world.connection_arguments())


@when(_with_policies("the remediation is planned with"))
def plan_remediation(arcpolicy_world: SpecWorld, policies: str) -> None:
    """``arcpolicy plan`` (with the HTML and Markdown dry-run reports plan.html and plan.md)."""
    arcpolicy_world.plan(quoted(policies))


@when(Sentence("the plan is applied"))
def apply_plan(arcpolicy_world: SpecWorld) -> None:
    """``arcpolicy apply plan.json`` against the sandbox, waiting for extensions to settle."""
    arcpolicy_world.apply("--wait")


@when(Sentence("the plan is applied again"))
def apply_plan_again(arcpolicy_world: SpecWorld) -> None:
    """A second apply of the same plan with a fresh journal (idempotence)."""
    arcpolicy_world.apply("--wait", "--journal", "second.journal.sqlite")


@when(Sentence("the apply is resumed"))
def resume_apply(arcpolicy_world: SpecWorld) -> None:
    """``arcpolicy apply plan.json --resume``: continue from the journal."""
    arcpolicy_world.apply("--wait", "--resume")


@when(Sentence("only the canary wave is applied"))
def apply_canary(arcpolicy_world: SpecWorld) -> None:
    """``arcpolicy apply plan.json --wave 0``: the canary wave only."""
    arcpolicy_world.apply("--wait", "--wave", "0")


@when(Sentence('the plan is applied with the secrets "{path}"'))
def apply_plan_with_secrets(arcpolicy_world: SpecWorld, path: str) -> None:
    """``arcpolicy apply plan.json --secrets FILE``: protected settings from assignment parameters
    (``{"name": "value"}`` or assignments) or Key Vault secrets (``keyVaultSecrets``) in the file."""
    arcpolicy_world.apply("--wait", "--secrets", str(arcpolicy_world.resolve(path)))


@when(Sentence('I start "{command}"'))
def start_command(arcpolicy_world: SpecWorld, command: str) -> None:
    """A command that runs until stopped (``arcpolicy schedule ...``), as a process of its own."""
    arcpolicy_world.start(command)


@when(Sentence('the health file "{name}" counts {count:d} runs'))
def wait_for_runs(arcpolicy_world: SpecWorld, name: str, count: int) -> None:
    """Wait (up to a minute) until the started scheduler has finished this many runs."""
    path = arcpolicy_world.workdir / name
    arcpolicy_world.wait_for(lambda: int(history.health(path).get("runs") or 0) >= count,
                             f"{name} to count {count} runs")


@when(Sentence("the started command is stopped with {signal_name}"))
def stop_command(arcpolicy_world: SpecWorld, signal_name: str) -> None:
    """``SIGTERM`` or ``SIGINT`` to the started command; wait for it to exit (its status is the last one)."""
    if signal_name not in ("SIGTERM", "SIGINT"):
        raise expect.SpecFailure(f'unknown signal "{signal_name}" (use: SIGTERM, SIGINT)')
    arcpolicy_world.stop(signal.Signals[signal_name])


@when(Sentence("the trend is charted"))
def chart_trend(arcpolicy_world: SpecWorld) -> None:
    """``arcpolicy trend`` on the history store: trend.html and trend.svg."""
    if arcpolicy_world.store is None:
        raise expect.SpecFailure("no history store: say 'Given scans are recorded in the history store \"...\"'")
    expect.succeeded(arcpolicy_world.run(["trend", "--store", arcpolicy_world.store, "-o", "trend.html",
                                          "--svg", "trend.svg"]))


@given(Sentence('the assignment "{name}" is changed to the parameters:'))
def change_assignment_parameters(arcpolicy_world: SpecWorld, name: str, datatable: list[list[str]]) -> None:
    """The policy change under review: the assignment's parameters become these (a two-column table, as
    when assigning); later scans and previews use them."""
    assignment = arcpolicy_world.assignment(name)
    assignment.parameters = {key: compliance.parameter_value(value) for key, value in datatable}


@when(_with_policies("the change is previewed with"))
def preview_change(arcpolicy_world: SpecWorld, policies: str) -> None:
    """``arcpolicy whatif`` of these policies (and the scenario's assignments) against the latest stored scan's
    inventory and verdicts; its JSON and Markdown (whatif.md) are kept."""
    arcpolicy_world.whatif(quoted(policies))


@when(Sentence('the stored fleet of scan "{scan}" is scanned with the policy "{path}" (or: the policies '
               '"a", "b" and "c")',
               rf'the stored fleet of scan "(?P<scan>[^"]*)" is scanned with the polic(?:y|ies) '
               rf"(?P<policies>{QUOTED_LIST})"))
def scan_stored_fleet(arcpolicy_world: SpecWorld, scan: str, policies: str) -> None:
    """A past scan reproduced: ``arcpolicy scan --from-store`` reads the inventory that scan evaluated (``latest``,
    ``latest~N`` or an id) instead of the fleet as it is now."""
    arcpolicy_world.scan(quoted(policies), source=["--from-store", arcpolicy_world.store_url(), "--scan", scan])


@when(Sentence('the stored fleet of scan "{scan}" is saved to "{path}"'))
def save_stored_fleet(arcpolicy_world: SpecWorld, scan: str, path: str) -> None:
    """``arcpolicy inventory --from-store STORE --scan SCAN --save PATH``."""
    expect.succeeded(arcpolicy_world.run(["inventory", "--from-store", arcpolicy_world.store_url(), "--scan", scan,
                                          "--save", path]))


@when(Sentence("the last two scans are compared"))
def compare_scans(arcpolicy_world: SpecWorld) -> None:
    """``arcpolicy diff latest~1 latest`` on the history store."""
    arcpolicy_world.outputs["diff"] = arcpolicy_world.history("diff", "latest~1", "latest")


# ---- the sandbox ----------------------------------------------------------------------------
@given(Sentence("the sandbox serves the fleet"))
def sandbox_serves(arcpolicy_world: SpecWorld) -> None:
    """A local HTTPS ARM + Resource Graph (``arcpolicy sandbox serve``) with the scenario's fleet."""
    arcpolicy_world.start_sandbox()


@given(Sentence("{service} fails the next {count:d} requests with status {status:d}"))
def service_fails(arcpolicy_world: SpecWorld, service: str, count: int, status: int) -> None:
    """An injected fault: the sandbox answers ``ARM`` or ``Resource Graph`` requests with an error."""
    rule = {"status": status, "count": count, "target": _fault_target(service)}
    if status == 429:
        rule["retryAfter"] = 0
    arcpolicy_world.sandbox_control().inject_fault(**rule)


def _fault_target(service: str) -> str:
    targets = {"ARM": "arm", "Resource Graph": "graph"}
    if service not in targets:
        raise expect.SpecFailure(f'unknown service "{service}" (use: {", ".join(targets)})')
    return targets[service]


@given(Sentence('the sandbox\'s Key Vault "{vault}" holds the secret "{secret}" set to "{value}"'))
def vault_secret(arcpolicy_world: SpecWorld, vault: str, secret: str, value: str) -> None:
    """A vault created through ARM in the sandbox (resource group ``rg-specs`` of the first cluster's
    subscription) and a secret in it, set through the Key Vault client."""
    arcpolicy_world.store_vault_secret(vault, secret, value)


@then(Sentence("the sandbox injected {count:d} faults"))
def faults_injected(arcpolicy_world: SpecWorld, count: int) -> None:
    """Every injected fault was met (so the retries the scenario describes really happened)."""
    expect.equal("the faults injected", arcpolicy_world.sandbox_control().stats()["faultsInjected"], count)


# ---- what arcpolicy said ------------------------------------------------------------------
@then(Sentence("arcpolicy exits with status {status:d}"))
def exit_status(arcpolicy_world: SpecWorld, status: int) -> None:
    """The last command's exit status: 0 ok, 1 findings or failures, 2 bad input."""
    arcpolicy_world.expect_status(status)


@then(Sentence('the error is "{message}"'))
def error_is(arcpolicy_world: SpecWorld, message: str) -> None:
    """The exact one-line error on stderr."""
    arcpolicy_world.expect_error(message)


@then("the error is:")
def error_is_block(arcpolicy_world: SpecWorld, docstring: str) -> None:
    """The exact error on stderr, as a doc string (for errors with quotes in them)."""
    arcpolicy_world.expect_error(docstring)


@then(Sentence('the output contains "{text}"'))
def output_contains(arcpolicy_world: SpecWorld, text: str) -> None:
    """The last command's standard output contains the text."""
    arcpolicy_world.expect_output_contains(text)


@then(Sentence('the error output contains "{text}"'))
def stderr_contains(arcpolicy_world: SpecWorld, text: str) -> None:
    """The last command's standard error (warnings, progress, errors) contains the text."""
    arcpolicy_world.expect_output_contains(text, "stderr")


@then(Sentence('the file "{name}" contains "{text}"'))
def file_contains(arcpolicy_world: SpecWorld, name: str, text: str) -> None:
    """A file a command wrote (in the work directory) contains the text."""
    expect.file_contains(arcpolicy_world.workdir / name, text)


@then(Sentence('the file "{name}" is not written'))
def file_not_written(arcpolicy_world: SpecWorld, name: str) -> None:
    """A refused command wrote nothing (no half-written output)."""
    expect.absent(arcpolicy_world.workdir / name)


@then(Sentence("the inventory counts {clusters:d} clusters and {extensions:d} extensions"))
def inventory_counts(arcpolicy_world: SpecWorld, clusters: int, extensions: int) -> None:
    """The summarised inventory's cluster and extension totals."""
    summary = arcpolicy_world.output("inventory")
    expect.equal("clusters", summary["clusters"], clusters)
    expect.equal("extensions", summary["extensions"], extensions)


@then(Sentence('the inventory counts {count:d} {dimension} "{value}"'))
def inventory_counts_by(arcpolicy_world: SpecWorld, count: int, dimension: str, value: str) -> None:
    """``clusters of distribution``, ``clusters of type``, ``clusters with connectivity``,
    ``extensions of type`` or ``extensions in state``."""
    expect.inventory_count(arcpolicy_world.output("inventory"), dimension, value, count)


@then(Sentence('the inventory counts {count:d} subscriptions'))
def inventory_subscriptions(arcpolicy_world: SpecWorld, count: int) -> None:
    """The number of subscriptions the fleet spans."""
    expect.equal("subscriptions", arcpolicy_world.output("inventory")["subscriptions"], count)


# ---- compliance ---------------------------------------------------------------------------
@then(Sentence('"{cluster}" is non-compliant with "{policy}" because "{because}"'))
def non_compliant_because(arcpolicy_world: SpecWorld, cluster: str, policy: str, because: str) -> None:
    """Non-compliant, and one of the record's reasons mentions ``because`` (case-insensitive)."""
    _expect_state(arcpolicy_world, cluster, policy, "NonCompliant", because)


@then(Sentence('"{cluster}" is {state} with "{policy}"'))
def cluster_state(arcpolicy_world: SpecWorld, cluster: str, state: str, policy: str) -> None:
    """``compliant``, ``non-compliant`` or ``error`` (the cluster and its extensions, together)."""
    _expect_state(arcpolicy_world, cluster, policy, _state(state))


@then(Sentence('"{cluster}" is exempt from "{policy}"'))
def cluster_is_exempt(arcpolicy_world: SpecWorld, cluster: str, policy: str) -> None:
    """An exemption covers the cluster's record for the policy."""
    _expect_state(arcpolicy_world, cluster, policy, "Exempt")


@then(Sentence('"{cluster}" is not evaluated by "{policy}"'))
def cluster_not_evaluated(arcpolicy_world: SpecWorld, cluster: str, policy: str) -> None:
    """No record: the policy does not apply, or the cluster is outside the assignment's scope."""
    compliance.expect_no_record(arcpolicy_world.records(), cluster, arcpolicy_world.cluster_id(cluster), policy)


@then(Sentence('the scan has {count:d} {state} records'))
def record_count(arcpolicy_world: SpecWorld, count: int, state: str) -> None:
    """How many records are ``compliant``, ``non-compliant``, ``exempt`` or ``error``."""
    wanted = _state(state)
    found = sum(1 for record in arcpolicy_world.records() if record["complianceState"] == wanted)
    expect.equal(f"the number of {state} records", found, count)


def _state(word: str) -> str:
    try:
        return compliance.STATE_WORDS[word.lower()]
    except KeyError:
        raise expect.SpecFailure(f'unknown compliance state "{word}" (use: {", ".join(compliance.STATE_WORDS)})') \
            from None


def _expect_state(world: SpecWorld, cluster: str, policy: str, state: str, because: str | None = None) -> None:
    compliance.expect_state(world.records(), cluster, world.cluster_id(cluster), policy, state, because)


# ---- plans ----------------------------------------------------------------------------------
@then(Sentence('the plan {action} the extension "{name}" on "{cluster}"'))
def plan_action(arcpolicy_world: SpecWorld, action: str, name: str, cluster: str) -> None:
    """``creates``, ``updates`` or ``deletes`` (a planned operation, to be applied)."""
    if action not in remediation.ACTION_WORDS:
        raise expect.SpecFailure(f'unknown plan action "{action}" (use: {", ".join(remediation.ACTION_WORDS)})')
    remediation.expect_operation(arcpolicy_world.output("plan"), cluster, arcpolicy_world.cluster_id(cluster), name,
                                 remediation.ACTION_WORDS[action])


@then(Sentence('the plan holds the extension "{name}" on "{cluster}" as {status} because "{because}"'))
def plan_holds(arcpolicy_world: SpecWorld, name: str, cluster: str, status: str, because: str) -> None:
    """An operation the plan will not apply now: ``skipped``, ``deferred`` or ``waiting``, and why."""
    remediation.expect_held(arcpolicy_world.output("plan"), cluster, arcpolicy_world.cluster_id(cluster), name,
                            status, because)


@then(Sentence('the plan leaves "{cluster}" alone'))
def plan_leaves_alone(arcpolicy_world: SpecWorld, cluster: str) -> None:
    """No operation on the cluster or any of its extensions."""
    remediation.expect_untouched(arcpolicy_world.output("plan")["operations"], cluster,
                                 arcpolicy_world.cluster_id(cluster), "the plan")


@then(Sentence("the plan has {count:d} operations"))
def plan_operation_count(arcpolicy_world: SpecWorld, count: int) -> None:
    """The plan's total number of operations."""
    expect.equal("the number of plan operations", len(arcpolicy_world.output("plan")["operations"]), count)


# ---- apply ----------------------------------------------------------------------------------
@then(Sentence('the extension "{name}" on "{cluster}" is {state}'))
def applied_state(arcpolicy_world: SpecWorld, name: str, cluster: str, state: str) -> None:
    """The apply's outcome for the operation: ``succeeded``, ``satisfied``, ``waiting``, ``failed`` ..."""
    remediation.expect_state(arcpolicy_world.output("apply"), cluster, arcpolicy_world.cluster_id(cluster), name,
                             state)


@then(Sentence("the apply writes nothing"))
def apply_writes_nothing(arcpolicy_world: SpecWorld) -> None:
    """Every operation was already in effect: no write request was sent."""
    result = arcpolicy_world.output("apply")
    expect.equal("the number of writes", result["writes"], 0)


@then(Sentence("the apply counts {count:d} {state} operations"))
def apply_count(arcpolicy_world: SpecWorld, count: int, state: str) -> None:
    """How many operations ended ``succeeded``, ``failed``, ``not-attempted`` ..."""
    expect.equal(f"the number of {state} operations", arcpolicy_world.output("apply")["counts"].get(state, 0), count)


def catalog() -> list[tuple[str, str, str]]:
    """(Given/When/Then, sentence, first docstring line) of every step in this library."""
    from pytest_bdd.steps import step_function_context_registry

    entries = [(str(context.type).capitalize(), context.parser.name, (context.step_func.__doc__ or "").strip())
               for context in step_function_context_registry.values() if context.step_func.__module__ == __name__]
    order = {"Given": 0, "When": 1, "Then": 2}
    return sorted(entries, key=lambda entry: order[entry[0]])


# ---- history --------------------------------------------------------------------------------
@then(Sentence("the history holds {count:d} scans"))
def history_holds(arcpolicy_world: SpecWorld, count: int) -> None:
    """``arcpolicy history`` lists this many stored scans."""
    expect.equal("the number of stored scans", len(arcpolicy_world.history("history")["value"]), count)


@then(Sentence('"{cluster}" became non-compliant with "{policy}" (or: was fixed for "{policy}")',
               rf'"(?P<cluster>[^"]*)" (?P<change>{"|".join(compliance.DIFF_KINDS)}) "(?P<policy>[^"]*)"'))
def cluster_changed(arcpolicy_world: SpecWorld, cluster: str, change: str, policy: str) -> None:
    """After ``the last two scans are compared``: what ``arcpolicy diff`` says changed."""
    compliance.expect_change(arcpolicy_world.output("diff"), change, cluster, arcpolicy_world.cluster_id(cluster),
                             policy)


@then(Sentence('"{cluster}" becomes non-compliant with "{policy}" because "{because}"'))
def becomes_non_compliant(arcpolicy_world: SpecWorld, cluster: str, policy: str, because: str) -> None:
    """After ``the change is previewed``: the cluster (or one of its extensions) is newly non-compliant with
    the policy (assignment name, title or definition name), a reason mentioning ``because``."""
    whatif.expect_change(arcpolicy_world.output("whatif"), "non-compliant", cluster,
                         arcpolicy_world.cluster_id(cluster), policy, because)


@then(Sentence('"{cluster}" becomes compliant with "{policy}"'))
def becomes_compliant(arcpolicy_world: SpecWorld, cluster: str, policy: str) -> None:
    """After ``the change is previewed``: the cluster was non-compliant in the stored scan and is no more."""
    whatif.expect_change(arcpolicy_world.output("whatif"), "compliant", cluster,
                         arcpolicy_world.cluster_id(cluster), policy)


@then(Sentence("the preview counts {count:d} newly non-compliant records"))
def preview_counts(arcpolicy_world: SpecWorld, count: int) -> None:
    """After ``the change is previewed``: how many records become non-compliant, over every assignment."""
    expect.equal("the number of newly non-compliant records", whatif.newly_non_compliant(
        arcpolicy_world.output("whatif")), count)


@then(Sentence('the preview names the definition "{definition}" as {change}'))
def preview_names_definition(arcpolicy_world: SpecWorld, definition: str, change: str) -> None:
    """After ``the change is previewed``: a definition (its id, or the last part: ``monitoring_required``) the
    change ``added`` to or ``removed`` from the evaluated set."""
    whatif.expect_definition(arcpolicy_world.output("whatif"), definition, change)


@then(Sentence("the preview's Markdown fits a pull-request comment"))
def preview_markdown_fits(arcpolicy_world: SpecWorld) -> None:
    """whatif.md opens with the summary and has at most GitHub's 65,536 characters."""
    whatif.expect_comment(arcpolicy_world.workdir / "whatif.md")


@then(Sentence("the history holds at least {count:d} scans"))
def history_holds_at_least(arcpolicy_world: SpecWorld, count: int) -> None:
    """``arcpolicy history`` lists this many stored scans or more (a scheduler may finish one more)."""
    stored = len(arcpolicy_world.history("history")["value"])
    if stored < count:
        raise expect.SpecFailure(f"expected at least {count} stored scans, but the history holds {stored}")


@then(Sentence('the trend shows "{series}" at "{percentages}"'))
def trend_shows(arcpolicy_world: SpecWorld, series: str, percentages: str) -> None:
    """After ``the trend is charted``: the line of a policy (named as in the other steps: its line is the
    one labelled with that assignment's title), ``all policies`` (every policy state) or ``overall resource
    compliance`` (resources compliant with every assignment, as Azure's portal counts them) goes through
    these compliance percentages, oldest scan first (``"50%, 0%, 100%"``), in the SVG chart and (for a
    policy) in the HTML report's per-policy table."""
    history.expect_trend(arcpolicy_world.workdir / "trend.svg", arcpolicy_world.workdir / "trend.html",
                         _trend_line(arcpolicy_world, series), history.parse_percentages(percentages), label=series)


@then(Sentence('the trend labels "{series}" as "{label}"'))
def trend_labels(arcpolicy_world: SpecWorld, series: str, label: str) -> None:
    """After ``the trend is charted``: the line of a policy (named as in the other steps) carries this label
    in the SVG chart's legend and tooltips and in the HTML report's per-policy table."""
    expect.equal(f'the label of "{series}" in the trend', _trend_line(arcpolicy_world, series), label)
    history.expect_label(arcpolicy_world.workdir / "trend.svg", arcpolicy_world.workdir / "trend.html", label)


def _trend_line(arcpolicy_world: SpecWorld, series: str) -> str:
    """The chart's line for a policy named as in the other steps (the records of the last scan say which)."""
    if series in history.OVERALL_LINES or "scan" not in arcpolicy_world.outputs:
        return series
    return history.series_name(compliance.records_for_policy(arcpolicy_world.records(), series),
                               history.svg_series(arcpolicy_world.workdir / "trend.svg"))


@then(Sentence('the health file "{name}" says "{state}" after at least {count:d} runs and {failures:d} failures'))
def health_says(arcpolicy_world: SpecWorld, name: str, state: str, count: int, failures: int) -> None:
    """The scheduler's health file: its state (``stopped`` ...), how many runs and failed runs."""
    path = arcpolicy_world.workdir / name
    document = history.health(path)
    if document.get("state") != state or int(document.get("runs") or 0) < count or document.get("failures") != failures:
        raise expect.SpecFailure(f'expected {name} to say "{state}" after at least {count} runs and {failures} '
                                 f"failures, but it reads:\n{history.describe_health(path)}")


@then(Sentence('the health file "{name}" names the latest stored scan'))
def health_names_latest_scan(arcpolicy_world: SpecWorld, name: str) -> None:
    """The health file's last scan id is the newest scan of the history store."""
    scans = arcpolicy_world.history("history")["value"]
    latest = scans[0].get("scanId") if scans else None
    expect.equal(f"the last scan id in {name}", history.health(arcpolicy_world.workdir / name).get("last_scan_id"),
                 latest)


@then(Sentence('the snapshot "{path}" holds the fleet that was served'))
def snapshot_holds_fleet(arcpolicy_world: SpecWorld, path: str) -> None:
    """A saved snapshot has every resource of the scenario's fleet, with the same properties and tags."""
    expect.same_fleet(arcpolicy_world.workdir / path, arcpolicy_world.workdir / arcpolicy_world.snapshot())


PROTECTED_KINDS = {"extension": "extensions", "flux configuration": "fluxConfigurations"}


@then(Sentence('the {kind} "{name}" on "{cluster}" has the protected setting "{key}" set to "{value}"'))
def protected_setting(arcpolicy_world: SpecWorld, kind: str, name: str, cluster: str, key: str, value: str) -> None:
    """An ``extension`` or ``flux configuration`` was written to the sandbox with this protected setting
    value (ARM never returns it: the sandbox keeps a digest, which is compared)."""
    if kind not in PROTECTED_KINDS:
        raise expect.SpecFailure(f'unknown resource kind "{kind}" (use: {", ".join(PROTECTED_KINDS)})')
    resource_id = (f"{arcpolicy_world.cluster_id(cluster)}/providers/Microsoft.KubernetesConfiguration/"
                   f"{PROTECTED_KINDS[kind]}/{name}")
    digests = arcpolicy_world.protected_setting_digests(resource_id)
    if digests.get(key) != hashlib.sha256(value.encode("utf-8")).hexdigest():
        written = ("it was written with another value" if key in digests
                   else f"the protected settings written to it are: {', '.join(digests) or 'none'}")
        raise expect.SpecFailure(f'expected the {kind} "{name}" on "{cluster}" to have the protected setting '
                                 f'"{key}" set to "{value}", but {written}')


@then(Sentence('the secret "{value}" appears in no output'))
def secret_nowhere(arcpolicy_world: SpecWorld, value: str) -> None:
    """Not on any command's stdout or stderr, nor in any file arcpolicy wrote: plans, reports, results,
    journals (only the scenario's input files and the sandbox, standing in for Azure, hold it)."""
    arcpolicy_world.expect_secret_nowhere(value)
