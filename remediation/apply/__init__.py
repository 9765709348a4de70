"""Apply stage: a reviewed plan -> paced, retried, journaled ARM writes -> a verified result.

Library API: :func:`apply_plan` (with :func:`load_plan`, :class:`ApplyOptions`, :class:`Secrets`).
``load_plan`` is :func:`remediation.plan.io.read_plan`, the one plan reader.
"""

from remediation.apply.apply import ApplyOptions, apply_plan, default_journal_path, plan_fingerprint
from remediation.apply.models import ApplyResult, OperationResult, OpState, Verification
from remediation.apply.secrets import Secrets
from remediation.plan.io import read_plan as load_plan

__all__ = ["ApplyOptions", "ApplyResult", "OpState", "OperationResult", "Secrets", "Verification", "apply_plan",
           "default_journal_path", "load_plan", "plan_fingerprint"]
