"""Snapshot source: every shape users have, NDJSON streaming, and every bad-input case."""

import json

import pytest

from engine.errors import InputError
from engine.inventory import Fleet, iter_snapshot, load_snapshot, write_snapshot
from engine.inventory.generator import generate_fleet

RESOURCES = list(generate_fleet(12, seed=5))


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("shape", ["list", "value", "data", "pretty-value", "pretty-data", "ndjson", "one-line-value"])
def test_every_shape_reads_the_same_resources(tmp_path, shape):
    documents = {
        "list": json.dumps(RESOURCES),
        "value": json.dumps({"value": RESOURCES}),
        "data": json.dumps({"totalRecords": len(RESOURCES), "count": len(RESOURCES), "data": RESOURCES}),
        "pretty-value": json.dumps({"nextLink": None, "value": RESOURCES}, indent=2),
        "pretty-data": json.dumps({"count": len(RESOURCES), "data": RESOURCES, "resultTruncated": "false"}, indent=4),
        "ndjson": "\n".join(json.dumps(resource) for resource in RESOURCES) + "\n",
        "one-line-value": json.dumps({"value": RESOURCES}) + "\n",
    }
    path = _write(tmp_path / "fleet.json", documents[shape])
    assert list(iter_snapshot(path)) == RESOURCES


def test_ndjson_is_streamed_one_resource_at_a_time(tmp_path):
    path = _write(tmp_path / "fleet.ndjson", "\n".join(json.dumps(resource) for resource in RESOURCES[:3])
                  + "\n{ this line is broken\n")
    stream = iter_snapshot(path)
    # the first resources arrive before the broken line is ever read
    assert next(stream)["id"] == RESOURCES[0]["id"]
    assert next(stream)["id"] == RESOURCES[1]["id"]
    assert next(stream)["id"] == RESOURCES[2]["id"]
    with pytest.raises(InputError) as raised:
        next(stream)
    assert "line 4" in str(raised.value)


def test_a_single_resource_per_line_ndjson_file_with_one_line(tmp_path):
    path = _write(tmp_path / "one.ndjson", json.dumps(RESOURCES[0]) + "\n")
    assert list(iter_snapshot(path)) == [RESOURCES[0]]


def test_write_snapshot_round_trips_in_both_formats(tmp_path):
    for name in ("out.json", "out.ndjson"):
        count = write_snapshot(tmp_path / name, iter(RESOURCES))
        assert count == len(RESOURCES)
        assert list(iter_snapshot(tmp_path / name)) == RESOURCES


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(RESOURCES).encode())
    assert len(list(iter_snapshot(path))) == len(RESOURCES)


@pytest.mark.parametrize(("content", "expected"), [
    ("", "empty file"),
    ("   \n  ", "empty file"),
    ("[{\"id\": 1,]", "line 1 column"),
    ("[\n  {\"id\": \"/subscriptions/s\", \"type\": \"x\"},\n  {oops}\n]", "line 3 column"),
    ("{\"value\": [\n {\"id\": \"/subscriptions/s\"\n", "malformed JSON"),
    ("{\"something\": []}", "no 'value' or 'data'"),
    ("{\n \"other\": 1\n}", "no 'value' or 'data'"),
    ("42", "expected a JSON list"),
    ("[42]", "resource 1: expected a resource object"),
    ("[{\"type\": \"Microsoft.Kubernetes/connectedClusters\", \"name\": \"c1\"}]", "resource 1: resource has no 'id' (name 'c1')"),
    ("[{\"id\": \"/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c\"}]",
     "has no 'type'"),
    ("[{\"id\": \"clusters/c1\", \"type\": \"t\"}]", "resource 1: malformed resource id"),
    ("{\"id\": \"/subscriptions/s\", \"type\": \"t\"}\n[1]\n", "line 2"),
])
def test_bad_input_is_one_line_naming_file_and_place(tmp_path, content, expected):
    path = _write(tmp_path / "bad.json", content)
    with pytest.raises(InputError) as raised:
        list(iter_snapshot(path))
    message = raised.value.one_line()
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_snapshot(tmp_path / "absent.json")
    with pytest.raises(InputError, match="is a directory"):
        load_snapshot(tmp_path)


def test_not_utf8_is_reported(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'[{"id": "/subscriptions/s", "type": "caf\xe9"}]')
    with pytest.raises(InputError):
        list(iter_snapshot(path))


def test_failed_write_leaves_the_previous_file_untouched(tmp_path):
    target = tmp_path / "fleet.json"
    write_snapshot(target, iter(RESOURCES))
    before = target.read_bytes()

    def exploding():
        yield RESOURCES[0]
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_snapshot(target, exploding())
    assert target.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fleet.json"]


def test_loaded_fleet_matches_resources(tmp_path):
    path = tmp_path / "fleet.json"
    write_snapshot(path, iter(RESOURCES))
    assert load_snapshot(path).summary() == Fleet(RESOURCES).summary()


def test_writing_to_a_device_or_pipe_writes_in_place(tmp_path):
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_snapshot(fifo, iter(RESOURCES[:2]))
    reader.join(timeout=10)
    assert fifo.exists() and not fifo.is_file()  # still a pipe, not replaced by a regular file
    assert json.loads(received[0]) == RESOURCES[:2]


BIG_NUMBER = "1" * 4301  # ijson's C parser crashed the process on it (segfault), the stdlib exited 3
BIG = '{"id": ' + json.dumps(RESOURCES[0]["id"]) + ', "type": "t", "n": ' + BIG_NUMBER + "}"  # a resource holding it
DEEP = "[" * 20_000 + "]" * 20_000  # 20 KB that cost ijson 1 GB (quadratic prefixes)
NESTED_70 = json.loads("[" * 70 + "]" * 70)


@pytest.mark.parametrize(("content", "place"), [
    (BIG + "\n", "line 1"),
    (json.dumps(RESOURCES[0]) + "\n" + BIG + "\n", "line 2"),
    ('{\n "value": [\n  ' + BIG + "\n ]\n}\n", "resource 1"),
    ("[" + json.dumps(RESOURCES[0]) + ", " + BIG + "]", "resource 2"),
    ('{"value": [' + DEEP + "]}", "resource 1"),
    ("[" + DEEP + "]", "resource 1"),
    (json.dumps([*RESOURCES[:2], {**RESOURCES[2], "properties": {"deep": NESTED_70}}]), "resource 3"),
    (json.dumps(RESOURCES[0]) + "\n" + json.dumps({**RESOURCES[1], "x": NESTED_70}), "line 2"),
    (json.dumps([RESOURCES[0], {**RESOURCES[1], "properties": "oops"}]), "resource 2"),
    (json.dumps([{**RESOURCES[0], "tags": ["a"]}]), "resource 1"),
], ids=["ndjson-number", "ndjson-number-line-2", "pretty-value-number", "list-number", "deep-value", "deep-list",
        "deep-resource", "deep-ndjson", "properties-string", "tags-list"])
def test_snapshots_over_bounds_or_out_of_shape_are_refused(tmp_path, content, place):
    path = _write(tmp_path / "fleet.json", content)
    with pytest.raises(InputError) as raised:
        list(iter_snapshot(path))
    assert raised.value.one_line().startswith(f"{path}: {place}")
    assert len(raised.value.one_line()) < 400


def test_brackets_and_digits_in_strings_are_read_exactly_and_nothing_twice(tmp_path):
    """The byte-level watch also counts brackets and digits inside strings; what it mistakes for too
    deep or too long is read again exactly, without yielding a resource twice."""
    tricky = [{**resource, "tags": {"note": "[" * 300, "serial": "7" * 200}} if index == 6 else resource
              for index, resource in enumerate(RESOURCES)]
    for document in (json.dumps(tricky), json.dumps({"value": tricky}, indent=1)):
        path = _write(tmp_path / "fleet.json", document)
        assert list(iter_snapshot(path)) == tricky


def test_scan_of_a_crashing_snapshot_exits_2_and_writes_nothing(tmp_path, capsys):
    from engine.cli.main import main

    path = _write(tmp_path / "fleet.json", '{\n "value": [' + BIG + "]\n}\n")
    out = tmp_path / "states.json"
    policy = _write(tmp_path / "policy.json", json.dumps({"properties": {"policyRule": {
        "if": {"field": "type", "equals": "x"}, "then": {"effect": "audit"}}}}))
    assert main(["scan", "-i", str(path), "-p", str(policy), "-o", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "fleet.json: resource 1: " in error[0]
    assert not out.exists()


def test_a_resource_id_read_twice_is_kept_once_the_later_one_with_a_warning_naming_both(tmp_path):
    cluster_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c1"
    extension_id = f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/flux"

    def cluster(status, id_=cluster_id):
        return {"id": id_, "name": "c1", "type": "Microsoft.Kubernetes/connectedClusters",
                "properties": {"distribution": "k3s", "connectivityStatus": status}}

    def flux(state):
        return {"id": extension_id, "name": "flux", "type": "Microsoft.KubernetesConfiguration/extensions",
                "properties": {"extensionType": "microsoft.flux", "provisioningState": state}}

    path = tmp_path / "fleet.json"
    path.write_text(json.dumps([cluster("Offline"), flux("Failed"), cluster("Connected", cluster_id.upper()),
                                flux("Succeeded")]))
    fleet = load_snapshot(path)
    summary = fleet.summary()
    assert (summary.clusters, summary.extensions) == (1, 1)
    assert summary.by_connectivity == {"Connected": 1} and summary.by_extension_state == {"Succeeded": 1}
    assert [extension["properties"]["provisioningState"] for extension in fleet.cluster(cluster_id).extensions] == [
        "Succeeded"]
    assert fleet.warnings == [
        f"{cluster_id.upper()} appears twice ({path}: resource 1 and {path}: resource 3); the later one is kept",
        f"{extension_id} appears twice ({path}: resource 2 and {path}: resource 4); the later one is kept"]


def test_inventory_prints_the_duplicate_warning(tmp_path, capsys):
    from engine.cli.main import main

    resource = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app", "name": "app",
                "type": "Microsoft.Web/sites"}
    path = tmp_path / "fleet.ndjson"
    path.write_text(json.dumps(resource) + "\n\n" + json.dumps(resource) + "\n")
    assert main(["inventory", "--inventory", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["otherResources"] == 1
    assert f"({path}: line 1 and {path}: line 3)" in captured.err
