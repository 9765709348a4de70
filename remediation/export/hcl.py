"""Writing HCL as ``terraform fmt`` leaves it: two-space indentation, the ``=`` of consecutive single-line
arguments aligned (a multi-line value ends the run and is not padded), one blank line between blocks; strings
escaped for HCL, their ``${`` and ``%{`` (template sequences) doubled so untrusted text stays literal."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
INDENT = "  "


@dataclass(frozen=True)
class Raw:
    """An expression written as is (a reference: ``var.x``, ``azapi_resource.a``)."""

    text: str


@dataclass
class Block:
    """``type "label" ... { arguments; nested blocks }``."""

    type: str
    labels: tuple[str, ...] = ()
    arguments: list[tuple[str, Any]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


def string(text: str) -> str:
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def key(name: str) -> str:
    return name if IDENTIFIER.match(name) else string(name)


def value(item: Any, depth: int) -> str:
    if isinstance(item, Raw):
        return item.text
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return json.dumps(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, list):
        parts = [value(element, depth + 1) for element in item]
        if all("\n" not in part for part in parts) and sum(len(part) + 2 for part in parts) < 100:
            return "[" + ", ".join(parts) + "]"
        inner = INDENT * (depth + 1)
        return "[\n" + "".join(f"{inner}{part},\n" for part in parts) + INDENT * depth + "]"
    if isinstance(item, dict):
        if not item:
            return "{}"
        return "{\n" + "\n".join(_arguments([(str(name), element) for name, element in item.items()], depth + 1,
                                            quote_keys=True)) + "\n" + INDENT * depth + "}"
    raise TypeError(f"no HCL form for {type(item).__name__}")


def _arguments(arguments: list[tuple[str, Any]], depth: int, *, quote_keys: bool = False) -> list[str]:
    """Argument lines, aligned as terraform fmt aligns them."""
    rendered = [(key(name) if quote_keys else name, value(item, depth)) for name, item in arguments]
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(name) for name, _ in run), default=0)
        lines.extend(f"{INDENT * depth}{name.ljust(width)} = {text}" for name, text in run)
        run.clear()

    for name, text in rendered:
        if "\n" in text:
            flush()
            lines.append(f"{INDENT * depth}{name} = {text}")
        else:
            run.append((name, text))
    flush()
    return lines


def block(item: Block, depth: int = 0) -> str:
    head = INDENT * depth + " ".join([item.type, *(string(label) for label in item.labels)])
    body = _arguments(item.arguments, depth + 1)
    for nested in item.blocks:
        if body:
            body.append("")
        body.append(block(nested, depth + 1))
    if not body:
        return head + " {}"
    return head + " {\n" + "\n".join(body) + "\n" + INDENT * depth + "}"


def document(blocks: list[Block]) -> str:
    return "\n\n".join(block(item) for item in blocks) + "\n"
