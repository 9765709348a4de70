"""One shard of a fleet: the subscriptions whose stable hash falls to it, so that N processes (an Indexed Job's
pods) each scan one part of the fleet and the store joins their records into one scan.

A subscription belongs to shard ``sha256(lower-cased subscription id) mod N``: stable across processes, runs and
machines (Python's ``hash`` is salted per process), and a subscription's clusters, extensions and resource
groups always land together. A resource outside any subscription belongs to shard 0.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.errors import InputError
from engine.ids import ResourceIdError, parse_resource_id
from engine.inventory.lines import LineFacts
from engine.limits import MAX_SHARDS

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"  # what Kubernetes sets in each pod of an Indexed Job
DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str, environment: Mapping[str, str] = os.environ) -> Shard:
        """``I/N`` (shard I of N, from 0), or ``N`` alone with I from ``JOB_COMPLETION_INDEX``."""
        index_text, slash, count_text = text.strip().rpartition("/")
        if not slash:
            index_text = environment.get(INDEX_VARIABLE, "")
            if not index_text:
                raise InputError("--shard", f"give I/N, or N alone in a pod of an Indexed Job ({INDEX_VARIABLE} "
                                            "is not set)", value=text)
        index_text, count_text = index_text.strip(), count_text.strip()
        if not (DIGITS.fullmatch(index_text) and DIGITS.fullmatch(count_text)):
            raise InputError("--shard", "expected I/N with whole numbers, 0 <= I < N (e.g. 2/8)", value=text)
        if max(len(index_text), len(count_text)) > len(str(MAX_SHARDS)):
            raise InputError("--shard", f"at most {MAX_SHARDS} shards", value=text)
        shard = cls(int(index_text), int(count_text))
        if not 0 <= shard.index < shard.count:
            raise InputError("--shard", f"shard {shard.index} of {shard.count}: I must be 0 to N-1", value=text)
        if shard.count > MAX_SHARDS:
            raise InputError("--shard", f"at most {MAX_SHARDS} shards", value=text)
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def of_subscription(self, subscription_id: str | None) -> int:
        """The shard a subscription belongs to (no subscription: shard 0)."""
        return _subscription_hash(subscription_id.lower()) % self.count if subscription_id else 0

    def holds_subscription(self, subscription_id: str | None) -> bool:
        return self.of_subscription(subscription_id) == self.index

    def holds(self, resource: dict[str, Any] | LineFacts) -> bool:
        """Whether ``resource`` (an ARM resource with its ``id``, or the id, type and cluster of an NDJSON line
        read unparsed) is this shard's."""
        try:
            resource_id = resource[0] if isinstance(resource, tuple) else resource["id"]
            subscription = parse_resource_id(resource_id).subscription_id
        except (KeyError, TypeError, ResourceIdError):
            subscription = None  # shard 0 keeps it, and reading it says what is wrong
        return self.holds_subscription(subscription)


@lru_cache(maxsize=4096)
def _subscription_hash(subscription_id: str) -> int:
    """A fleet has few subscriptions and many resources: each subscription is hashed once."""
    return int.from_bytes(hashlib.sha256(subscription_id.encode()).digest()[:8], "big")
