"""Rollout: a canary wave first (chosen to represent the plan and the fleet: :mod:`remediation.plan.canary`),
then waves paced per subscription, never before a prerequisite.

ARM throttles writes per subscription (a bucket of 200 writes refilled at 10 per second), so a
wave holds at most ``max_writes_per_subscription`` writes for any one subscription. Every
operation lands in the same wave as its prerequisites or a later one; within a wave, apply
follows ``dependsOn``. Skipped and deferred operations are in no wave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from engine import ids
from engine.evaluate.records import gc_paused
from remediation.plan.canary import ACTIVE, choose_canary
from remediation.plan.facts import ClusterFacts
from remediation.plan.graph import PlanNode
from remediation.plan.models import CanaryCoverage, Wave

ARM_WRITE_BUCKET = 200
ARM_WRITE_REFILL_PER_SECOND = 10


@dataclass(frozen=True, slots=True)
class RolloutOptions:
    canary_clusters: int = 1
    canary_percent: float | None = None  # when set, wins over canary_clusters
    max_writes_per_subscription: int = ARM_WRITE_BUCKET

    def canary_count(self, clusters: int) -> int:
        if self.canary_percent is not None:
            return min(clusters, math.ceil(clusters * self.canary_percent / 100))
        return min(clusters, self.canary_clusters)

    def requested(self, clusters: int) -> str:
        """How the canary was asked for, for the coverage's sentences."""
        if self.canary_percent is not None:
            return f"--canary-percent {self.canary_percent:g} ({self.canary_count(clusters)} of {clusters} clusters)"
        return f"--canary {self.canary_clusters}"

    def pacing(self) -> dict[str, object]:
        return {"maxWritesPerSubscriptionPerWave": self.max_writes_per_subscription,
                "armWriteBucketPerSubscription": ARM_WRITE_BUCKET,
                "armWriteRefillPerSecond": ARM_WRITE_REFILL_PER_SECOND,
                "canaryClusters": self.canary_clusters, "canaryPercent": self.canary_percent}



def assign_waves(graph: nx.DiGraph, nodes: dict[str, PlanNode], order: list[str], operation_ids: dict[str, str],
                 options: RolloutOptions, clusters: dict[str, ClusterFacts]) -> tuple[list[Wave], CanaryCoverage | None]:
    """Give each active node a wave number; ``order`` is a topological order of all node keys. Returns the
    waves and what the canary covers (None without a canary)."""
    active = [key for key in order if nodes[key].status in ACTIVE]
    planned_clusters = {ids.normalize(nodes[key].cluster_id) for key in active if nodes[key].cluster_id}
    size = options.canary_count(len(planned_clusters))
    choice = None
    if size and active:
        with gc_paused():  # sets and frozensets by the thousand, no cycles: the collector would only walk the heap
            choice = choose_canary(graph, nodes, active, clusters, size, options.requested(len(planned_clusters)))
    canary = choice.keys if choice else set()
    wave_of: dict[str, int] = {}
    load: dict[tuple[int, str], int] = {}

    def place(keys: list[str], first_wave: int) -> int:
        last = first_wave
        for key in keys:
            node = nodes[key]
            wave = max([first_wave, *(wave_of[before] for before in graph.predecessors(key) if before in wave_of)])
            subscription = ids.normalize(node.subscription_id or "")
            while load.get((wave, subscription), 0) >= options.max_writes_per_subscription:
                wave += 1
            load[(wave, subscription)] = load.get((wave, subscription), 0) + 1
            wave_of[key] = wave
            last = max(last, wave)
        return last

    last_canary = place([key for key in active if key in canary], 0) if canary else -1
    place([key for key in active if key not in canary], last_canary + 1)
    waves: dict[int, list[str]] = {}
    for key in active:
        waves.setdefault(wave_of[key], []).append(operation_ids[key])
    numbers = sorted(waves)
    return [Wave(number=position, name=_wave_name(number, last_canary, position),
                 operations=waves[number]) for position, number in enumerate(numbers)], choice.coverage if choice else None


def _wave_name(number: int, last_canary: int, position: int) -> str:
    if number <= last_canary:
        return "canary" if number == 0 else f"canary-{number + 1}"
    return f"wave-{position - last_canary}" if last_canary >= 0 else f"wave-{position + 1}"
