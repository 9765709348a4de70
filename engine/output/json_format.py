"""``json``: the records as Azure ``policyStates`` list pages, ``{"value": [...]}``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from engine.models.results import PolicyState
from engine.output.context import ScanMetadata
from engine.output.registry import output_format


@output_format("json", ".json", "policy states as {\"value\": [...]} (Azure policyStates shape)")
def render_json(states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    return json.dumps({"value": [state.to_json() for state in states]}, indent=2) + "\n"
