"""regorus, the default engine: the VM answers where it is conformant, the interpreter everywhere else."""

from __future__ import annotations

import pytest
from rego_fixtures import cluster, extension

from engine.rego import RegoLibrary
from engine.rego.regorus_engine import RegorusEngine
from policies import LIBRARY

ALWAYS = 'package probe.always\n\nviolation contains {"msg": "always"} if true\n'
# the VM answers "<undefined>" for the failed division; the interpreter raises "divide by zero"
DIVISION = ('package probe.division\n\nviolation contains {"msg": format_int(per, 10)} if {\n'
            '\tper := 10 / count(input.extensions)\n}\n')
# a complete rule with two values for one input: the VM keeps one, the interpreter raises OPA's error
MULTIPLE = ('package probe.multiple\n\nmode := name if {\n\tsome name in ["a", "b"]\n}\n\n'
            'violation contains {"msg": mode} if true\n')
WITH_IN_POLICY = ('package probe.replaced\n\nviolation contains {"msg": name} if {\n'
                  '\tname := input.resource.name with input.resource.name as "other"\n}\n')


def test_the_shipped_library_is_answered_by_the_vm_for_every_policy() -> None:
    library = RegoLibrary.load([LIBRARY / "rego"])
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    assert engine.vm_packages == list(range(len(library.bundle.packages))) and len(engine.vm_packages) == 6


def test_a_runtime_error_the_vm_hides_is_an_error_from_the_interpreter(write_policy) -> None:
    write_policy("always.rego", ALWAYS)
    directory = write_policy("division.rego", DIVISION)
    library = RegoLibrary.load([directory])
    assert isinstance(library.engine, RegorusEngine) and len(library.engine.vm_packages) == 2
    verdicts = library.evaluate(cluster())
    assert verdicts["probe.division"].error == f"{directory / 'division.rego'}:4:15: divide by zero"
    assert [violation.msg for violation in verdicts["probe.always"].violations] == ["always"]
    answered = library.evaluate(cluster(extension("a", "x"), extension("b", "y")))["probe.division"]
    assert answered.error is None and [violation.msg for violation in answered.violations] == ["5"]


def test_a_rule_with_several_values_is_kept_from_the_vm_and_is_an_error(write_policy) -> None:
    write_policy("always.rego", ALWAYS)
    directory = write_policy("multiple.rego", MULTIPLE)
    library = RegoLibrary.load([directory])
    assert isinstance(library.engine, RegorusEngine)
    assert library.engine.vm_packages == [library.bundle.packages.index("probe.always")]
    verdicts = library.evaluate(cluster())
    assert verdicts["probe.multiple"].error == f"{directory / 'multiple.rego'}:3:1: rules must not produce multiple " \
                                               "outputs"
    assert [violation.msg for violation in verdicts["probe.always"].violations] == ["always"]


def test_a_package_the_vm_cannot_compile_is_answered_by_the_interpreter(write_policy) -> None:
    write_policy("always.rego", ALWAYS)
    library = RegoLibrary.load([write_policy("replaced.rego", WITH_IN_POLICY)])
    assert isinstance(library.engine, RegorusEngine)
    assert library.engine.vm_packages == [library.bundle.packages.index("probe.always")]
    verdicts = library.evaluate(cluster())
    assert [violation.msg for violation in verdicts["probe.replaced"].violations] == ["other"]
    assert [violation.msg for violation in verdicts["probe.always"].violations] == ["always"]


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_parameter_sets_under_with_give_the_same_verdicts_on_both_embedded_engines(engine: str) -> None:
    library = RegoLibrary.load([LIBRARY / "rego"], engine=engine)
    osm = cluster(extension("osm", "microsoft.openservicemesh"), extension("dapr", "microsoft.dapr"))
    sets = {"arcpolicy.retired_extensions_absent": [{}, {"retiredExtensionTypes": ["microsoft.dapr"]}]}
    [default, dapr_only] = library.evaluate_sets(osm, sets)["arcpolicy.retired_extensions_absent"]
    assert [violation.remediation.name for violation in default.violations if violation.remediation] == ["osm"]
    assert [violation.remediation.name for violation in dapr_only.violations if violation.remediation] == ["dapr"]


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_integers_beyond_64_bits_in_parameters_are_evaluated_not_a_crash(write_policy, engine: str) -> None:
    """Found by the fuzzer: orjson refuses such integers (and ctypes for regopy): the scan died with exit 3."""
    library = RegoLibrary.load([write_policy("big.rego", 'package probe.big\n\nviolation contains {"msg": "big"} if '
                                                         '{\n\tinput.parameters.limit > 1000000000000000000000\n}\n')],
                               engine=engine)
    for sets in ({"probe.big": [{"limit": 2**80}]}, {"probe.big": [{"limit": 2**80}, {"limit": 1}]}):
        [first, *_] = library.evaluate_sets(cluster(), sets)["probe.big"]
        assert first.error is None and [violation.msg for violation in first.violations] == ["big"]


TYPED = ('package probe.typed\n\nviolation contains {"msg": e.name} if {\n\tsome e in input.extensions\n'
         '\tlower(e.properties.extensionType) == input.parameters.type\n}\n')


@pytest.mark.parametrize("sets", [[{"type": "microsoft.flux"}], [{"type": "microsoft.flux"}, {"type": "x"}]],
                         ids=["one parameter set", "two parameter sets"])
def test_a_built_in_error_makes_the_expression_undefined_as_in_opa_and_regopy(write_policy, sets) -> None:
    """OPA (without --strict-builtin-errors) and regopy: lower(5) is undefined, the other extension still counts."""
    directory = write_policy("typed.rego", TYPED)
    odd = cluster(extension("odd", "x"), extension("flux", "Microsoft.Flux"))
    odd.extensions[0]["properties"]["extensionType"] = 5
    answers = {engine: [[violation.msg for violation in verdict.violations] for verdict in
                        RegoLibrary.load([directory], engine=engine).evaluate_sets(odd, {"probe.typed": sets})[
                            "probe.typed"]] for engine in ("regorus", "regopy")}
    assert answers["regorus"] == answers["regopy"] == [["flux"], []][:len(sets)]


ECHO = 'package probe.echo\n\nviolation contains {"msg": input.parameters.name} if true\n'


def test_lone_surrogates_and_infinities_from_python_json_are_evaluated(write_policy) -> None:
    """Found by fuzzing: Python's json module reads "\\ud800" and Infinity, orjson refuses the first; regorus got
    JSON text it could not parse and the record was an Error ("expected value at line 1 column ...")."""
    library = RegoLibrary.load([write_policy("echo.rego", ECHO)])
    parameters = {"name": "a\ud800b", "ratio": float("inf")}
    [verdict] = library.evaluate_sets(cluster(), {"probe.echo": [parameters]})["probe.echo"]
    assert verdict.error is None and [violation.msg for violation in verdict.violations] == ["a\ufffdb"]
