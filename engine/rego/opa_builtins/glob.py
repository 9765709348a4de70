"""OPA's ``glob.match`` (gobwas/glob): regorus fails character classes (``[0-9]``) once delimiters are given;
and ``glob.quote_meta`` (gobwas's QuoteMeta).

``*`` matches a run of characters other than the delimiters, ``**`` any run, ``?`` one
non-delimiter character, ``[a-z]`` / ``[!a-z]`` one character in or out of the class, ``{a,b}``
either pattern, ``\\`` escapes. An empty delimiter list means ``["."]``, ``null`` none.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand


@builtin("glob.match", 3)
def match(pattern: Any, delimiters: Any, text: Any) -> bool:
    pattern = operand("glob.match", 1, pattern, str)
    if delimiters is None:
        separators: tuple[str, ...] = ()
    else:
        separators = tuple(operand("glob.match", 2, delimiters, list)) or (".",)
        if not all(isinstance(separator, str) for separator in separators):
            raise BuiltinError("glob.match: operand 2 must be array of strings")
    return _compiled(pattern, separators).fullmatch(operand("glob.match", 3, text, str)) is not None


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str, separators: tuple[str, ...]) -> re.Pattern[str]:
    not_separator = f"[^{''.join(re.escape(separator) for separator in separators)}]" if separators else "."
    regex, position = _translate(pattern, 0, not_separator, in_alternative=False)
    if position != len(pattern):
        raise BuiltinError(f"glob.match: unexpected {pattern[position]!r} in {pattern!r}")
    return re.compile(regex, re.DOTALL)


def _translate(pattern: str, position: int, not_separator: str, in_alternative: bool) -> tuple[str, int]:
    out: list[str] = []
    while position < len(pattern):
        character = pattern[position]
        if in_alternative and character in ",}":
            break
        if character == "*":
            if pattern.startswith("**", position):
                out.append(".*")
                position += 2
            else:
                out.append(f"{not_separator}*")
                position += 1
        elif character == "?":
            out.append(not_separator)
            position += 1
        elif character == "[":
            end = pattern.find("]", position + 2)
            if end < 0:
                raise BuiltinError(f"glob.match: unexpected end of input in {pattern!r}")
            body = pattern[position + 1:end]
            negated = body.startswith("!")
            members = "".join(re.escape(part) if part != "-" else "-" for part in re.split(r"(-)", body[negated:]))
            out.append(f"[{'^' if negated else ''}{members}]")
            position = end + 1
        elif character == "{":
            options = []
            position += 1
            while True:
                option, position = _translate(pattern, position, not_separator, in_alternative=True)
                options.append(option)
                if position >= len(pattern):
                    raise BuiltinError(f"glob.match: unexpected end of input in {pattern!r}")
                if pattern[position] == "}":
                    position += 1
                    break
                position += 1  # ","
            out.append(f"(?:{'|'.join(options)})")
        elif character == "\\" and position + 1 < len(pattern):
            out.append(re.escape(pattern[position + 1]))
            position += 2
        else:
            out.append(re.escape(character))
            position += 1
    return "".join(out), position


@builtin("glob.quote_meta", 1)
def quote_meta(text: Any) -> str:
    """gobwas/glob's QuoteMeta: ``*?\\[]{}`` each escaped (regorus leaves ``[ ] { } ? \\`` as they are)."""
    return re.sub(r"([*?\\\[\]{}])", r"\\\1", operand("glob.quote_meta", 1, text, str))
