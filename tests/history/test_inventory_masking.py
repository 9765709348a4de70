"""The stored inventory masks in the JSON text what walking the group masks: the same bytes, whatever the group
(secret-looking keys at any depth and case, empty and non-empty values, escapes, non-ASCII names, values secret
by their origin)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.history.inventory import _masked_text, stored_group
from engine.output.redact import blank_secrets
from engine.secret_values import SECRET_VALUES, scrub_data

# Mostly what the text masking handles; now and then what sends a group to the walk (an escape, non-ASCII).
COMMON_KEYS = ["name", "configurationProtectedSettings", "logAnalytics.key", "Token", "apiKey", "enableSecretRotation",
               "monkey", "settings", "keyVault", "passwordHint", "tags", "note"]
KEYS = st.sampled_from(COMMON_KEYS * 3 + ["\u017fecret", "a\"b"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(["", "v", "true", "hunter2-origin"] * 4 + ["a\\b", "é"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
GROUPS = st.lists(st.dictionaries(KEYS, VALUES, max_size=5), min_size=1, max_size=3)


def walked(group: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(scrub_data(blank_secrets(group)))


def stored(group: list[dict[str, Any]], spaced: bool = False) -> bytes:
    """The group stored from its resources' JSON: compact (orjson, as the fleet holds it), or with JSON's
    whitespace around every colon and comma (as an NDJSON line may be, kept as read)."""
    if spaced:
        return stored_group([json.dumps(resource, separators=(" , ", " : "), ensure_ascii=False).encode()
                             for resource in group])
    return stored_group([orjson.dumps(resource) for resource in group])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(GROUPS, st.booleans())
def test_masking_the_text_gives_what_walking_the_group_gives(group: list[dict[str, Any]], spaced: bool) -> None:
    SECRET_VALUES.remember("hunter2-origin")
    try:
        assert orjson.loads(stored(group, spaced)) == orjson.loads(walked(group))  # the same values, masked
        if not spaced:
            assert stored(group) == walked(group)  # and the same bytes
    finally:
        SECRET_VALUES.forget_all()


def test_simple_secrets_are_masked_in_the_text() -> None:
    group = [{"id": "/x", "properties": {"configurationProtectedSettings": {"logAnalytics.key": "", "b": "s3cret"},
                                        "configurationSettings": {"enableSecretRotation": "true", "n": 1}}}]
    assert _masked_text(orjson.dumps(group)) is not None  # in the text: the group is not walked
    kept = orjson.loads(stored(group))
    assert kept[0]["properties"] == {"configurationProtectedSettings": {"b": "***", "logAnalytics.key": ""},
                                       "configurationSettings": {"enableSecretRotation": "***", "n": 1}}


def test_a_group_the_scan_before_kept_is_masked_again_when_a_value_became_secret(tmp_path) -> None:
    """Recording reuses the blob of a group whose bytes it already holds, but not when one of its values is now
    known to be secret by its origin: then the group is masked and stored anew."""
    from engine.history import HistoryStore, ScanMetadata
    from engine.inventory import Fleet

    cluster = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c1",
               "type": "Microsoft.Kubernetes/connectedClusters", "name": "c1", "location": "westeurope",
               "tags": {"note": "rotated-value-1234"}}
    with HistoryStore(str(tmp_path / "history.db")) as store:
        store.record_scan(ScanMetadata(scan_id="a"), [], Fleet([cluster]))
        store.record_scan(ScanMetadata(scan_id="b"), [], Fleet([cluster]))
        SECRET_VALUES.remember("rotated-value-1234")
        try:
            store.record_scan(ScanMetadata(scan_id="c"), [], Fleet([cluster]))
        finally:
            SECRET_VALUES.forget_all()
        tags = {scan: next(store.inventory(scan).resources())["tags"] for scan in "abc"}
    assert tags == {"a": {"note": "rotated-value-1234"}, "b": {"note": "rotated-value-1234"}, "c": {"note": "***"}}
