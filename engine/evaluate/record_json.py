"""A row's record as the ``json`` format writes it, put together from parts serialised once.

The records of a scan share most of their text: every record of a resource starts with the same resource
members, every record of an assignment's policy carries the same policy members, and a handful of compliance
states with the scan's one timestamp follow. :class:`RecordEncoder` serialises each such part once (by orjson,
as :func:`engine.output.json_format.encode_record` would within the whole record) and joins the parts; only
the reasons and what a record alone holds (exemption, details, remediation, error) are serialised per record.
A record whose text the parts cannot give (non-ASCII, which the ``json`` format escapes as the json module
does) or which may hold a secret is built whole and masked, as before.
"""

from __future__ import annotations

from typing import Any

import orjson

from engine.azure_policy.reasons import REASON_KEYS
from engine.evaluate.records import (
    COMPLIANT_STATES,
    POLICY_KEYS,
    ROW_KEYS,
    PolicyPart,
    ReasonRow,
    Row,
    record_document,
)
from engine.ids import normalize
from engine.models.results import ComplianceState
from engine.output.json_format import encode_record
from engine.output.redact import holds_secret_keys, redact_record
from engine.secret_values import any_remembered, mentioned_in

_INDENTED = orjson.OPT_INDENT_2
_TAIL_KEYS = ("exemptionId", "exemptionCategory", "details", "remediation", "error")
NO_REASONS = b'\n  "reasons": []'
_REASONS_OPEN, _REASONS_CLOSE = b'\n  "reasons": [', b"\n  ]"
REASONS_KEPT = 4096  # distinct reasons remembered (most repeat: the same missing extension), then forgotten
_CACHED_VALUES = frozenset({str, type(None)})  # reasons made of these alone are remembered
_REASON_CLOSE = b"\n    }"  # the end of a reason inside a record's reasons


def _members(values: dict[str, Any]) -> bytes | None:
    """Members of a record as they read inside it (``\\n  "key": value`` joined by commas), or None when the
    ``json`` format would write them with the json module (non-ASCII, DEL, out-of-range numbers)."""
    try:
        encoded = orjson.dumps(values, option=_INDENTED)
    except (orjson.JSONEncodeError, TypeError):
        return None
    if not encoded.isascii() or b"\x7f" in encoded:
        return None
    return encoded[1:-2]  # without the braces and the last newline


class RecordEncoder:
    """Rows turned into records' JSON (and sort keys), the parts records share serialised once per encoder."""

    def __init__(self, timestamp: str):
        self.timestamp = timestamp
        self._policies: dict[PolicyPart, tuple[bytes | None, str]] = {}
        self._states = {state: _members({"complianceState": state.value, "isCompliant": state in COMPLIANT_STATES,
                                          "timestamp": timestamp}) for state in ComplianceState}
        self._reasons: dict[ReasonRow, tuple[bytes | None, bool]] = {}  # reasons repeat across clusters
        # a reason's text up to its string ``actual`` (most reasons differ only there: the resource it names)
        self._heads: dict[tuple[Any, ...], tuple[bytes, bool]] = {}
        self._resource: tuple[Any, ...] = ()
        self._resource_parts: tuple[bytes | None, str] = (None, "")

    def encode(self, row: Row) -> tuple[tuple[str, str, str], bytes]:
        """The row's sort key (resource, assignment, reference id) and its record's JSON, secrets masked."""
        resource = row[:5]
        if resource != self._resource:
            self._resource = resource
            self._resource_parts = (_members({key: value for key, value in zip(ROW_KEYS, resource, strict=True)
                                              if value is not None}), normalize(row[0]))
        members, resource_key = self._resource_parts
        policy = row[5]
        known = self._policies.get(policy)
        if known is None:
            known = self._policies[policy] = (
                _members({key: value for key, value in zip(POLICY_KEYS, policy, strict=True) if value is not None}),
                normalize(policy[0]))
        policy_members, assignment_key = known
        reasons, reasons_secret = self._reason_members(row[7])
        key = (resource_key, assignment_key, policy[7] or "")
        tail = row[8:]
        if any(value is not None for value in tail):
            tail_members = _members({name: value for name, value in zip(_TAIL_KEYS, tail, strict=True)
                                     if value is not None})
            secret = reasons_secret or holds_secret_keys((), row[10], row[11])
        else:
            tail_members, secret = b"", reasons_secret
        state = self._states[row[6]]
        if members is None or policy_members is None or state is None or reasons is None or tail_members is None \
                or secret:
            return key, self._whole(row)
        encoded = b"".join((b"{", members, b",", policy_members, b",", state, b",", reasons,
                            b"," if tail_members else b"", tail_members, b"\n}"))
        if any_remembered() and mentioned_in(encoded.decode()):
            return key, self._whole(row)
        return key, encoded

    def _reason_members(self, reasons: tuple[ReasonRow, ...]) -> tuple[bytes | None, bool]:
        """The ``reasons`` member and whether it may hold a secret by a key's name."""
        if not reasons:
            return NO_REASONS, False
        parts, secret, known, heads = [], False, self._reasons, self._heads
        for reason in reasons:
            actual = reason[5]
            if type(actual) is str:
                try:
                    head = heads.get(reason[:5])
                    encoded = orjson.dumps(actual) if head is not None else b""
                except (TypeError, orjson.JSONEncodeError):  # a list or an object in the head, a lone surrogate
                    head = None
                if head is not None:
                    if not encoded.isascii() or b"\x7f" in encoded:
                        return None, False  # written by the json module, as _members says
                    parts.append(head[0] + encoded + _REASON_CLOSE)
                    secret = secret or head[1]
                    continue
            if _CACHED_VALUES.issuperset(map(type, reason)):
                found = known.get(reason)
                if found is None:
                    if len(known) >= REASONS_KEPT:
                        known.clear()
                    found = known[reason] = _reason_part(reason)
                    if type(actual) is str and found[0] is not None:
                        if len(heads) >= REASONS_KEPT:
                            heads.clear()
                        # what a string actual adds: its member, last (orjson keeps the order of REASON_KEYS)
                        heads[reason[:5]] = found[0][:-len(orjson.dumps(actual)) - len(_REASON_CLOSE)], found[1]
            else:  # (1 == 1.0 == True: a number or a container is written as it is, never taken for another)
                found = _reason_part(reason)
            if found[0] is None:
                return None, False
            parts.append(found[0])
            secret = secret or found[1]
        return b"".join((_REASONS_OPEN, b",".join(parts), _REASONS_CLOSE)), secret

    def _whole(self, row: Row) -> bytes:
        """The record built whole, masked when it needs to be (and written by the json module when orjson
        cannot write it as the json module would)."""
        document = record_document(row, self.timestamp)
        redacted = redact_record(document)
        return encode_record(redacted)


def _reason_part(reason: ReasonRow) -> tuple[bytes | None, bool]:
    """One reason as it reads inside a record's ``reasons`` (or None, as :func:`_members`), and whether it may
    hold a secret by a key's name (:func:`holds_secret_keys`)."""
    document = {key: value for key, value in zip(REASON_KEYS, reason, strict=True) if value is not None}
    encoded = _members({"reasons": [document]})
    part = None if encoded is None else encoded[len(_REASONS_OPEN):-len(_REASONS_CLOSE)]
    return part, holds_secret_keys(((reason[2], reason[4], reason[5]),), None, None)
