"""The step parser of the library: sentences with ``"{name}"``, ``{count:d}`` and ``{word}`` slots.

A quoted slot matches any text without a double quote, so ``"a" is exempt from "b" of "c"``
can never be read as ``"a" is exempt from "b\\" of \\"c"`` by a shorter sentence; ``{count:d}``
is a whole number, and a bare ``{words}`` slot any unquoted words (``non-compliant``).
"""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd.parsers import StepParser

_SLOT = re.compile(r'"\{(\w+)\}"|\{(\w+):d\}|\{(\w+)\}')


class Sentence(StepParser):
    """A step sentence; slots become named arguments (``:d`` slots as ints)."""

    def __init__(self, template: str, pattern: str | None = None) -> None:
        """``template`` is the sentence as documented; ``pattern`` a regular expression that
        replaces the one made from it (for the few sentences with lists in them)."""
        super().__init__(template)
        self.integers: set[str] = set()
        if pattern is not None:
            self.regex = re.compile(pattern)
            return
        pattern, position = [], 0
        for match in _SLOT.finditer(template):
            pattern.append(re.escape(template[position:match.start()]))
            quoted, integer, word = match.groups()
            if quoted:
                pattern.append(f'"(?P<{quoted}>[^"]*)"')
            elif integer:
                self.integers.add(integer)
                pattern.append(rf"(?P<{integer}>-?\d+)")
            else:
                pattern.append(f'(?P<{word}>[^"]+?)')
            position = match.end()
        pattern.append(re.escape(template[position:]))
        self.regex = re.compile("".join(pattern))

    def parse_arguments(self, name: str) -> dict[str, Any] | None:
        match = self.regex.fullmatch(name)
        if match is None:
            return None
        return {key: int(value) if key in self.integers else value for key, value in match.groupdict().items()}

    def is_matching(self, name: str) -> bool:
        return self.regex.fullmatch(name) is not None
