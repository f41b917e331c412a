"""The service is killed (SIGKILL) after AWS carried out the action but before the outcome was
written. The command was answered "in progress" (and acknowledged) once its attempt was
stored; the next tick after the attempt's lease resumes it in the restarted service, with the
same client token, and nothing happens twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from graceperiod.contracts.revocation import RevokePurchase, SubmitSupportCase
from graceperiod.contracts.revocation_views import Phase
from graceperiod.contracts.rpc import CommandStatus
from tests.integration.revocation.conftest import ADMIN, Harness, key
from tests.integration.revocation.restarts import RevocationProcesses, ticking


@pytest.fixture
def processes(
    bare_harness: Harness, tmp_path: Path, mongodb_url: str, aws_endpoint_url: str
) -> Iterator[RevocationProcesses]:
    with RevocationProcesses(bare_harness, tmp_path, mongodb_url, {"AWS_ENDPOINT_URL": aws_endpoint_url}) as started:
        yield started


async def test_a_kill_between_the_aws_call_and_the_state_write_is_safe_to_retry(
    bare_harness: Harness, processes: RevocationProcesses
) -> None:
    harness = bare_harness
    doomed = processes.start()
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=2))
    pid = (await harness.purchase(account, commitment_id=plan["savingsPlanId"]))["purchase_id"]
    # AWS will carry the return out, then take 30 s to answer: the service dies meanwhile.
    await harness.control.fault(
        "savingsplans:ReturnSavingsPlan", account=account, kind="slow-response", delay_seconds=30
    )

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=pid), timeout=10)
    assert reply.status is CommandStatus.IN_PROGRESS
    deadline = time.monotonic() + 20
    while (await harness.control.get_account(account))["savings_plans"][0]["state"] == "active":
        assert time.monotonic() < deadline, "the return never reached AWS"
        await asyncio.sleep(0.05)
    doomed.kill()

    await harness.control.clear_faults()
    processes.start()

    async with ticking(harness):  # a tick after the lease resumes the attempt
        view = await harness.wait_for(
            pid, lambda v: v.phase is Phase.REVOKED and v.audit.revoked_via is not None, timeout=40
        )
        await harness.wait_event(pid, "revoked", timeout=20)
    returns = await harness.control.calls(account=account, action="savingsplans:ReturnSavingsPlan")
    assert len(returns) == 1  # the resumed attempt saw AWS had done it and did not call again
    assert returns[0]["params"]["clientToken"] == f"gp-{pid}"
    assert view.audit.revoked_via == "self-service-api"
    assert view.audit.actor is not None
    assert view.audit.actor.user_id == ADMIN.user_id
    revoked = {e["_message_id"] for e in harness.events if e.get("change") == "revoked"}
    assert revoked == {f"purchase-changed:{pid}:revoked:final"}


async def test_a_kill_after_create_case_adopts_the_case_instead_of_filing_twice(
    bare_harness: Harness, processes: RevocationProcesses
) -> None:
    harness = bare_harness
    doomed = processes.start()
    account = await harness.account()
    ri = await harness.control.reserved_instance(account, start=harness.clock.now() - timedelta(hours=1))
    pid = (
        await harness.purchase(
            account, kind="reserved_instance", service="ec2", commitment_id=ri["ReservedInstancesId"]
        )
    )["purchase_id"]
    await harness.control.fault("support:CreateCase", account=account, kind="slow-response", delay_seconds=30)

    reply = await harness.command(SubmitSupportCase(actor=ADMIN, idempotency_key=key(), purchase_id=pid), timeout=10)
    assert reply.status is CommandStatus.IN_PROGRESS
    deadline = time.monotonic() + 20
    while not (await harness.control.get_account(account))["cases"]:
        assert time.monotonic() < deadline, "CreateCase never reached AWS"
        await asyncio.sleep(0.05)
    doomed.kill()

    await harness.control.clear_faults()
    processes.start()

    async with ticking(harness):  # a tick after the lease resumes the attempt
        view = await harness.wait_for(pid, lambda v: v.phase is Phase.CASE_OPEN, timeout=40)
    cases = (await harness.control.get_account(account))["cases"]
    assert len(cases) == 1  # CreateCase has no client token: the case was found by its reference
    assert view.audit.support_case_id == cases[0]["caseId"]
    assert len(await harness.control.calls(account=account, action="support:CreateCase")) == 1
