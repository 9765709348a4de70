"""OPA's built-ins on the default engine, judged by the real OPA: what regorus lacks or answers otherwise.

Each case is a policy evaluated through arcpolicy's default path (``RegoLibrary`` on regorus)
and through the real OPA on the same input; where regorus cannot give OPA's answer, the policy's
load warns (engine.rego.divergences) and the test shows OPA and regorus really differ there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from rego.opa_oracle import UNDEFINED, OpaError, OpaOracle
from rego_fixtures import cluster, extension

from engine.cli.main import main
from engine.inventory import Fleet
from engine.inventory.generator import write_generated_fleet
from engine.rego import RegoLibrary
from engine.rego.compile_checks import OPA_ARITIES
from engine.rego.divergences import DIFFERING_BUILTINS
from engine.rego.engines import RegoRuntimeError
from engine.rego.library import policy_input
from engine.rego.opa_builtins import BUILTINS, NOT_PROVIDED, OVERRIDDEN
from engine.rego.regorus_engine import RegorusEngine, regorus_builtin

OPA_BUILTINS: dict[str, int] = OPA_ARITIES


def test_every_opa_builtin_is_regorus_s_provided_by_arcpolicy_or_reported() -> None:
    covered = {name for name in OPA_BUILTINS if regorus_builtin(name)}
    assert set(OPA_BUILTINS) - covered == NOT_PROVIDED
    assert {"crypto.sha256", "crypto.md5", "crypto.sha1", "crypto.hmac.sha256", "array.flatten"} <= set(BUILTINS)
    assert set(OPA_BUILTINS) >= NOT_PROVIDED


def test_the_builtin_list_is_opas_own() -> None:
    """Each listed name is a function the real OPA knows (a wrong arity or argument type, not an unknown name)."""
    source = "package names\n\n" + "".join(
        f"f{number} := {name}({', '.join(['input.x'] * arity)})\n" for number, (name, arity) in
        enumerate(OPA_BUILTINS.items()) if name != "print")  # print() has no value
    with OpaOracle([("names.rego", source)]) as opa:
        assert opa.query("true") == [{}]


POLICY = """package probe

sha256 := crypto.sha256(input.text)
md5 := crypto.md5(input.text)
sha1 := crypto.sha1(input.text)
hmac := crypto.hmac.sha256(input.text, "key")
hmac_equal := crypto.hmac.equal(crypto.hmac.sha512(input.text, "k"), crypto.hmac.sha512(input.text, "k"))
flat := array.flatten([1, [2, [3, [input.text]]], []])
upper_text := upper(input.text)
lower_text := lower(input.text)
marshalled := json.marshal({"text": input.text, "n": [1, 2.5], "set": {"b", "a"}, "null": null})
decoded := base64.decode(input.encoded)
formatted := sprintf("%s|%v|%d|%.1f|%5.2f|%x|%q|%v", [input.text, input.number, input.number, input.number, input.number, input.number, input.text, input.items])
"""
RULES = ["sha256", "md5", "sha1", "hmac", "hmac_equal", "flat", "upper_text", "lower_text", "marshalled", "decoded",
         "formatted"]
INPUTS = [
    {"text": "gießen <a & b>", "number": 60, "encoded": "/w==", "items": [1, "a", None]},
    {"text": "İstanbul ǅ ﬀ ᾳ", "number": 2.5, "encoded": "4oI=", "items": {"k": True}},
    {"text": "plain ascii", "number": -1, "encoded": "aGk=", "items": []},
    {"text": "🚀 launch pad", "number": 12345678901234567890, "encoded": "7aCA", "items": [0.1]},
    {"text": "x", "number": 1e-7, "encoded": "not base64!", "items": [1.5]},
    {"text": 5, "number": "60", "encoded": 1, "items": None},
]


@contextmanager
def loaded_beside_opa(folder: Path, name: str, source: str) -> Iterator[tuple[RegoLibrary, OpaOracle]]:
    """``source`` (file ``name`` in ``folder``) loaded on the default path, without diagnostics, and in the real OPA."""
    (folder / name).write_text(source)
    library = RegoLibrary.load([folder])
    assert not library.diagnostics
    with OpaOracle([(name, source)]) as opa:
        yield library, opa


def _ours(library: RegoLibrary, path: str, document: dict[str, Any]) -> Any:
    """The document at ``path`` (``package/rule``) on the default path; a built-in's error as an OpaError."""
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    try:
        return engine._evaluate(json.dumps(document), path)
    except RegoRuntimeError as error:  # the interpreter raises built-in errors strictly
        return OpaError(str(error))


@pytest.mark.parametrize("document", INPUTS, ids=lambda document: str(document["text"])[:12])
def test_builtins_answer_as_opa(tmp_path: Path, document: dict[str, Any]) -> None:
    (tmp_path / "probe.rego").write_text(POLICY)
    library = RegoLibrary.load([tmp_path])
    with OpaOracle([("probe.rego", POLICY)]) as opa:
        for rule in RULES:
            expected = opa.documents(f"probe.{rule}", [document])[0]
            ours = _ours(library, f"probe/{rule}", document)
            if isinstance(expected, OpaError):
                assert expected.builtin and isinstance(ours, OpaError), (rule, expected, ours)
            else:
                assert ours == expected, (rule, document)


def test_a_package_calling_an_overridden_builtin_is_answered_by_the_interpreter(tmp_path: Path) -> None:
    (tmp_path / "fmt.rego").write_text('package fmt\n\nviolation contains {"msg": sprintf("%d of %.1f", [count(input.extensions), 60])} if true\n')
    (tmp_path / "plain.rego").write_text('package plain\n\nviolation contains {"msg": concat(" ", ["x", upper(input.resource.name)])} if true\n')
    library = RegoLibrary.load([tmp_path])
    assert "sprintf" in OVERRIDDEN
    assert isinstance(library.engine, RegorusEngine) and library.engine.vm_packages == [1]  # plain, not fmt
    assert [violation.msg for violation in library.evaluate(cluster())["fmt"].violations] == ["0 of %!f(int64=60)"]


@pytest.mark.parametrize("call", ["numbers.range(0, 100000000000000)", "numbers.range_step(0, 10, -2)",
                                  "numbers.range_step(0, 10, 0)", 'net.cidr_expand("0.0.0.0/0")'])
def test_a_range_regorus_cannot_build_is_an_error_not_a_crash(tmp_path: Path, capfd, call: str) -> None:
    """regorus reserves a range before filling it: its VM panics on a step at or below zero, and a wide range
    aborted the process on the failed allocation; its ``net.cidr_expand("0.0.0.0/0")`` grew by gigabytes (OPA runs
    out of memory on both). arcpolicy's refuse them."""
    (tmp_path / "r.rego").write_text(f'package r\n\nviolation contains {{"msg": "n"}} if count({call}) > 0\n')
    library = RegoLibrary.load([tmp_path])
    with pytest.raises(RegoRuntimeError, match=r"more than 1,0[0-9,]+ (numbers|addresses)|step must be a positive integer"):
        library.engine.results({}, shared=True)
    assert "panicked" not in capfd.readouterr().err


def test_non_ascii_input_leaves_the_vm_for_case_mapping(tmp_path: Path) -> None:
    (tmp_path / "city.rego").write_text('package city\n\nviolation contains {"msg": upper(input.resource.tags.city)} if true\n')
    library = RegoLibrary.load([tmp_path])
    assert isinstance(library.engine, RegorusEngine) and library.engine.vm_packages == [0]
    ascii_city, german_city = cluster(), cluster()
    ascii_city.resource["tags"]["city"] = "berlin"
    german_city.resource["tags"]["city"] = "gießen"
    assert [library.evaluate(each)["city"].violations[0].msg for each in (ascii_city, german_city)] == [
        "BERLIN", "GIEßEN"]
    with OpaOracle([("city.rego", (tmp_path / "city.rego").read_text())]) as opa:
        assert opa.document("city.violation", policy_input(german_city)) == [{"msg": "GIEßEN"}]


def test_a_missing_builtin_skips_that_policy_only_and_names_the_engines_that_have_it(tmp_path: Path) -> None:
    (tmp_path / "template.rego").write_text(
        'package template\n\nviolation contains {"msg": "text"} if strings.render_template(input.text, {})\n')
    (tmp_path / "ok.rego").write_text('package ok\n\nviolation contains {"msg": crypto.sha256("x")} if true\n')
    library = RegoLibrary.load([tmp_path])
    assert [policy.package for policy in library.policies] == ["ok"]
    [problem] = library.diagnostics
    assert problem.file.endswith("template.rego") and problem.line == 3
    assert problem.message == ("strings.render_template is a built-in of OPA that this Rego engine lacks, so this policy is "
                               "not evaluated (opa has it: --rego-engine)")
    assert library.evaluate(cluster())["ok"].violations[0].msg == (
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")


NEGATED = """package negated

not_valid if not semver.is_valid(input.version)

not_member if not lower(input.name) in {"a"}

not_key if not "k" in object.keys(input.labels)
"""
WITH_UNION = """package withunion

import data.withunion.lib

as_prod := object.union(lib.tags, {"environment": "production"})

merged := tags if {
	tags := lib.tags with input.resource.tags as as_prod
}
"""
WITH_LIB = "package withunion.lib\n\ntags := input.resource.tags\n"
ASTRAL = 'package astral\n\nlength := count("🚀 launch pad")\n'


@pytest.mark.parametrize(("files", "rule", "document", "opa_answer", "warning"), [
    ({"negated.rego": NEGATED}, "negated.not_valid", {}, UNDEFINED, (3, "`not semver.is_valid(input.version)`")),
    ({"negated.rego": NEGATED}, "negated.not_member", {"name": None}, "error", (5, "`not lower(input.name) in {\"a\"}`")),
    ({"negated.rego": NEGATED}, "negated.not_key", {"labels": None}, "error",
     (7, "`not \"k\" in object.keys(input.labels)`")),
    ({"withunion.rego": WITH_UNION, "lib.rego": WITH_LIB}, "withunion.merged",
     {"resource": {"tags": {"environment": "dev", "team": "a"}}}, {"environment": "production", "team": "a"},
     (8, "`with ... as as_prod`")),
    ({"astral.rego": ASTRAL}, "astral.length", {}, 12, (3, "a character beyond U+FFFF")),
], ids=["not-undefined-argument", "not-lower-null-in", "not-key-in-keys-null", "with-union-of-same-rule",
        "count-astral"])
def test_where_regorus_differs_the_load_warns_with_the_place(tmp_path: Path, files: dict[str, str], rule: str,
                                                             document: dict[str, Any], opa_answer: Any,
                                                             warning: tuple[int, str]) -> None:
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    library = RegoLibrary.load([tmp_path])
    line, text = warning
    assert any(found.line == line and text in found.message for found in library.warnings), library.warnings
    with OpaOracle([(name, source) for name, source in files.items()]) as opa:
        answer = opa.documents(rule, [document])[0]
    if opa_answer == "error":  # OPA's default makes the failing built-in undefined: the rule is undefined
        assert isinstance(answer, OpaError) and answer.builtin
    else:
        assert answer == opa_answer
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    regorus = engine._interpreter
    regorus.set_input_json(json.dumps(document))
    try:
        ours = json.loads(regorus.eval_rule_as_json(f"data.{rule}"))
    except RuntimeError:
        ours = "error"
    assert ours != (UNDEFINED if opa_answer == "error" else opa_answer)  # a real difference, hence the warning


GLOBS = [("rg-*-*-[0-9][0-9]", ["-"], "rg-research-northeurope-05"), ("[0-9][0-9]", ["-"], "05"), ("*-[0-9]", ["-"], "x-5"),
         ("a*", None, "a.b"), ("a*", [], "a.b"), ("a**", [], "a.b.c"), ("*.github.com", [], "a.b.github.com"),
         ("{a,b}*", [], "bcd"), ("[!a]x", [], "ax"), ("?at", ["c"], "cat"), ("a\\*b", [], "a*b"), ("*:*", [":"], "a:b"),
         ("a{b,c{d,e}}", [], "ace"), ("*", [], "")]


def test_glob_match_answers_as_opa(tmp_path: Path) -> None:
    """regorus's glob.match fails character classes once delimiters are given (`[0-9]`): OPA's gobwas semantics."""
    source = "package globs\n\n" + "".join(f"g{number} := glob.match({json.dumps(pattern)}, {json.dumps(delimiters)}, "
                                           f"{json.dumps(text)})\n"
                                           for number, (pattern, delimiters, text) in enumerate(GLOBS))
    (tmp_path / "globs.rego").write_text(source)
    library = RegoLibrary.load([tmp_path])
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    with OpaOracle([("globs.rego", source)]) as opa:
        expected = [opa.document(f"globs.g{number}") for number in range(len(GLOBS))]
    assert [engine._evaluate("{}", f"globs/g{number}") for number in range(len(GLOBS))] == expected
    assert expected[:3] == [True, True, True] and "glob.match" in OVERRIDDEN


METADATA_POLICY = """# METADATA
# title: Retired types are absent
# custom:
#   effect: audit
package meta.retired

# METADATA
# title: Retired type found
# description: an extension of a retired type runs
# custom:
#   severity: high
violation contains {"msg": rule.title, "severity": rule.custom.severity, "chain": rego.metadata.chain()} if {
	rule := rego.metadata.rule()
	some extension in input.extensions
	extension.properties.extensionType == "microsoft.openservicemesh"
}

plain := rego.metadata.chain()

bare := rego.metadata.rule()
"""


def test_rego_metadata_rule_and_chain_answer_as_opa(tmp_path: Path) -> None:
    (tmp_path / "retired.rego").write_text(METADATA_POLICY)
    library = RegoLibrary.load([tmp_path])
    assert not library.diagnostics and [policy.title for policy in library.policies] == ["Retired types are absent"]
    document = policy_input(cluster(extension("osm", "microsoft.openservicemesh")))
    with OpaOracle([("retired.rego", METADATA_POLICY)]) as opa:
        expected = {rule: opa.document(f"meta.retired.{rule}", document) for rule in ("violation", "plain", "bare")}
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    ours = {rule: engine._evaluate(json.dumps(document), f"meta/retired/{rule}") for rule in ("violation", "plain", "bare")}
    assert ours == expected
    assert expected["violation"][0]["severity"] == "high" and expected["bare"] == {}


def test_rego_metadata_with_annotations_opa_reshapes_is_reported(tmp_path: Path) -> None:
    (tmp_path / "authors.rego").write_text("package meta.authors\n\n# METADATA\n# authors:\n# - Jane <jane@example.com>\n"
                                           "violation contains {\"msg\": \"x\", \"m\": rego.metadata.rule()} if true\n")
    library = RegoLibrary.load([tmp_path])
    [problem] = library.diagnostics
    assert problem.message.startswith("rego.metadata.rule is a built-in of OPA that this Rego engine lacks")


SCANNED = {
    "template.rego": 'package template\n\nviolation contains {"msg": "text"} if '
                     "strings.render_template(input.resource.tags.text, {})\n",
    "negated.rego": 'package negated\n\nviolation contains {"msg": "agent version is not semver"} if '
                    "not semver.is_valid(input.resource.properties.agentVersion)\n",
    "many.rego": 'package many\n\nviolation contains {"msg": sprintf("%d extensions, %.1f per type", [n, n / count('
                 '{e.properties.extensionType | some e in input.extensions})])} if {\n\tn := count(input.extensions)\n'
                 "\tn > 2\n}\n",
}


def test_a_scan_runs_every_policy_but_the_one_a_builtin_is_missing_for_and_says_each_once(tmp_path: Path,
                                                                                          capsys) -> None:
    """`arcpolicy scan` (issue 20 found it exiting 2 with no record): the policy calling a built-in no extension
    provides is skipped with one line, the one whose construct regorus answers otherwise warns once with its
    place, and every other record is OPA's verdict."""
    policies = tmp_path / "policies"
    policies.mkdir()
    for name, source in SCANNED.items():
        (policies / name).write_text(source)
    fleet_file = tmp_path / "fleet.json"
    write_generated_fleet(fleet_file, 40, seed=5)
    output = tmp_path / "records.json"
    assert main(["scan", "-i", str(fleet_file), "--policy", str(policies), "--format", "json", "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert err.count(f"{policies / 'template.rego'}:3: strings.render_template is a built-in of OPA that this Rego engine "
                     "lacks") == 1
    assert err.count(f"{policies / 'negated.rego'}:3: `not semver.is_valid(") == 1
    records = json.loads(output.read_text())["value"]
    assert not [record for record in records if record["policyDefinitionId"] == "rego:template"]
    clusters = list(Fleet(json.loads(fleet_file.read_text())).clusters())
    scanned = {(record["policyDefinitionName"], record["resourceId"].lower()):
               sorted(reason["message"] for reason in record.get("reasons", [])) for record in records}
    assert len(scanned) == 2 * len(clusters)
    with OpaOracle([(name, source) for name, source in SCANNED.items() if name != "template.rego"]) as opa:
        judged = {package: dict(zip((cluster.id.lower() for cluster in clusters), opa.documents(
            f"{package}.violation", [policy_input(cluster) for cluster in clusters]), strict=True))
            for package in ("negated", "many")}
    assert {resource: sorted(violation["msg"] for violation in answer) for resource, answer in judged["many"].items()} \
        == {resource: messages for (name, resource), messages in scanned.items() if name == "many"}
    assert any(scanned[("many", cluster.id.lower())] for cluster in clusters)
    # the warned construct: OPA's verdict wherever the version is there; where it is not (managed clusters have no
    # agentVersion) OPA leaves the rule undefined and regorus makes the `not` true, as the warning says
    versioned = {cluster.id.lower(): "agentVersion" in cluster.resource["properties"] for cluster in clusters}
    assert {resource: sorted(violation["msg"] for violation in answer)
            for resource, answer in judged["negated"].items() if versioned[resource]} == {
        resource: messages for (name, resource), messages in scanned.items() if name == "negated" and versioned[resource]}
    unversioned = [resource for resource, present in versioned.items() if not present]
    assert unversioned and all(judged["negated"][resource] == [] and scanned[("negated", resource)] == [
        "agent version is not semver"] for resource in unversioned)


# OPA's built-ins that regorus has, each called as a policy would (and at its edges), judged by the real OPA
BUILTIN_CALLS = r'''
abs(-3.5)
ceil(2.1)
floor(-2.1)
round(2.5)
round(-2.5)
round(-0.5)
numbers.range(1, 5)
numbers.range(5, 1)
numbers.range_step(1, 10, 3)
numbers.range(1.0, 3)
numbers.range(2, 2)
numbers.range(1, 2.5)
numbers.range_step(5, 0, 2)
numbers.range_step(0, 5, 2.0)
numbers.range_step(0, 5, 1.5)
numbers.range_step(0, 10, -2)
numbers.range_step(0, 10, 0)
net.cidr_expand("10.0.0.0/30")
net.cidr_expand("10.0.0.1/32")
net.cidr_expand("::/126")
net.cidr_expand("2001:db8::ff/120")
net.cidr_expand("::ffff:10.0.0.0/126")
net.cidr_expand("10.0.0.0/33")
net.cidr_expand("10.0.0.0")
net.cidr_expand("fe80::1%eth0/126")
net.cidr_expand("10.0.0.0/16")
to_number("1e3")
to_number("0x10")
to_number(" 12")
to_number("12 ")
to_number("1_000")
to_number("+5")
to_number("-0")
to_number("1.")
to_number(".5")
to_number("Inf")
to_number("NaN")
to_number("1e400")
to_number("")
to_number("00012")
to_number(true)
to_number(null)
to_number(2.5)
format_int(255, 16)
format_int(-7.9, 2)
units.parse_bytes("10KiB")
units.parse_bytes("10kb")
units.parse_bytes("8Gi")
units.parse("1.5G")
units.parse("100m")
units.parse("8Gi")
units.parse("0.5Mi")
concat("-", {"b", "a"})
concat("", [])
contains("abc", "")
endswith("abc", "")
indexof("héllo", "l")
indexof("abc", "")
indexof("", "")
indexof_n("aaa", "aa")
indexof_n("héhé", "é")
indexof_n("aaa", "")
strings.count("aaa", "")
strings.count("héllo", "")
strings.count("aaaa", "aa")
replace("aaa", "a", "b")
strings.replace_n({"a": "1", "aa": "2"}, "aaa")
strings.replace_n({"b": "c", "a": "b"}, "ab")
strings.replace_n({"ab": "x", "a": "y"}, "abab")
split("a,b,,c", ",")
split("", ",")
split("abc", "")
substring("hello", 1, -1)
substring("hello", 10, 2)
substring("héllo", 1, 2)
trim("  xx  ", " ")
trim_left("aabb", "a")
trim_prefix("aabb", "a")
trim_right("aabb", "b")
trim_suffix("aabb", "b")
trim_space("\t x \n")
strings.reverse("héllo")
strings.count("cheese", "e")
strings.any_prefix_match(["a/b", "c"], ["a/"])
strings.any_suffix_match("abc", {"bc"})
sprintf("%v %v %v", [1.0, 1.5, "x"])
sprintf("%s", [{"a": [1, 2]}])
sprintf("%q %t %%", ["a\"b", true])
sprintf("%05.1f|%-4d|%+d|%x|%X|%o|%e", [3.14159, 7, 5, 255, 255, 8, 12345.678])
array.concat([1], [2])
array.slice([1, 2, 3, 4], 1, 3)
array.slice([1, 2, 3], -1, 10)
array.slice([1, 2, 3], 2, 1)
array.reverse([1, 2, 3])
object.get({"a": {"b": 1}}, ["a", "b"], 0)
object.get({"a": 1}, "b", "d")
object.get({"a": 1}, [], 0)
object.keys({"a": 1, "b": 2})
object.remove({"a": 1, "b": 2}, {"a"})
object.filter({"a": 1, "b": 2}, ["a"])
object.subset({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}})
object.subset([1, 2, 3], [2, 3])
object.union({"a": {"b": 1}}, {"a": {"c": 2}})
object.union_n([{"a": 1}, {"a": 2, "b": 3}])
json.filter({"a": {"b": 1, "c": 2}}, ["a/b"])
json.remove({"a": {"b": 1, "c": 2}}, ["a/b"])
json.patch({"a": 1}, [{"op": "add", "path": "/b", "value": 2}])
json.is_valid("{\"a\": 1")
json.unmarshal("[1, 2.50, 1e2]")
json.marshal_with_options({"a": [1, 2]}, {"pretty": true, "indent": "  "})
yaml.is_valid("a: [")
base64.encode("héllo")
base64url.encode_no_pad("hi?")
base64url.decode("aGk_")
base64.is_valid("aGk=")
hex.encode("hi")
hex.decode("6869")
urlquery.encode("a b&c")
urlquery.encode("é/~")
urlquery.encode_object({"a": ["1", "2"], "b": "x y", "c~": {"~"}})
urlquery.decode_object("a=1&a=2&b=x+y")
urlquery.decode_object("a&b=&&c=%41")
urlquery.decode_object("a=%zz")
urlquery.decode_object("a=1;b=2")
urlquery.decode("a%20b+c")
urlquery.decode("%zz")
urlquery.decode("100%")
regex.match("^a.c$", "abc")
regex.is_valid("(")
regex.split("[,;]", "a,b;c")
regex.find_n("[0-9]+", "a1b22c333", 2)
regex.find_all_string_submatch_n("(a)(b)?", "ab a", -1)
regex.replace("abc", "b(.)", "$1x")
regex.template_match("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}")
semver.compare("1.2.3", "1.2.3-alpha")
semver.compare("1.0.0+build", "1.0.0")
semver.compare("v1.2.3", "1.2.3")
semver.compare("1.2.3-rc.1", "1.2.3-rc.10")
semver.compare("1.2.3-alpha", "1.2.3-1")
semver.compare("1.2.3-a.b", "1.2.3-a")
semver.compare("1.2", "1.2.3")
semver.is_valid("v1.2.3")
semver.is_valid("V1.2.3")
semver.is_valid("1.2")
semver.is_valid("1.2.3-rc.1+b")
semver.is_valid("01.2.3")
semver.is_valid("1.2.3-01")
semver.is_valid("1.+2.3")
semver.is_valid("1.2.3-")
semver.is_valid("1.2.3-a..b")
semver.is_valid(" 1.2.3")
semver.is_valid(123)
count({"a": 1})
sum([1, 2.5])
product([])
max([1, "a", null])
min({3, 1})
sort([3, "a", null, 1, true, [1], {"a": 1}])
time.parse_rfc3339_ns("2023-01-02T03:04:05.123456789+01:00")
time.parse_rfc3339_ns("2023-01-02T03:04:05Z")
time.parse_rfc3339_ns("2023-01-02t03:04:05z")
time.parse_rfc3339_ns("2023-01-02 03:04:05Z")
time.parse_rfc3339_ns("2023-01-02T03:04:05,5-07:30")
time.parse_rfc3339_ns("2023-01-02T03:04:05.1234567891Z")
time.parse_rfc3339_ns("2024-02-29T23:59:59Z")
time.parse_rfc3339_ns("2023-02-29T00:00:00Z")
time.parse_rfc3339_ns("2023-01-02T24:00:00Z")
time.parse_rfc3339_ns("2023-01-02T03:04:60Z")
time.parse_rfc3339_ns("2023-01-02T03:04:05+24:00")
time.parse_rfc3339_ns("2023-01-02T03:04:05-24:60")
time.parse_rfc3339_ns("2023-01-02T03:04:05+25:00")
time.parse_rfc3339_ns("2023-01-02T03:04:05+00:61")
time.parse_rfc3339_ns("0000-01-01T00:00:00Z")
time.parse_rfc3339_ns("1677-09-21T00:12:44Z")
time.parse_rfc3339_ns("2262-04-11T23:47:16.854775807Z")
time.parse_rfc3339_ns("2262-04-11T23:47:16.854775808Z")
time.parse_rfc3339_ns("1969-12-31T23:59:59.5Z")
time.parse_rfc3339_ns("2023-1-02T03:04:05Z")
time.parse_rfc3339_ns("2023-01-02T03:04:05")
time.parse_rfc3339_ns("2023-01-02T03:04:05.Z")
time.parse_ns("2006-01-02", "2023-12-25")
time.parse_duration_ns("1h2m3.5s")
time.date(1700000000000000000)
time.clock([1700000000000000000, "America/New_York"])
time.weekday(0)
time.add_date(1700000000000000000, 0, 1, 31)
time.diff(1700000000000000000, 1600000000000000000)
time.format([1700000000000000000, "UTC", "2006-01-02 15:04"])
net.cidr_contains("10.0.0.0/8", "10.1.2.3")
net.cidr_contains("10.0.0.0/8", "10.1.0.0/16")
net.cidr_expand("192.168.0.0/30")
net.cidr_is_valid("10.0.0.0/33")
net.cidr_is_valid("::1/128")
glob.quote_meta("*.a[b]")
glob.quote_meta("a{b,c}?\\d-x!")
type_name(1.0)
bits.and(12, 10)
bits.lsh(1, 10)
units.parse("1k")
units.parse("1K")
units.parse("1Ki")
units.parse("1e3k")
units.parse(" 5")
units.parse("-1.5m")
units.parse("")
units.parse("1E")
units.parse_bytes("1KB")
units.parse_bytes("1kib")
units.parse_bytes("10.5MB")
units.parse_bytes("1 K")
time.format([1, "UTC", "2006-01-02T15:04:05.000000000Z07:00"])
time.date([1700000000000000000, "Asia/Kolkata"])
time.weekday([1700000000000000000, "Pacific/Auckland"])
time.add_date(1700000000000000000, 0, 0, 100000)
time.diff([1700000000000000000, "UTC"], [1600000000000000000, "Asia/Tokyo"])
time.parse_duration_ns("-1.5h")
time.parse_duration_ns("0")
time.parse_duration_ns("1µs")
time.parse_duration_ns("")
regex.match("(?i)ABC", "abc")
regex.match("a{2,}", "aaa")
regex.match("[[:alpha:]]+", "abc")
regex.match("\\pL+", "héllo")
regex.find_n("a*", "baaab", -1)
regex.replace("a.b", "\\.", "[$0]")
regex.replace("abc", "(?P<n>b)", "${n}!")
json.patch({"a": [1, 2]}, [{"op": "remove", "path": "/a/0"}])
json.patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-", "value": 3}])
json.patch({"a": 1}, [{"op": "move", "from": "/a", "path": "/b"}])
json.patch({"a~b": 1}, [{"op": "replace", "path": "/a~0b", "value": 2}])
json.filter({"a": [1, 2, 3]}, ["a/1"])
json.remove({"a": [1, 2, 3]}, ["a/1"])
object.union({"a": 1}, {"a": {"b": 2}})
object.get({"a": {"b": null}}, ["a", "b"], 7)
object.remove({"a": 1}, {"a": 5})
object.subset({"a": [1, 2]}, {"a": [1]})
object.subset([1, 2, 3], [1, 3])
numbers.range_step(10, 1, 3)
format_int(10, 36)
sum({1, 2.5})
sort({"b", "a", 1})
count("héllo")
3 / 2
-7 % 3
trim("abcba", "ab")
trim_left("ééa", "é")
lower("ǅ")
replace("abc", "", "-")
substring("abc", -2, 1)
sprintf("%d %d", [1])
sprintf("%d", [1, 2])
sprintf("%x", ["hi"])
sprintf("%5s|%-5s|%.1s", ["ab", "ab", "ab"])
sprintf("%c|%U|%08.3f|% d|%#x", [65, 128512, -3.14159, 5, 255])
sprintf("%t|%s", ["x", null])
base64.decode("aGk=\n")
base64url.decode("aGk=")
hex.encode("é")
json.unmarshal("{\"a\": 1, \"a\": 2}")
json.is_valid("1 2")
json.marshal_with_options({"a": 1}, {"prefix": "x", "indent": "\t"})
net.cidr_contains("::/0", "1.2.3.4")
net.cidr_contains("10.0.0.1/8", "10.0.0.2")
net.cidr_expand("10.0.0.1/31")
net.cidr_is_valid("10.0.0.1/8")
semver.compare("1.0.0-alpha.1", "1.0.0-alpha.beta")
semver.compare("1.0.0-beta.11", "1.0.0-beta.2")
glob.match("a.*", ["."], "a.b.c")
glob.match("**.b", [], "a.x.b")
strings.any_prefix_match("", "")
bits.rsh(-8, 1)
urlquery.encode_object({"a": {x | some x in json.unmarshal("[true, \"x\"]")}})
urlquery.encode_object(object.union(json.unmarshal("{\"b\": \"c\"}"), {1: "a"}))
urlquery.encode_object(object.union(json.unmarshal("{}"), {10: "a", 9: "b", 1.5: "c", true: "d"}))
urlquery.encode_object(json.unmarshal("{\"a\": [1]}"))
urlquery.encode_object(json.unmarshal("{\"a\": null}"))
urlquery.encode_object({"b": {"z", "a"}, "a": ["2", "1"], "c": "x y"})
strings.split_n("a,b,c", ",", 2)
strings.split_n("a,b,c", ",", 0)
strings.split_n("a,b,c", ",", -1)
strings.split_n("a,b,c", "", 2)
strings.split_n("abc", "", -1)
strings.split_n("a,b,c", ",", 1.5)
strings.split_n("", ",", 2)
strings.split_n("", "", 2)
strings.split_n("héllo", "", 3)
strings.split_n("a,b,c", ",", 1e30)
strings.split_n("a,b,c", ",", 10)
net.cidr_merge(["192.0.128.0/24", "192.0.129.0/24"])
net.cidr_merge(["10.0.0.1", "10.0.0.2/32", "10.0.0.0/30"])
net.cidr_merge([])
net.cidr_merge(["::1"])
net.cidr_merge(["2001:db8::/33", "2001:db8:8000::/33", "10.0.0.0/8"])
net.cidr_merge({"10.0.0.0/25", "10.0.0.128/25"})
net.cidr_merge(["10.0.0.1/8"])
net.cidr_merge(["bad"])
net.cidr_merge(json.unmarshal("[1]"))
net.cidr_merge(json.unmarshal("\"10.0.0.0/8\""))
net.cidr_merge(["10.0.0.0/8", "::ffff:10.0.0.0/104"])
net.cidr_merge(["10.0.0.0/8", "11.0.0.0/8"])
net.cidr_merge(["10.0.0.5/32", "10.0.0.6/32", "10.0.0.7/32", "10.0.0.8/32"])
net.cidr_merge(["0.0.0.0/0", "1.2.3.4"])
net.cidr_merge(["1.2.3.4", "1.2.3.4/32"])
net.cidr_contains_matches("1.1.1.0/24", "1.1.1.128")
net.cidr_contains_matches(["1.1.1.0/24", "1.1.2.0/24"], "1.1.1.128")
net.cidr_contains_matches([["1.1.0.0/16", "foo"], "1.1.2.0/24"], ["1.1.1.128", ["1.1.254.254", "bar"]])
net.cidr_contains_matches({"x": "1.1.1.0/24", "y": ["1.1.0.0/16", 1]}, {"1.1.1.2", "1.1.3.4"})
net.cidr_contains_matches([[]], "1.1.1.1")
net.cidr_contains_matches(json.unmarshal("[1]"), "1.1.1.1")
net.cidr_contains_matches(["bad"], "1.1.1.1")
net.cidr_contains_matches(["1.0.0.0/8"], "bad")
net.cidr_contains_matches(["1.0.0.0/8"], "1.2.0.0/16")
net.cidr_contains_matches(["1.2.3.4"], "1.2.3.4")
net.cidr_contains_matches([], "1.2.3.4")
net.cidr_contains_matches("1.0.0.0/8", [])
strings.split_n("a,b,c", ",", -2)
strings.split_n("a,b,c", ",", -10)
strings.split_n("a,,b", ",", 3)
strings.split_n("abc", "", 0)
strings.split_n("a,b", ",", 9223372036854775807)
strings.split_n("a,b", ",", 2.0)
strings.split_n(json.unmarshal("1"), ",", 1)
strings.split_n("a,b", ",", json.unmarshal("\"2\""))
net.cidr_merge(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])
net.cidr_merge(["10.0.0.0/24", "10.0.0.0/24"])
net.cidr_merge(["10.0.0.0/8", "10.1.0.0/16"])
net.cidr_merge(["10.1.2.3"])
net.cidr_merge(["172.16.5.4", "200.1.2.3", "230.0.0.1"])
net.cidr_merge(["::ffff:1.2.3.4"])
net.cidr_merge(["::/0", "10.0.0.0/8"])
net.cidr_merge(["::/1", "8000::/1"])
net.cidr_merge(["::ffff:0:0/96"])
net.cidr_merge(["::fffe:ffff:ffff/128", "0.0.0.0/32"])
net.cidr_merge(["0.0.0.0/32", "0.0.0.1/32"])
net.cidr_merge(["255.255.255.254/32", "255.255.255.255/32"])
net.cidr_merge(["2001:db8::1/128", "2001:db8::2/127", "2001:db8::4/126"])
net.cidr_merge(["1.2.3.0/24", "1.2.4.0/24", "1.2.5.0/24", "1.2.6.0/24", "1.2.7.0/24"])
net.cidr_merge(["10.0.0.0/255.0.0.0"])
net.cidr_merge(["10.0.0.0/33"])
net.cidr_merge(["fe80::1%eth0/64"])
net.cidr_merge(["010.0.0.0/8"])
net.cidr_merge(["10.0.0.0/08"])
net.cidr_merge(["10.0.0.0/"])
net.cidr_contains_matches(["::/0"], "1.2.3.4")
net.cidr_contains_matches(["0.0.0.0/0"], "::ffff:1.2.3.4")
net.cidr_contains_matches(["::ffff:0:0/96"], ["1.2.3.4", "10.0.0.0/8"])
net.cidr_contains_matches(["2001:db8::/32"], ["2001:db8:1::/48", "2001:db9::/48", "2001:db8::1"])
net.cidr_contains_matches(["10.0.0.0/8"], ["10.0.0.0/7"])
net.cidr_contains_matches([[1]], "1.1.1.1")
net.cidr_contains_matches({"a": "10.0.0.0/8"}, {"b": ["10.1.1.1", "x"], "c": "11.0.0.1"})
net.cidr_intersects("::/0", "10.0.0.0/8")
net.cidr_intersects("10.0.0.0/8", "10.255.0.0/16")
net.cidr_intersects("::ffff:10.0.0.0/104", "10.1.0.0/16")
net.cidr_intersects("10.0.0.0/255.0.0.0", "10.0.0.0/8")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.L90BmIV5Ir0ezV1MsTjx0L9l6oiXUhzSgf78c6RsswE")
io.jwt.verify_hs256("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.L90BmIV5Ir0ezV1MsTjx0L9l6oiXUhzSgf78c6RsswE", "secret")
io.jwt.verify_hs256("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.L90BmIV5Ir0ezV1MsTjx0L9l6oiXUhzSgf78c6RsswE", "wrong")
io.jwt.verify_hs384("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.dzKFI2maM2T95NsT0PnWiui1wGLhZwT4FBUFy-yNfURF303IW3UjQ8g8kQaw8RAu", "secret")
io.jwt.verify_hs512("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.erVCkIsTC1qeI6nR-0nZ8zm2RayUSMPY8MqLm77Kr4TNsCs7dFNFVFc06zUMQUD0xpXOXSHJ2lU6Xs2pENzSVw", "secret")
io.jwt.verify_hs512("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.L90BmIV5Ir0ezV1MsTjx0L9l6oiXUhzSgf78c6RsswE", "secret")
io.jwt.verify_hs256("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.L90BmIV5Ir0ezV1MsTjx0L9l6oiXUhzSgf78c6RsswE", "")
io.jwt.verify_hs256("a.b", "secret")
io.jwt.verify_hs256("nodots", "secret")
io.jwt.verify_hs256("e30.e30.!!", "secret")
io.jwt.verify_hs256("x.y.", "secret")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0=.c2ln")
io.jwt.decode("eyJjdHkiOiJKV1QifQ.ImV5SmhiR2NpT2lKSVV6STFOaUo5LmV5SnBibTVsY2lJNmRISjFaWDAuSWVib3BRRVplbWZ3a29rRjh4MGVLVVFiaEhQUzNfNml2MEdXV0I2OUFabyI.rPiA16TpUDwARRaBzmL44_PzdQuOgtyuRGy9pJDxQ1E")
io.jwt.decode("eyJjdHkiOiJqd3QifQ.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.3WaDg04umdCBel6xwISBlRra5qyvgB2bO-c55WIi59E")
io.jwt.decode("eyJjdHkiOiJKV1QifQ.ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZXlKcGJtNWxjaUk2ZEhKMVpYMC5JZWJvcFFFWmVtZndrb2tGOHgwZUtVUWJoSFBTM182aXYwR1dXQjY5QVpv.XmdPSWEt9x1EFTxA1yUMnQXtfDfhic1vcLLBVunuSOk")
io.jwt.decode("eyJlbmMiOjF9.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.VvvgiJ7g0SjhUApU9ERt_KqgAZSiBzuoXF6VzNs264w")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WzFd.IyrhjME3jKm9nh-sqt-KFHahBbaFb4sQeAuUEroOONk")
io.jwt.decode("W10.eyJzdWIiOiIxMjM0IiwibiI6MS41LCJ1Ijoiw6kiLCJhIjpbMSx7ImIiOm51bGx9XSwiZCI6MSwiZCI6Mn0.bJhk-NODypxpIVAQIMLVtyrcntW6-LP_6YP42UH7aOU")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e2JhZA.E1ZTz2UzHFu22-8IAS5Gv_kSSEKeI61N7bn5laTXy7E")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.t-IDcSemACt8x4iTMCda8Yhe3iZaWbvV5XKSTbuAn0M")
io.jwt.decode("a.b.c.d")
json.is_valid("NaN")
json.is_valid("[1,]")
json.is_valid(" {\"a\": 1, \"a\": 2} ")
yaml.is_valid("a: [")
yaml.is_valid("- x")
regex.globs_match("a*", "b*")
regex.globs_match("", "")
regex.globs_match("[a-c]+x", "bbx")
regex.globs_match("[c-a]", "b")
crypto.x509.parse_rsa_private_key("")
crypto.x509.parse_certificates("")
crypto.x509.parse_and_verify_certificates("nope")
io.jwt.decode("abcde.e30.")
io.jwt.decode("e30.e30.")
io.jwt.decode("e30=.e30.")
io.jwt.decode("e30==.e30.")
io.jwt.decode("e3+.e30.")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzIjoiXHVkODAwIn0.")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzIjoi_-KCIn0.")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ4IjpOYU59.")
io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.IHt9IA.AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK-2vcTL0tng5-71_A")
'''.strip().split("\n")


def test_opa_builtins_regorus_has_answer_as_opa_at_their_edges(tmp_path: Path) -> None:
    """Each call through arcpolicy's default path (regorus, with arcpolicy's replacements) against the real OPA:
    OPA's value, or undefined / an error where OPA stops on the built-in's error (its default: undefined)."""
    source = "package calls\n\n" + "".join(f"c{number} := {call}\n" for number, call in enumerate(BUILTIN_CALLS))
    (tmp_path / "calls.rego").write_text(source)
    library = RegoLibrary.load([tmp_path])
    assert not library.diagnostics
    assert {found.message.split(":")[0] for found in library.warnings} <= {
        f"`{name}`" for name in DIFFERING_BUILTINS} | {"a regex class `\\d`, `\\w`, `\\s` or `\\b`"}  # at values they agree
    differing = []
    with OpaOracle([("calls.rego", source)]) as opa:
        for number, call in enumerate(BUILTIN_CALLS):
            expected = opa.documents(f"calls.c{number}", [{}])[0]
            if isinstance(expected, OpaError) and "invalid number literal" in str(expected):
                continue  # OPA's number keeps the string's text (`to_number("+5")`), which the bridge cannot write
            ours = _ours(library, f"calls/c{number}", {})
            if isinstance(expected, OpaError) and expected.builtin:
                if not (isinstance(ours, OpaError) or ours is UNDEFINED):
                    differing.append(f"{call}: OPA stops ({expected}), arcpolicy {ours!r}")
            elif not _same(ours, expected):
                differing.append(f"{call}: OPA {expected!r}, arcpolicy {ours!r}")
    assert not differing, "\n".join(differing)


def _same(ours: Any, expected: Any) -> bool:
    """Equal as JSON values: a boolean is not a number, 1 and 1.0 are one number."""
    if isinstance(ours, bool) or isinstance(expected, bool):
        return ours is expected
    if isinstance(ours, int | float) and isinstance(expected, int | float):
        return ours == expected
    if isinstance(ours, list) and isinstance(expected, list):
        return len(ours) == len(expected) and all(map(_same, ours, expected))
    if isinstance(ours, dict) and isinstance(expected, dict):
        return ours.keys() == expected.keys() and all(_same(ours[key], expected[key]) for key in ours)
    return ours == expected


DIFFERING = [("yaml.unmarshal", 'yaml.unmarshal("a: yes")'), ("yaml.marshal", 'yaml.marshal({"a": "yes"})'),
             ("json.match_schema", 'json.match_schema({"a": 1}, {"properties": {"a": {"type": "string"}}})'),
             ("json.verify_schema", 'json.verify_schema("{bad")'), ("units.parse_bytes", 'units.parse_bytes("1.5")'),
             ("time.parse_duration_ns", 'time.parse_duration_ns("1d")'),
             ("time.parse_ns", 'time.parse_ns("2006-01-02", "2023-1-2")'),
             ("a regex class", 'regex.match(`^\\w+$`, "héllo")'),
             ("a regex class", 'regex.match("\\\\d", "\u0661")'),
             ("`time.format` with a zone abbreviation", 'time.format([0, "Europe/Berlin", "15:04 MST"])')]


@pytest.mark.parametrize(("name", "call"), DIFFERING, ids=[name for name, _ in DIFFERING])
def test_a_builtin_regorus_answers_otherwise_warns_where_it_is_called(tmp_path: Path, name: str, call: str) -> None:
    source = f"package differing\n\n# {name}( in a comment is no call\nvalue := {call}\n"
    (tmp_path / "differing.rego").write_text(source)
    library = RegoLibrary.load([tmp_path])
    assert [found.line for found in library.warnings] == [4]
    assert library.warnings[0].message.startswith(f"`{name}`:" if name in DIFFERING_BUILTINS else name)
    assert name not in OVERRIDDEN
    with OpaOracle([("differing.rego", source)]) as opa:
        expected = opa.documents("differing.value", [{}])[0]
    ours = _ours(library, "differing/value", {})
    assert not (isinstance(ours, OpaError) and isinstance(expected, OpaError)) and not _same(ours, expected), \
        (expected, ours)  # a real difference, hence the warning
