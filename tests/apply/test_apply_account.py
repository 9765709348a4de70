"""Apply's account after the last retry: a write that took effect is reported as such, not ``failed``
because the answers about it kept failing. Against the sandbox (its fault injection), through the
real Azure SDK clients."""

from __future__ import annotations

import pytest
import requests

from engine.azure.connection import SANDBOX_TOKEN
from remediation.apply import ApplyOptions, OpState, apply_plan, plan_fingerprint
from remediation.apply.journal import Journal

from .plans import API
from .test_apply_robustness import SLOW, _one_operation
from .test_apply_sandbox import live

MAX_ATTEMPTS = 8  # engine.azure.retry.RetryPolicy's default: every one of them fails


def _accepted_but_not_followed(running, tmp_path):
    """An install whose write ARM accepted, journaled as accepted (the run stopped polling it)."""
    plan = _one_operation(running)
    journal_file = tmp_path / "journal.sqlite"
    first = apply_plan(plan, running.connection(), ApplyOptions(timeout=0.3), journal_path=journal_file)
    assert [(outcome.state, outcome.writes) for outcome in first.operations] == [(OpState.FAILED, 1)]
    assert Journal.read(journal_file, plan_fingerprint(plan))[plan.operations[0].id].state is OpState.LRO_STARTED
    return plan, plan.operations[0], journal_file


def test_a_write_that_took_effect_is_reported_succeeded_when_polling_its_outcome_kept_failing(sandbox_factory,
                                                                                            tmp_path):
    running = sandbox_factory(**SLOW)
    plan, operation, journal_file = _accepted_but_not_followed(running, tmp_path)
    running.control.advance_clock(3600)  # the extension finished provisioning: the write took effect
    running.control.inject_fault(target="arm", status=503, retryAfter=0, count=MAX_ATTEMPTS)

    resumed = apply_plan(plan, running.connection(), ApplyOptions(resume=True, timeout=30), journal_path=journal_file)
    outcome, = resumed.operations
    assert running.control.stats()["faultsInjected"] == MAX_ATTEMPTS  # every poll of its outcome failed
    assert outcome.state is OpState.SUCCEEDED and outcome.writes == 1, outcome
    assert outcome.message.startswith("the write took effect (the target, re-read after the last retry, is as "
                                      "planned); the last retry had failed: HTTP 503")
    assert outcome.provisioning_state == "Succeeded" and resumed.exit_status == 0
    assert live(running, operation.resource_id)["properties"]["provisioningState"] == "Succeeded"
    assert Journal.read(journal_file, plan_fingerprint(plan))[operation.id].state is OpState.SUCCEEDED


def test_a_write_that_did_not_take_effect_stays_failed_with_the_error_that_ended_it(sandbox_factory, tmp_path):
    running = sandbox_factory(**SLOW)
    plan, operation, journal_file = _accepted_but_not_followed(running, tmp_path)
    running.control.advance_clock(3600)
    deleted = requests.delete(f"{running.url}{operation.resource_id}", params={"api-version": API},
                              headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
                              verify=str(running.endpoint.ca_bundle), timeout=10)
    assert deleted.status_code in (200, 202, 204)
    running.control.advance_clock(3600)  # someone deleted it since: the write is not in effect
    running.control.inject_fault(target="arm", status=503, retryAfter=0, count=MAX_ATTEMPTS)

    resumed = apply_plan(plan, running.connection(), ApplyOptions(resume=True, timeout=30), journal_path=journal_file)
    outcome, = resumed.operations
    assert outcome.state is OpState.FAILED and outcome.message.startswith("HTTP 503"), outcome
    assert resumed.exit_status == 1


@pytest.mark.parametrize("lost", [
    {"target": "write", "status": 500, "count": 1},  # the write landed; its answer was a 500
    {"target": "write", "drop": True, "count": 1},  # the write landed; the connection dropped before its answer
], ids=["500", "dropped"])
def test_a_write_that_landed_but_whose_answer_was_lost_is_re_read_not_sent_again(sandbox_factory, tmp_path, lost):
    running = sandbox_factory(provisioning_seconds=0)
    plan = _one_operation(running)
    operation, = plan.operations
    running.control.inject_fault(afterProcessing=True, **lost)

    result = apply_plan(plan, running.connection(), ApplyOptions(), journal_path=tmp_path / "journal.sqlite")
    outcome, = result.operations
    stats = running.control.stats()
    assert stats["faultsInjected"] == lost["count"] and stats["writes"] == 1  # it landed, once
    assert outcome.state is OpState.SUCCEEDED and outcome.writes == 1, outcome  # re-read, never sent twice
    assert result.exit_status == 0 and result.writes == 1
    assert live(running, operation.resource_id)["properties"]["provisioningState"] == "Succeeded"
