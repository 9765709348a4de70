"""After a scan: write its outputs, record it in the history store and apply the retention.

Shared by ``arcpolicy scan`` and the scheduled scan job of ``arcpolicy schedule``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from engine import __version__
from engine.atomic import check_distinct, check_writable, input_files
from engine.azure_policy.documents import PolicyAssignment, policy_files
from engine.azure_policy.library import AzurePolicyLibrary
from engine.config import ArcPolicyConfig
from engine.evaluate import ScanRequest
from engine.evaluate.kinds import KINDS
from engine.evaluate.records import gc_paused
from engine.ids import normalize
from engine.inventory import Fleet
from engine.inventory.snapshot import SnapshotWriter
from engine.inventory.stream import FleetPartition, ReadOrder
from engine.models.results import PolicyState
from engine.output import OutputFiles, OutputSpec, ScanMetadata, write_outputs
from engine.output.redact import blank_secrets
from engine.output.registry import RecordWriter, get_format
from engine.secret_values import scrub_data

if TYPE_CHECKING:
    from engine.evaluate.streaming import RecordSink
    from engine.history.store import AssignedDefinition, HistoryStore, ScanRecording
    from engine.inventory.shard import Shard

log = logging.getLogger(__name__)


def _file_digests(policies: Sequence[Path], suffixes: tuple[str, ...]) -> list[str]:
    return sorted(hashlib.sha256(path.read_bytes()).hexdigest() for path in policy_files(policies, suffixes))


def policy_set_fingerprint(policies: Sequence[Path], request: ScanRequest) -> str:
    """A digest of the policy files' contents and the assignments (ids, definitions, parameters) evaluated.

    Moving or renaming a file keeps the fingerprint; changing a rule or a parameter changes it.
    """
    contents = _file_digests(policies, tuple(suffix for kind in KINDS.values() for suffix in kind.suffixes))
    assignments = sorted((normalize(assignment.id), assignment.policy_definition_id, assignment.parameters)
                         for assignment in request.all_assignments())
    encoded = json.dumps([contents, assignments], sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class Published:
    """Where a scan went: the files written and the store it was recorded in (its shown URL)."""

    scan_id: str
    files: list[OutputSpec]
    store: str | None = None

    def describe(self) -> str:
        """One line naming every file and the scan id, for the terminal."""
        parts = [f"wrote {', '.join(str(spec.path) for spec in self.files)}"] if self.files else []
        parts += [f"recorded in {self.store}"] if self.store else []
        return f"scan {self.scan_id}: {'; '.join(parts)}"


def assigned_definitions(request: ScanRequest, policies: Sequence[Path] = ()) -> list[AssignedDefinition]:
    """The assignments a scan evaluates, each with the definition or initiative it assigns, as written (secrets
    masked; none for the defaults of a scan without assignment files) and, given the policy files, the digest
    of what its verdicts depend on (:func:`assignment_fingerprints`)."""
    from engine.history.store import AssignedDefinition

    fingerprints = assignment_fingerprints(policies, request) if policies else {}
    return [AssignedDefinition(assignment_id=assignment.id, assignment_name=assignment.name,
                               definition_id=assignment.policy_definition_id, display_name=assignment.display_name,
                               document=None if request.assigned_by_default else assignment_document(assignment),
                               fingerprint=fingerprints.get(normalize(assignment.id)))
            for assignment in request.all_assignments()]


def assignment_document(assignment: PolicyAssignment) -> dict[str, Any]:
    """An assignment as the store keeps it: its fields as written, values under secret-looking keys blanked
    (the shape kept: ``{"value": "***"}``) and values secret by their origin masked."""
    return scrub_data(blank_secrets(assignment.model_dump(by_alias=True, mode="json")))


def assignment_fingerprints(policies: Sequence[Path], request: ScanRequest) -> dict[str, str]:
    """Per assignment (by its lower-cased id), a digest of everything its verdicts on a given fleet depend on:
    arcpolicy's version, the assignment (definition, parameters, scope, not-scopes, enforcement), the exemptions
    and attestations that name it, the management-group map, and its definition: an Azure Policy definition or
    initiative and its members as loaded (with the library's alias setting); for other kinds (Rego, whose
    modules import each other) every file of the kind. Equal digests mean equal verdicts: what-if re-evaluates
    only the assignments whose digest changed."""
    shared = [__version__, request.management_groups]
    kind_files = {name: _file_digests(policies, KINDS[name].suffixes) for name in request.assignments}
    fingerprints = {}
    for name, assignments in request.assignments.items():
        library = request.libraries[name]
        for assignment in assignments:
            key = normalize(assignment.id)
            definition = (_azure_definitions(library, assignment) if isinstance(library, AzurePolicyLibrary)
                          else kind_files[name])
            related = sorted(document.model_dump_json() for document in (*request.exemptions, *request.attestations)
                             if normalize(document.policy_assignment_id) == key)
            encoded = json.dumps([shared, assignment.model_dump(mode="json"), definition, related], sort_keys=True,
                                 default=str)
            fingerprints[key] = "sha256:" + hashlib.sha256(encoded.encode()).hexdigest()
    return fingerprints


def _azure_definitions(library: AzurePolicyLibrary, assignment: PolicyAssignment) -> list[str]:
    """The definition or initiative an assignment names, and an initiative's member definitions, as loaded."""
    target = library.find(assignment.policy_definition_id)
    members = [library.find(member.policy_definition_id) for member in getattr(target, "policy_definitions", [])]
    return [str(library.strict_aliases), *(document.model_dump_json() if document is not None else "missing"
                                           for document in (target, *members))]


def check_destinations(config: ArcPolicyConfig, inventory: Path | None = None, save: Path | None = None) -> None:
    """Before a scan runs: every output can be written, none is an input or another output, and the store opens
    (created, migrated), so a bad ``-o``, ``--save`` or ``--store`` is refused before the scan's work and before
    any output is written."""
    settings = config.scan
    check_distinct([*((output.path, "-o") for output in config.outputs), (save, "--save")],
                   [(inventory or settings.inventory, "--inventory"), (settings.management_group_map,
                                                                        "--management-groups"),
                    *input_files(settings.policies, settings.assignments, settings.exemptions, settings.attestations)])
    for output in config.outputs:
        check_writable(output.path, "-o")
    if config.store.url is not None:
        from engine.history.store import HistoryStore

        HistoryStore(config.store.url).close()


class ScanPublication:
    """Where a streamed scan's records go as they come (``with``; :attr:`sinks` to :func:`stream_scan`): the output
    files, the records' format on stdout (``stdout_format``, when no file is named) and the history store; the
    fleet's groups in read order for the store and ``--save`` (fed by :attr:`partition_seen`). :meth:`finish` ends
    the files, stores the inventory and commits, then prunes; the files are renamed into place when the ``with``
    block ends without an error (and removed otherwise, the store left as it was)."""

    def __init__(self, config: ArcPolicyConfig, metadata: ScanMetadata, request: ScanRequest,
                 stdout_format: str | None = None, save: Path | None = None, shard: Shard | None = None):
        """``shard``: the part of the fleet this process scans, recorded as that shard of ``metadata.scan_id``."""
        self.config = config
        self.shard = shard
        self.metadata = metadata
        self.request = request
        self.stdout_format = stdout_format
        self.save = save
        self.specs = [OutputSpec(format=output.format, path=output.path) for output in config.outputs]
        self.sinks: list[RecordSink] = []
        self.saved = 0  # resources written to --save
        self._stack = ExitStack()

    def __enter__(self) -> ScanPublication:
        with ExitStack() as opening:
            opening.enter_context(self._stack)
            self.files = self._stack.enter_context(OutputFiles(self.specs, self.metadata))
            self.sinks.append(self.files)
            self.stdout: RecordWriter | None = None
            if self.stdout_format is not None:
                sys.stdout.flush()
                self.stdout = get_format(self.stdout_format).writer(sys.stdout.buffer, self.metadata)
                self.sinks.append(self.stdout)
            self.store: HistoryStore | None = None
            self.recording: ScanRecording | None = None
            if self.config.store.url is not None:
                from engine.history.store import HistoryStore

                self.store = self._stack.enter_context(HistoryStore(self.config.store.url))
                self.recording = self._stack.enter_context(
                    self.store.recording(self.metadata, assigned_definitions(self.request, self.config.scan.policies),
                                         self.shard))
                if self.shard is not None:
                    log.info("recording shard %s of scan %s in %s", self.shard, self.metadata.scan_id,
                             self.store.shown_url, extra={"shard": str(self.shard)})
                self.sinks.append(self.recording)
            self.order = ReadOrder() if self.recording is not None or self.save is not None else None
            if self.order is not None:
                self._stack.callback(self.order.close)
            opening.pop_all()
        return self

    @property
    def partition_seen(self) -> Callable[[FleetPartition], None] | None:
        return self.order.add if self.order is not None else None

    def finish(self) -> Published:
        """End every output, write ``--save``, record the inventory and commit, prune past ``store.keep``."""
        self.files.finish()
        for spec in self.specs:
            log.info("wrote %s", spec.path, extra={"format": spec.format})
        if self.stdout is not None:
            self.stdout.finish()
            sys.stdout.buffer.flush()
        groups = self._groups()
        if self.recording is None:
            for _ in groups:  # --save alone
                pass
            return Published(self.metadata.scan_id, self.specs)
        assert self.store is not None
        with gc_paused():  # the groups' bytes, digests and rows hold no cycles: the collector would walk the heap
            self.recording.add_inventory(groups)
            self.recording.finish()
        if self.shard is not None:
            log.info("recorded shard %s of the scan in %s", self.shard, self.store.shown_url,
                     extra={"records": self.recording.counts.total, "shard": str(self.shard)})
        else:
            log.info("recorded the scan in %s", self.store.shown_url, extra={"records": self.recording.counts.total})
        keep = self.config.store.keep
        if keep is not None:
            removed = self.store.prune(keep)
            if removed:
                log.info("pruned %d scans older than %s", len(removed), keep)
        return Published(self.metadata.scan_id, self.specs, self.store.shown_url)

    def _groups(self) -> Iterator[list[bytes]]:
        """The fleet's groups in read order (each resource's JSON, for the store), each also written to ``--save``
        as it passes."""
        if self.order is None:
            return
        with ExitStack() as stack:
            snapshot = stack.enter_context(SnapshotWriter(self.save, saved=True)) if self.save is not None else None
            for members in self.order:
                if snapshot is not None:
                    for member in members:
                        snapshot.add(orjson.loads(member))  # written as the in-memory fleet writes it
                yield members
        if snapshot is not None:
            self.saved = snapshot.count

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(*exc)


def _write(specs: list[OutputSpec], states: Sequence[PolicyState], metadata: ScanMetadata) -> None:
    write_outputs(specs, states, metadata)
    for spec in specs:
        log.info("wrote %s", spec.path, extra={"format": spec.format})


def publish_scan(config: ArcPolicyConfig, states: Sequence[PolicyState], metadata: ScanMetadata, fleet: Fleet,
                 request: ScanRequest) -> Published:
    """Open the store, write the configured outputs, then record the scan (with the fleet it evaluated and its assignments) in
    the store and prune past ``store.keep``."""
    specs = [OutputSpec(format=output.format, path=output.path) for output in config.outputs]
    if config.store.url is None:
        _write(specs, states, metadata)
        return Published(metadata.scan_id, specs)
    from engine.history.store import HistoryStore

    with HistoryStore(config.store.url) as store:  # opened first: a bad store is refused before any output
        _write(specs, states, metadata)
        store.record_scan(metadata, states, fleet, assigned_definitions(request, config.scan.policies))
        log.info("recorded the scan in %s", store.shown_url, extra={"records": len(states)})
        if config.store.keep is not None:
            removed = store.prune(config.store.keep)
            if removed:
                log.info("pruned %d scans older than %s", len(removed), config.store.keep)
        return Published(metadata.scan_id, specs, store.shown_url)
