"""Rego source files as arcpolicy sees them: package, METADATA annotations and rule names.

regopy compiles Rego but exposes no AST, so the few facts the library needs before compiling
(which package a file declares, whether it defines ``violation``, ``applicable`` or ``test_*``
rules, and its METADATA block) are read from the source text here. Rules are recognised by
their head at the start of a line, which is how ``opa fmt`` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.builtin_policies import resolve_builtin
from engine.errors import InputError

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*$", re.MULTILINE)
_ANY_PACKAGE = re.compile(r"^package\s+(\S.*)$", re.MULTILINE)
_RULE_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)\b", re.MULTILINE)
_KEYWORDS = frozenset({"package", "import", "default", "some", "every", "not", "with", "else", "if",
                       "contains", "in", "as"})
TEST_FILE_SUFFIX = "_test.rego"


@dataclass(frozen=True)
class RegoModule:
    """One ``.rego`` file: its source, package path and the rule names it defines."""

    path: Path
    source: str
    package: str
    rules: frozenset[str]
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The module name given to the compiler: the file path, so errors name the file."""
        return str(self.path)

    @property
    def is_test(self) -> bool:
        return self.path.name.endswith(TEST_FILE_SUFFIX)

    @property
    def test_rules(self) -> list[str]:
        return sorted(rule for rule in self.rules if rule.startswith("test_"))


def discover(paths: Iterable[str | Path], include_tests: bool = False) -> list[Path]:
    """Every ``.rego`` file under ``paths`` (files or directories), sorted for a stable order."""
    found: list[Path] = []
    for given in paths:
        path = resolve_builtin(given)
        if path.is_dir():
            found.extend(sorted(path.rglob("*.rego")))
        elif path.is_file() and path.suffix == ".rego":
            found.append(path)
        elif not path.exists():
            raise InputError(str(path), "no such file or directory")
    return [path for path in found if include_tests or not path.name.endswith(TEST_FILE_SUFFIX)]


def read_module(path: Path) -> RegoModule:
    """Read one Rego file; a missing or malformed package line is bad input."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(str(path), f"cannot read Rego file: {error}") from None
    match = _PACKAGE.search(source)
    if match is None:
        declared = _ANY_PACKAGE.search(source)
        if declared is not None:
            line = source.count("\n", 0, declared.start()) + 1
            raise InputError(str(path), "package path must be dotted identifiers (e.g. arcpolicy.my_policy)",
                             location=f"line {line}", value=declared.group(1))
        raise InputError(str(path), "no package declaration", location="line 1")
    body = source[match.end():]
    rules = frozenset(name for name in _RULE_HEAD.findall(body) if name not in _KEYWORDS)
    return RegoModule(path, source, match.group(1), rules, _package_annotations(source, match.start(), path))


def read_modules(paths: Iterable[Path]) -> Iterator[RegoModule]:
    for path in paths:
        yield read_module(path)


def _package_annotations(source: str, package_offset: int, path: Path) -> dict[str, Any]:
    """The ``# METADATA`` comment block right above the package line (OPA's package scope)."""
    lines = source[:package_offset].splitlines()
    block: list[str] = []
    for line in reversed(lines):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        block.append(stripped)
    block.reverse()
    starts = [index for index, line in enumerate(block) if line.rstrip() == "# METADATA"]
    if not starts:
        return {}
    yaml_text = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in block[starts[-1] + 1:])
    try:
        parsed = yaml.safe_load(yaml_text) or {}
    except yaml.YAMLError as error:
        line = source.count("\n", 0, package_offset) - len(block) + starts[-1] + 2
        raise InputError(str(path), f"METADATA block is not valid YAML: {error.problem}",
                         location=f"line {line}") from None
    if not isinstance(parsed, dict):
        raise InputError(str(path), "METADATA block must be a YAML mapping")
    return parsed
