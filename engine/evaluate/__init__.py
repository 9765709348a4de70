"""Evaluate stage: assignments, scope, notScopes, exemptions and the scan over a fleet.

Library API: :func:`scan` (one call), or :func:`prepare_scan` then :func:`run_scan`.
"""

from engine.evaluate.kinds import KINDS, ClusterVerdicts, PolicyKey, PolicyKind, Verdict, register_kind
from engine.evaluate.scan import ScanRequest, ScanResult, prepare_scan, run_scan, scan
from engine.evaluate.scope import load_management_groups
from engine.evaluate.summary import PolicySummary

__all__ = ["KINDS", "ClusterVerdicts", "PolicyKey", "PolicyKind", "PolicySummary", "ScanRequest", "ScanResult",
           "Verdict", "load_management_groups", "prepare_scan", "register_kind", "run_scan", "scan"]
