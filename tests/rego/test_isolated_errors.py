"""regopy's child process (engine "regopy"): only the engine's own errors become Error verdicts; an exception
raised by arcpolicy's code there is a bug and reaches the caller (the CLI's internal error, exit 3)."""

from __future__ import annotations

import pytest
from rego_fixtures import cluster

from engine.errors import ArcPolicyError
from engine.rego import RegoLibrary, RegoRuntimeError, policy_input
from engine.rego.engines import IsolatedEngine
from engine.rego.isolation import IsolatedError

CONFLICT = 'package probe.conflict\n\nmode := "a"\nmode := "b" if true\n\nviolation contains {"msg": mode} if true\n'
ALWAYS = 'package probe.always\n\nviolation contains {"msg": "always"} if true\n'


def test_a_runtime_error_of_the_engine_is_a_rego_runtime_error_and_an_error_verdict(write_policy) -> None:
    library = RegoLibrary.load([write_policy("conflict.rego", CONFLICT)], engine="regopy")
    assert isinstance(library.engine, IsolatedEngine)
    with pytest.raises(RegoRuntimeError, match="multiple outputs"):
        library.engine.results(policy_input(cluster()), shared=True)
    verdict = library.evaluate(cluster())["probe.conflict"]
    assert verdict.error is not None and "multiple outputs" in verdict.error


def test_an_exception_of_arcpolicy_code_in_the_child_is_not_an_error_verdict(write_policy) -> None:
    library = RegoLibrary.load([write_policy("always.rego", ALWAYS)], engine="regopy")
    engine = library.engine
    good = policy_input(cluster())
    bad = {**good, "parameters": {"ratio": 1j}}  # not a JSON value: the child's input builder raises ValueError
    calls = {"results": lambda: engine.results(bad), "package_results": lambda: engine.package_results(bad, 0),
             "results_many": lambda: engine.results_many([good, bad])}
    for name, call in calls.items():
        with pytest.raises(IsolatedError) as raised:
            call()
        error = raised.value
        assert str(error) == "ValueError in the Rego engine process: a complex cannot be part of a Rego input", name
        assert not isinstance(error, RegoRuntimeError | ArcPolicyError)  # main() reports it as an internal error
        assert "_push_other" in "\n".join(error.__notes__)  # the child's traceback, for ARCPOLICY_DEBUG=1
    assert [violation.msg for violation in library.evaluate(cluster())["probe.always"].violations] == ["always"]
