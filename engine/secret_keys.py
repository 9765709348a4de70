"""Which keys hold secrets: one list for every place that must mask them (outputs, store, logs).

Protected settings, passwords, tokens and keys (Log Analytics shared keys, storage account keys,
SSH private keys ...) are recognised by their key names, case-insensitively.
"""

from __future__ import annotations

import functools
import re

SECRET_KEY_NAMES = (r"protectedsettings|password|passwd|secret|token|apikey|api_key|connectionstring|"
                    r"privatekey|private_key|sharedkey|accountkey|workspacekey|primarykey|secondarykey|"
                    r"sastoken|credential|key$")
SECRET_KEY = re.compile(SECRET_KEY_NAMES, re.IGNORECASE)
# "name=value" / "name": "value" inside free text (log messages, error texts)
SECRET_ASSIGNMENT = re.compile(r"(?i)([\"']?[\w.-]*(?:" + SECRET_KEY_NAMES.replace("|key$", "|key\\b")
                               + r")[\w.-]*[\"']?\s*[=:]\s*[\"']?)[^\s\"',;}]+")


def is_secret_key(name: object) -> bool:
    return _is_secret_key_text(str(name))


@functools.lru_cache(maxsize=8192)
def _is_secret_key_text(name: str) -> bool:
    """Cached: masking a fleet or a scan asks about the same few hundred key names millions of times."""
    return bool(SECRET_KEY.search(name))
