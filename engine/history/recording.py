"""After a scan: write its outputs, record it in the history store and apply the retention.

Shared by ``arcpolicy scan`` and the scheduled scan job of ``arcpolicy schedule``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.atomic import check_writable
from engine.azure_policy.documents import policy_files
from engine.config import ArcPolicyConfig
from engine.evaluate import ScanRequest
from engine.evaluate.kinds import KINDS
from engine.ids import normalize
from engine.inventory import Fleet
from engine.models.results import PolicyState
from engine.output import OutputSpec, ScanMetadata, write_outputs

if TYPE_CHECKING:
    from engine.history.store import AssignedDefinition

log = logging.getLogger(__name__)


def policy_set_fingerprint(policies: Sequence[Path], request: ScanRequest) -> str:
    """A digest of the policy files' contents and the assignments (ids, definitions, parameters) evaluated.

    Moving or renaming a file keeps the fingerprint; changing a rule or a parameter changes it.
    """
    suffixes = tuple(suffix for kind in KINDS.values() for suffix in kind.suffixes)
    contents = sorted(hashlib.sha256(path.read_bytes()).hexdigest() for path in policy_files(policies, suffixes))
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


def assigned_definitions(request: ScanRequest) -> list[AssignedDefinition]:
    """The assignments a scan evaluates, each with the definition or initiative it assigns."""
    from engine.history.store import AssignedDefinition

    return [AssignedDefinition(assignment_id=assignment.id, assignment_name=assignment.name,
                               definition_id=assignment.policy_definition_id, display_name=assignment.display_name)
            for assignment in request.all_assignments()]


def check_destinations(config: ArcPolicyConfig) -> None:
    """Before a scan runs: every output can be written, and the store opens (created, migrated), so a
    bad ``-o`` or ``--store`` is refused before the scan's work and before any output is written."""
    for output in config.outputs:
        check_writable(output.path, "-o")
    if config.store.url is not None:
        from engine.history.store import HistoryStore

        HistoryStore(config.store.url).close()


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
        store.record_scan(metadata, states, fleet, assigned_definitions(request))
        log.info("recorded the scan in %s", store.shown_url, extra={"records": len(states)})
        if config.store.keep is not None:
            removed = store.prune(config.store.keep)
            if removed:
                log.info("pruned %d scans older than %s", len(removed), config.store.keep)
        return Published(metadata.scan_id, specs, store.shown_url)
