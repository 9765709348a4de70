"""``rego.metadata.rule()`` and ``rego.metadata.chain()`` for regorus, which lacks them: answered from METADATA.

OPA answers each call from the annotations of the rule it sits in (``scope: rule``, the block
right above the rule) and of its package (the block above ``package`` in any file of the
package). arcpolicy reads those blocks as it reads the package's (engine.rego.modules) and
writes the answer into the source in place of the call, as a JSON literal (the line keeps its
number). A module whose annotations use other scopes (``document``, ``subpackages``) or fields
OPA reshapes (``authors``, ``related_resources``, ``schemas``, ``organizations``) keeps its calls,
and the policy is reported not evaluated (engine.rego.references).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import yaml

from engine.rego.modules import RegoModule
from engine.rego.references import _code

_CALL = re.compile(r"(?<![\w.])rego\.metadata\.(rule|chain)[ \t]*\([ \t]*\)")
_HEAD = re.compile(r"^(?:default[ \t]+)?([A-Za-z_]\w*)", re.MULTILINE)
_FIELDS = frozenset({"title", "description", "custom", "scope", "entrypoint"})


def with_metadata_calls(modules: Sequence[RegoModule]) -> list[RegoModule]:
    """``modules`` with every supported ``rego.metadata.*()`` call replaced by OPA's answer."""
    packages = {module.package: _package_annotations(module) for module in modules if module.annotations}
    return [_rewritten(module, packages.get(module.package)) if _CALL.search(_code(module.source)) else module
            for module in modules]


def _package_annotations(module: RegoModule) -> dict[str, Any]:
    return {**module.annotations, "scope": module.annotations.get("scope", "package")}


def _rewritten(module: RegoModule, package: dict[str, Any] | None) -> RegoModule:
    code = _code(module.source)
    blocks = _rule_blocks(module.source)
    if blocks is None or (package is not None and not set(package) <= _FIELDS | {"scope"}) or (
            package is not None and package["scope"] != "package"):
        return module
    source = module.source
    for match in reversed(list(_CALL.finditer(code))):
        head = _enclosing_head(code, match.start())
        if head is None:
            return module
        line, name = head
        path = [*module.package.split("."), name]
        annotations = blocks.get(line)
        if match.group(1) == "rule":
            answer: Any = annotations or {}
        else:
            answer = [{"path": path, **({"annotations": annotations} if annotations else {})}]
            if package is not None:
                answer.append({"annotations": package, "path": path[:-1]})
        source = source[:match.start()] + json.dumps(answer, ensure_ascii=False, sort_keys=True) + source[match.end():]
    return replace(module, source=source)


def _rule_blocks(source: str) -> dict[int, dict[str, Any]] | None:
    """Rule-scope METADATA blocks by the line (0-based) of the rule they annotate; None if one is unsupported."""
    lines = source.splitlines()
    blocks: dict[int, dict[str, Any]] = {}
    index = 0
    while index < len(lines):
        if lines[index].strip() != "# METADATA":
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].lstrip().startswith("#"):
            end += 1
        if end < len(lines) and lines[end].startswith("package"):
            index = end
            continue
        try:
            parsed = yaml.safe_load("\n".join(line.lstrip()[2:] if line.lstrip().startswith("# ") else
                                              line.lstrip()[1:] for line in lines[index + 1:end])) or {}
        except yaml.YAMLError:
            return None
        if not isinstance(parsed, dict) or not set(parsed) <= _FIELDS or parsed.get("scope", "rule") != "rule":
            return None
        blocks[end] = {**parsed, "scope": "rule"}
        index = end
    return blocks


def _enclosing_head(code: str, offset: int) -> tuple[int, str] | None:
    """The (0-based line, name) of the rule whose head starts the last column-0 statement before ``offset``."""
    lines = code[:offset].split("\n")
    for number in range(len(lines) - 1, -1, -1):
        line = lines[number]
        if not line or line[0] in " \t}]):#" or line.startswith("else"):
            continue
        if line.startswith(("package", "import")):
            return None
        found = _HEAD.match(line)
        return (number, found.group(1)) if found else None
    return None
