"""The two case-insensitive comparisons Azure Policy makes: names (keys) and condition values.

- **Names** (ARM property names, tag names, alias paths, ``containsKey``): .NET's ``OrdinalIgnoreCase``. ARM
  treats names case-insensitively (docs "Naming rules and restrictions for Azure resources": "Always perform a
  case-insensitive comparison of names"); .NET's "Best practices for comparing strings" defines
  ``OrdinalIgnoreCase`` as equivalent to comparing ``ToUpperInvariant()`` of both sides ordinally: a simple,
  one-to-one upper-case mapping per character (``é`` matches ``É``; ``ß`` does not match ``SS``, its full
  upper-case form).
- **Condition values** (``equals``, ``in``, ``contains``, ``like``, ``less`` ... and ``matchInsensitively``'s
  text): docs "policy rule", conditions: "String comparisons are made using ``InvariantCultureIgnoreCase``"
  (``match``/``notMatch`` alone are case-sensitive). The invariant culture treats canonically and
  compatibility-equivalent text as equal (the .NET page's example: ``a`` + combining ring equals ``å``) and
  ignores case in full (``Straße`` equals ``STRASSE``, ``ﬃ`` equals ``FFI``, the Greek final, small and
  capital sigma are one letter): arcpolicy compares NFKC-normalized, Unicode case-folded text (Python's ``str.casefold``). Ordering
  (``less``, ``greater`` ...) compares folded text by code point, which agrees with the invariant culture's
  order on the letters, digits and ``-.:`` of names, versions and dates that policies order, not on every
  punctuation mark.
"""

from __future__ import annotations

import unicodedata


def value_key(text: str) -> str:
    """``text`` as condition values compare (``InvariantCultureIgnoreCase``): NFKC, then case-folded."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).casefold()


def name_key(name: str) -> str:
    """``name`` as names compare (``OrdinalIgnoreCase``): each character's simple upper-case mapping."""
    if name.isascii():
        return name.upper()
    return "".join(upper if len(upper := character.upper()) == 1 else character for character in name)
