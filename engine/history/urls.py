"""History store URLs as users give them (a file path or a SQLAlchemy URL) and as messages show them.

Apart from the store so that naming a store (in a config file, a scan's metadata) does not import
SQLAlchemy; :func:`safe_url` imports it only when called.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def database_url(text: str) -> str:
    """A SQLAlchemy URL from ``--store``: URLs pass through, a file path becomes a SQLite URL (absolute, its
    last part not resolved: the store opens it only if it is no symbolic link)."""
    if "://" in text:
        return text
    return f"sqlite:///{os.path.abspath(Path(text).expanduser())}"


def safe_url(text: str) -> str:
    """The URL with its password masked, fit for logs and messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(database_url(text)).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL, or one whose port is not a number
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", text)
