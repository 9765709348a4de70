"""OPA's built-ins on the default engine, judged by the real OPA: what regorus lacks or answers otherwise.

Each case is a policy evaluated through arcpolicy's default path (``RegoLibrary`` on regorus)
and through the real OPA on the same input; where regorus cannot give OPA's answer, the policy's
load warns (engine.rego.divergences) and the test shows OPA and regorus really differ there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rego.opa_oracle import UNDEFINED, OpaError, OpaOracle
from rego_fixtures import cluster, extension

from engine.cli.main import main
from engine.inventory import Fleet
from engine.inventory.generator import write_generated_fleet
from engine.rego import RegoLibrary
from engine.rego.library import policy_input
from engine.rego.opa_builtins import BUILTINS, NOT_PROVIDED, OVERRIDDEN
from engine.rego.regorus_engine import RegorusEngine, regorus_builtin

OPA_BUILTINS: dict[str, int] = json.loads(
    (Path(__file__).parent / "data" / "opa_v1.20.2_builtins.json").read_text())["builtins"]


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


def _ours(library: RegoLibrary, rule: str, document: dict[str, Any]) -> Any:
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    try:
        return engine._evaluate(json.dumps(document), f"probe/{rule}")
    except Exception as error:  # the interpreter raises built-in errors strictly
        return OpaError(str(error)) if "RegoRuntimeError" in type(error).__name__ else error


@pytest.mark.parametrize("document", INPUTS, ids=lambda document: str(document["text"])[:12])
def test_builtins_answer_as_opa(tmp_path: Path, document: dict[str, Any]) -> None:
    (tmp_path / "probe.rego").write_text(POLICY)
    library = RegoLibrary.load([tmp_path])
    with OpaOracle([("probe.rego", POLICY)]) as opa:
        for rule in RULES:
            expected = opa.documents(f"probe.{rule}", [document])[0]
            ours = _ours(library, rule, document)
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
    (tmp_path / "jwt.rego").write_text('package jwt\n\nviolation contains {"msg": "token"} if io.jwt.decode(input.token)\n')
    (tmp_path / "ok.rego").write_text('package ok\n\nviolation contains {"msg": crypto.sha256("x")} if true\n')
    library = RegoLibrary.load([tmp_path])
    assert [policy.package for policy in library.policies] == ["ok"]
    [problem] = library.diagnostics
    assert problem.file.endswith("jwt.rego") and problem.line == 3
    assert problem.message == ("io.jwt.decode is a built-in of OPA that this Rego engine lacks, so this policy is not "
                               "evaluated (regopy and opa have it: --rego-engine)")
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
    "jwt.rego": 'package jwt\n\nviolation contains {"msg": "token"} if io.jwt.decode(input.resource.tags.token)\n',
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
    assert err.count(f"{policies / 'jwt.rego'}:3: io.jwt.decode is a built-in of OPA that this Rego engine lacks") == 1
    assert err.count(f"{policies / 'negated.rego'}:3: `not semver.is_valid(") == 1
    records = json.loads(output.read_text())["value"]
    assert not [record for record in records if record["policyDefinitionId"] == "rego:jwt"]
    clusters = list(Fleet(json.loads(fleet_file.read_text())).clusters())
    scanned = {(record["policyDefinitionName"], record["resourceId"].lower()):
               sorted(reason["message"] for reason in record.get("reasons", [])) for record in records}
    assert len(scanned) == 2 * len(clusters)
    with OpaOracle([(name, source) for name, source in SCANNED.items() if name != "jwt.rego"]) as opa:
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
