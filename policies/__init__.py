"""The policy library shipped with arcpolicy (Rego and Azure Policy JSON, packaged as data).

Reachable from any install without knowing where site-packages is: ``--policy builtin:`` (the whole
library), ``builtin:azure``, ``builtin:rego`` or ``builtin:rego/monitoring_required.rego``; or
``arcpolicy policies path`` prints the folder.
"""

from pathlib import Path

LIBRARY = Path(__file__).resolve().parent
BUILTIN_PREFIX = "builtin:"


def resolve_builtin(path: str | Path) -> Path:
    """``builtin:...`` as the shipped file or folder it names (any other path unchanged)."""
    text = str(path)
    if not text.startswith(BUILTIN_PREFIX):
        return Path(path)
    inside = text.removeprefix(BUILTIN_PREFIX).strip("/")
    return LIBRARY / inside if inside else LIBRARY
