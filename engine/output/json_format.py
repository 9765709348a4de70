"""``json``: the records as an Azure ``policyStates`` list page, ``{"value": [...]}``, written as they come.

Each record is serialised once, by orjson, indented as ``json.dumps(indent=2)`` indents it; a record orjson
would write differently from the json module (non-ASCII text, which the json module escapes as ``\\uXXXX``,
or an integer beyond 64 bits) is written by the json module, so the file is what it has always been.
"""

from __future__ import annotations

import json
from typing import IO, Any

import orjson

from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord

EMPTY = b'{\n  "value": []\n}\n'


def encode_record(document: dict[str, Any]) -> bytes:
    """A record's JSON document as the ``json`` format writes it (before its indentation inside the list)."""
    try:
        encoded = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(document, indent=2).encode()
    if not encoded.isascii() or b"\x7f" in encoded:  # what the json module escapes
        return json.dumps(document, indent=2).encode()
    return bytes(memoryview(encoded))  # exact size: orjson's buffer keeps KiBs of slack, and records wait in a sort


class JsonWriter:
    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.out = out
        self.written = False

    def add(self, record: OutputRecord) -> None:
        self.out.write(b",\n    " if self.written else b'{\n  "value": [\n    ')
        self.out.write(record.json.replace(b"\n", b"\n    "))
        self.written = True

    def finish(self) -> None:
        self.out.write(b"\n  ]\n}\n" if self.written else EMPTY)
