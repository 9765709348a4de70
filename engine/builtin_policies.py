"""The policy library shipped with arcpolicy, reachable from any install without knowing site-packages.

``--policy builtin:`` is the whole library, ``builtin:azure`` / ``builtin:rego`` its halves, and
``builtin:rego/monitoring_required.rego`` one file; ``arcpolicy policies path`` prints the folder. The
library is the ``policies`` package next to ``engine`` (in a checkout and in an installed wheel alike); it
is found from this file, never by importing ``policies``, which a policy repository's own ``policies/``
folder would shadow.
"""

from __future__ import annotations

from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "policies"
BUILTIN_PREFIX = "builtin:"


def resolve_builtin(path: str | Path) -> Path:
    """``builtin:...`` as the shipped file or folder it names (any other path unchanged)."""
    text = str(path)
    if not text.startswith(BUILTIN_PREFIX):
        return Path(path)
    inside = text.removeprefix(BUILTIN_PREFIX).strip("/")
    return LIBRARY / inside if inside else LIBRARY
