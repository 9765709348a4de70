"""The policy library shipped with arcpolicy, reachable from any install without knowing site-packages.

``--policy builtin:`` is the default set: each shipped rule once, in its Rego form (the form that carries a
remediation plan can use); ``builtin:azure`` holds Azure Policy JSON twins of three of those rules, to use
instead of their Rego forms (not with them: a scan warns when two definitions give identical verdicts);
``builtin:rego/monitoring_required.rego`` is one file; ``arcpolicy policies path`` prints the folder. The
library is the ``policies`` package next to ``engine`` (in a checkout and in an installed wheel alike); it
is found from this file, never by importing ``policies``, which a policy repository's own ``policies/``
folder would shadow.
"""

from __future__ import annotations

from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "policies"
BUILTIN_PREFIX = "builtin:"
DEFAULT_SET = "rego"  # what a bare ``builtin:`` reads: every shipped rule, each once


def resolve_builtin(path: str | Path) -> Path:
    """``builtin:...`` as the shipped file or folder it names (any other path unchanged)."""
    text = str(path)
    if not text.startswith(BUILTIN_PREFIX):
        return Path(path)
    inside = text.removeprefix(BUILTIN_PREFIX).strip("/")
    return LIBRARY / (inside or DEFAULT_SET)
