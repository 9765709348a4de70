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

import orjson

MASK = "***"
# Shorter values are not masked: replacing every "ab" or "1" would mangle the text and, by showing
# where it occurs, tell more about the value than the text itself does.
MIN_LENGTH = 4
PENDING = 16  # forms compiled again whenever one is added
MERGED = 4096  # frozen patterns are merged up to this many forms


def encoded_forms(text: str) -> set[str]:
    """``text`` as it may appear once encoded: plain, JSON- and HTML-escaped, URL-encoded, base64
    (standard and URL-safe, with and without padding) and hex (both cases)."""
    raw = text.encode()
    forms = {text, text.lower(), text.upper(), json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1], html.escape(text),
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
    """The encoded forms of the secret values met so far, matched by compiled patterns.

    Each pattern is a trie-shaped regex (a scan costs about the same however many forms it holds).
    Patterns compile when text is next scrubbed. New forms wait in a small pending pattern; full ones
    are frozen and merged like a binary counter (two frozen patterns of one size become one of twice
    the size), so remembering thousands of distinct secrets costs a few compilations per form and a
    scan tries a few dozen patterns at most.
    """

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._frozen: list[tuple[list[str], re.Pattern[str]]] = []
        self._pending: list[str] = []
        self._patterns: list[re.Pattern[str]] = []
        self._stale = False
        self._lock = threading.Lock()

    def remember(self, value: Any) -> None:
        """Mask ``value`` (a string, number, or every string and number inside an object or list) from now on."""
        forms = {form for text in secret_texts(value) if len(text) >= MIN_LENGTH for form in encoded_forms(text)}
        if forms <= self._known:
            return
        with self._lock:
            fresh = sorted(forms - self._known)
            self._known.update(fresh)
            self._pending.extend(fresh)
            self._stale = True

    def forget_all(self) -> None:
        with self._lock:
            self._known, self._frozen, self._pending, self._patterns, self._stale = set(), [], [], [], False

    def _compiled(self) -> list[re.Pattern[str]]:
        """The patterns, compiled when text is scrubbed: many values remembered at once (an inventory's)
        compile once, in patterns of :data:`MERGED` forms; a few at a time go through the binary counter."""
        if self._stale:
            with self._lock:
                while len(self._pending) >= PENDING:
                    size = MERGED if len(self._pending) >= MERGED else PENDING
                    self._freeze(self._pending[:size])
                    self._pending = self._pending[size:]
                pending = [_pattern(self._pending)] if self._pending else []
                self._patterns = [pattern for _, pattern in self._frozen] + pending
                self._stale = False
        return self._patterns

    def _freeze(self, forms: list[str]) -> None:
        while self._frozen and len(self._frozen[-1][0]) == len(forms) and len(forms) < MERGED:
            forms = self._frozen.pop()[0] + forms
        self._frozen.append((forms, _pattern(forms)))

    def scrub(self, text: str) -> str:
        """``text`` with every known secret, in any encoded form, replaced by ``***``."""
        for pattern in self._compiled():
            text = pattern.sub(MASK, text)
        return text

    def any_remembered(self) -> bool:
        return bool(self._known)

    def mentioned_in(self, text: str) -> bool:
        """Whether ``text`` holds a secret value (in any of its forms): one search per pattern."""
        return any(pattern.search(text) for pattern in self._compiled())

    def scrub_data(self, value: Any) -> Any:
        """A JSON-like value with every string (keys included) scrubbed; the same object when nothing changed."""
        patterns = self._compiled()
        if not patterns:
            return value
        text = _text_of(value)
        if not any(pattern.search(text) for pattern in patterns):
            return value  # one search over the whole value: most records hold no secret
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(key) if isinstance(key, str) else key: self.scrub_data(item)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub_data(item) for item in value]
        return MASK if isinstance(value, int | float) and not isinstance(value, bool) else value


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # an integer past 64 bits (a policy parameter read by the json module)
        return json.dumps(value, default=str, ensure_ascii=False)


def _pattern(forms: list[str]) -> re.Pattern[str]:
    """One regex matching any of ``forms``, longest first, shaped as their trie."""
    try:
        return re.compile(_trie_regex(forms))
    except (RecursionError, re.error):  # nesting too deep for the regex compiler: a flat alternation
        return re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))))


def _trie_regex(forms: list[str]) -> str:
    root: dict[str, Any] = {}
    for form in forms:
        node = root
        for character in form:
            node = node.setdefault(character, {})
        node[""] = {}  # a form ends here

    def render(node: dict[str, Any]) -> str:
        branches = []
        for character in sorted(key for key in node if key):
            literal, child = re.escape(character), node[character]
            while len(child) == 1 and "" not in child:  # a chain of single characters: one literal
                (following, child), = child.items()
                literal += re.escape(following)
            branches.append(literal + render(child))
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 and "" not in node else f"(?:{'|'.join(branches)})"
        return group + "?" if "" in node else group  # greedy: the longest form matching here wins

    return render(root)


SECRET_VALUES = SecretValues()
remember = SECRET_VALUES.remember
scrub = SECRET_VALUES.scrub
scrub_data = SECRET_VALUES.scrub_data
mentioned_in = SECRET_VALUES.mentioned_in
any_remembered = SECRET_VALUES.any_remembered
forget_all = SECRET_VALUES.forget_all
