"""The sandbox's shared state, independent of HTTP.

:class:`Sandbox` holds the store, the simulated clock, the limits, the faults and the counters;
the Resource Graph, ARM and control handlers operate on it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from engine import ids
from engine.sandbox import lifecycle
from engine.sandbox.limits import ArmBuckets, Faults, QueryQuota, parse_ratio
from engine.sandbox.resources import containers
from engine.sandbox.resources.registry import lookup
from engine.sandbox.store import Store

CLOCK_OFFSET = "clock_offset"
NODE_ARCHITECTURES = "node-architectures"


class SandboxOptions(BaseModel):
    """How a sandbox is set up; the CLI options of ``arcpolicy sandbox serve``."""

    model_config = ConfigDict(frozen=True)

    state_dir: Path
    fleet: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    max_page_size: int = Field(1000, ge=1, le=1000, description="Most rows per Resource Graph page.")
    arm_page_size: int = Field(100, ge=1, le=1000, description="Most items per page of an ARM list.")
    throttle: str = "15/5s"
    read_limit: str = "250/25"
    write_limit: str = "200/10"
    delete_limit: str = "200/10"
    provisioning_seconds: float = Field(30.0, ge=0, description="Simulated seconds an extension spends Creating.")
    poll_after_seconds: int = Field(1, ge=0, description="Retry-After sent with long-running operations.")
    fault_seed: int = 0


class Job(Protocol):
    """Work ARM carries on after answering (a template deployment): moved on whenever the sandbox settles."""

    def advance(self, sandbox: Sandbox) -> bool:
        """Do what can be done now; True once finished."""
        ...


class Sandbox:
    """State shared by every request: store, simulated clock, limits, faults, counters and running jobs."""

    def __init__(self, options: SandboxOptions):
        self.options = options
        self.store = Store(options.state_dir)
        limit, window = parse_ratio(options.throttle)
        self.quota = QueryQuota(limit, window)
        self.buckets = ArmBuckets.of(reads=parse_ratio(options.read_limit), writes=parse_ratio(options.write_limit),
                                     deletes=parse_ratio(options.delete_limit))
        self.faults = Faults(options.fault_seed)
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._settle_due = 0.0  # simulated time before which no in-flight resource can change
        self.jobs: list[Job] = []
        self._advancing = False
        with self.store.lock:
            self._offset = float(self.store.meta(CLOCK_OFFSET) or 0.0)

    def count(self, name: str, amount: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += amount

    # ---- simulated clock --------------------------------------------------------------------
    def now(self) -> float:
        """Simulated time: wall time plus whatever the control API advanced it by."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self.store.lock:
            self.settle()
            self._offset += seconds
            self.store.set_meta(CLOCK_OFFSET, repr(self._offset))
            self._settle_due = 0.0
            self.settle()

    # ---- cluster facts ----------------------------------------------------------------------
    def architectures(self, cluster: dict[str, Any]) -> str:
        return self.store.fact(ids.normalize(cluster["id"]), NODE_ARCHITECTURES) \
            or lifecycle.initial_architectures(cluster)

    def facts_changed(self) -> None:
        self._settle_due = 0.0

    # ---- lifecycles -------------------------------------------------------------------------
    def load_fleet(self, resources: Iterable[dict[str, Any]]) -> int:
        """Load a fleet into the empty store. What it holds mid-operation (an extension Creating or
        Updating, Pending on a disconnected cluster) moves on the simulated clock from now on, like
        the sandbox's own writes, instead of staying in that state for ever."""
        in_flight: list[tuple[dict[str, Any], str]] = []
        scopes = containers.Scopes()

        def noting_in_flight() -> Iterator[dict[str, Any]]:
            for resource in resources:
                phase = lifecycle.loaded_phase(resource)
                if phase is not None:
                    in_flight.append((resource, phase))
                scopes.note(resource)
                yield resource

        count = self.store.load(noting_in_flight())
        self.store.load(resource for resource in scopes.implied() if self.store.get(resource["id"]) is None)
        now = self.now()
        with self.store.lock:
            for resource, phase in in_flight:
                cluster_id = ids.owning_cluster_id(resource["id"])
                if cluster_id is not None:
                    self.store.start(ids.normalize(resource["id"]), ids.normalize(cluster_id), phase, now,
                                     lifecycle.created_at(resource, now))
            self._settle_due = 0.0
        return count

    def settle(self) -> None:
        """Move every in-flight extension or flux configuration to its state at the current time, then the
        running jobs (a deployment starts the resources whose dependencies have succeeded). A job's own requests
        do not settle again: everything was settled just before it advanced."""
        if self._advancing:
            return
        self._settle_lifecycles()
        if self.jobs:
            with self.store.lock:
                self._advancing = True
                try:
                    self.jobs = [job for job in self.jobs if not job.advance(self)]
                finally:
                    self._advancing = False

    def _settle_lifecycles(self) -> None:
        now = self.now()
        if now < self._settle_due:
            return
        due = float("inf")
        with self.store.lock:
            for resource_key, cluster_key, phase, started, created in self.store.inflight():
                resource, cluster = self.store.get(resource_key), self.store.get(cluster_key)
                if resource is None or cluster is None:
                    self.store.finish(resource_key)
                    continue
                outcome = lifecycle.settle(resource, phase, cluster, self.architectures(cluster), started,
                                           created, now, self.options.provisioning_seconds)
                properties = resource.get("properties") or {}
                if outcome.final or properties.get("provisioningState") != outcome.state \
                        or properties.get("errorInfo") != outcome.error:
                    self.apply_outcome(resource, outcome)  # unchanged in-flight resources are not rewritten
                if not outcome.final:
                    due = min(due, _next_change(resource, phase, cluster, started, created,
                                                self.options.provisioning_seconds))
            self._settle_due = due

    def apply_outcome(self, resource: dict[str, Any], outcome: lifecycle.Settled) -> None:
        key = ids.normalize(resource["id"])
        if outcome.state == "Deleted":
            self.store.delete(key)
        else:
            properties = resource.setdefault("properties", {})
            properties["provisioningState"] = outcome.state
            if "errorInfo" in properties or outcome.error:
                properties["errorInfo"] = outcome.error
            if outcome.state == "Succeeded" and "currentVersion" in properties:
                properties["currentVersion"] = properties.get("version") or "1.0.0"
            resource_type = lookup(resource["type"])
            if resource_type is not None and resource_type.settled is not None:
                resource_type.settled(resource, outcome.state, self.now())
            self.store.put(resource)
        if outcome.final:
            self.store.finish(key)


def _next_change(resource: dict[str, Any], phase: str, cluster: dict[str, Any], started: float,
                 created: float, provisioning_seconds: float) -> float:
    """When an unsettled resource can next change without a fact changing."""
    if phase == "delete" or lifecycle.is_connected(cluster):
        return started + provisioning_seconds
    if lifecycle.has_protected_settings(resource):
        return created + lifecycle.PROTECTED_SETTINGS_RETENTION_SECONDS
    return float("inf")
