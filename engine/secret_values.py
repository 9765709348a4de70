"""Secret values known by their origin, masked wherever text leaves arcpolicy, in any encoding.

Key names (:mod:`engine.secret_keys`) catch a secret only where it sits under a telling key. A value
is also secret because of where it came from, whatever it is called and wherever it travels next:

* an assignment parameter that feeds a ``secureString`` / ``secureObject`` template parameter or
  that a policy compares with a protected-settings path (:mod:`engine.azure_policy.secure`);
* a ``configurationProtectedSettings`` value met in the inventory;
* a Key Vault secret or a secrets-file value apply reads (:mod:`remediation.apply.secrets`).

Each such value is remembered here once; :func:`scrub` then replaces it, and its JSON-escaped,
HTML-escaped, URL-encoded, base64 and hex forms, in reasons, error lines, log lines and every
output (:func:`engine.output.redact.redact_state` covers the formats and the history store).
The registry is process-wide (scan workers are forked, so they inherit it); the CLI starts every
command with an empty one (:func:`forget_all`).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values are not masked: replacing every "ab" or "1" would mangle the text and, by showing
# where it occurs, tell more about the value than the text itself does.
MIN_LENGTH = 4


def encoded_forms(text: str) -> set[str]:
    """``text`` as it may appear once encoded: plain, JSON- and HTML-escaped, URL-encoded, base64
    (standard and URL-safe, with and without padding) and hex (both cases)."""
    raw = text.encode()
    forms = {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1], html.escape(text),
             html.escape(text, quote=False), quote(text, safe=""), quote(text), quote_plus(text),
             binascii.hexlify(raw).decode(), binascii.hexlify(raw).decode().upper()}
    for encoder in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encoder(raw).decode()
        forms.update({encoded, encoded.rstrip("=")})
    return {form for form in forms if len(form) >= MIN_LENGTH}


def secret_texts(value: Any) -> Iterator[str]:
    """Every string (and number, as written) inside a value, also inside objects and lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from secret_texts(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


class SecretValues:
    """The secret values met so far and one compiled pattern of all their encoded forms."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def remember(self, value: Any) -> None:
        """Mask ``value`` (a string, number, or every string and number inside an object or list) from now on."""
        forms = {form for text in secret_texts(value) if len(text) >= MIN_LENGTH for form in encoded_forms(text)}
        if forms - self._forms:
            with self._lock:
                self._forms |= forms
                ordered = sorted(self._forms, key=len, reverse=True)  # the longest form wins an overlap
                self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)

    def forget_all(self) -> None:
        with self._lock:
            self._forms, self._pattern = set(), None

    def scrub(self, text: str) -> str:
        """``text`` with every known secret, in any encoded form, replaced by ``***``."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def scrub_data(self, value: Any) -> Any:
        """A JSON-like value with every string (keys included) scrubbed; the same object when nothing changed."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(key) if isinstance(key, str) else key: self.scrub_data(item)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub_data(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool) and self.scrub(str(value)) != str(value):
            return MASK
        return value


SECRET_VALUES = SecretValues()
remember = SECRET_VALUES.remember
scrub = SECRET_VALUES.scrub
scrub_data = SECRET_VALUES.scrub_data
forget_all = SECRET_VALUES.forget_all
