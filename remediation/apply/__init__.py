"""Apply stage: a reviewed plan -> paced, retried, journaled ARM writes -> a verified result.

Library API: :func:`apply_plan` (with :func:`load_plan`, :class:`ApplyOptions`, :class:`Secrets`).
"""

from remediation.apply.apply import (
           ApplyOptions,
           apply_plan,
           default_journal_path,
           load_plan,
           plan_fingerprint,
)
from remediation.apply.models import ApplyResult, OperationResult, OpState, Verification
from remediation.apply.secrets import Secrets

__all__ = ["ApplyOptions", "ApplyResult", "OpState", "OperationResult", "Secrets", "Verification", "apply_plan",
           "default_journal_path", "load_plan", "plan_fingerprint"]
