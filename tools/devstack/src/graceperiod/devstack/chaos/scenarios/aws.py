"""Scenario 5: an AWS throttling storm, and AccessDenied on one account.

1. Customer accounts with Grace Period's role (registered with revocation; three, or more so that
   none needs more than 9 returns: AWS allows 10 per account and calendar year), and one more
   whose role lacks ``savingsplans:ReturnSavingsPlan`` (the AWS endpoint answers AccessDenied).
2. A throttling storm on every Savings Plans call (the endpoint throttles the next ``n``
   calls, whichever account they are for) while the purchases are published: recording reads
   each commitment through the throttles (botocore's retries, then the service's own rounds).
3. Another storm while every purchase of the permitted accounts is revoked with
   ``RevokePurchase`` over RPC, each command sent twice at once with one idempotency key
   (a double click), and every purchase of the denied account is asked to be revoked too.

Effects (:class:`RevocationFlow`, on top of the purchase flow's records and emails):
``revoked:<purchase>`` (the stored status is ``revoked``) and ``returned:<plan>`` (successful
``ReturnSavingsPlan`` calls with distinct client tokens in the endpoint's call log: a second
one would be a second return) once per permitted purchase, and a ``revoked`` outcome email per
recipient once; ``denied:<purchase>`` once per purchase of the denied account (its revocation
fails with the permission problem and its view then says ``role-lacks-actions``), its
``revocation-failed`` email per recipient once, and no successful ReturnSavingsPlan for it.

A Savings Plan return is ``pending-return`` first (2 s in the endpoint): revocation stores the
purchase as pending and reads it again on a tick after ``REVOCATION_PENDING_POLL_SECONDS``
(3 s in this scenario, 60 s by default), then stores ``revoked`` and announces it. Ticks run
every second from the revocations on.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pymongo import AsyncMongoClient

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.revocation import CommandReply, GetPurchase, PurchaseReply, RevokePurchase
from graceperiod.contracts.revocation_views import UnavailableReason
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.load import Outgoing
from graceperiod.devstack.chaos.results import Result, Ui
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.chaos.world import ADMIN, key, register_accounts, rpc_client
from graceperiod.runtime.rpc import call

DENIED_ACTIONS = ("savingsplans:ReturnSavingsPlan",)
REVOKED = "revocation-outcome:revoked"
FAILED = "revocation-outcome:revocation-failed"
RETURN = "savingsplans:ReturnSavingsPlan"
#: Returns per account in one run: under AWS's yearly quota of 10 (each run uses fresh accounts).
RETURNS_PER_ACCOUNT = 9


class RevocationFlow:
    name = "revocation"

    def __init__(self, *, aws_url: str, mongodb_url: str, database: str) -> None:
        self._aws_url = aws_url
        self._mongodb_url = mongodb_url
        self._database = database
        self._expected: dict[str, int] = {}
        self.plans: dict[str, str] = {}
        """Plan id → purchase id (permitted accounts)."""
        self.denied: dict[str, str] = {}
        """Denied purchase id → its account."""
        self.denied_seen: set[str] = set()
        self.accounts: set[str] = set()

    def expect_revoked(self, purchase_id: str, account: str, plan_id: str) -> None:
        self.plans[plan_id] = purchase_id
        self.accounts.add(account)
        self._expected[f"revoked:{purchase_id}"] = 1
        self._expected[f"returned:{plan_id}"] = 1

    def expect_denied(self, purchase_id: str, account: str) -> None:
        self.denied[purchase_id] = account
        self.accounts.add(account)
        self._expected[f"denied:{purchase_id}"] = 1

    def expected(self) -> Mapping[str, int]:
        return self._expected

    async def observe(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._mongodb_url, serverSelectionTimeoutMS=2000)
        try:
            ids = list(self.plans.values())
            async for doc in client[self._database]["purchases"].find(
                {"_id": {"$in": ids}, "status": "revoked"}, projection={"_id": 1}
            ):
                seen[f"revoked:{doc['_id']}"] += 1
        finally:
            await client.close()
        async with EmulatorControl(self._aws_url) as control:
            tokens: dict[str, set[str]] = {}
            for account in self.accounts:
                for entry in await control.calls(account=account, action=RETURN):
                    params = entry.get("params") or {}
                    plan = str(params.get("savingsPlanId", ""))
                    if entry.get("status") == 200:
                        tokens.setdefault(plan, set()).add(str(params.get("clientToken", "")))
            for plan, used in tokens.items():
                purchase = self.plans.get(plan)
                if purchase is None:
                    seen[f"returned-unexpectedly:{plan}"] += len(used)
                else:
                    seen[f"returned:{plan}"] += len(used)
        for purchase in self.denied_seen:
            seen[f"denied:{purchase}"] += 1
        return seen


@scenario("aws-throttling", "AWS throttling storm and AccessDenied on one account")
async def aws_throttling(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    permitted = max(20, size.purchases // 4)
    refused = max(5, permitted // 4)
    title = "throttling storm; AccessDenied on one account"
    async with Run.start(stack, "aws-throttling", title, ui, env={"REVOCATION_PENDING_POLL_SECONDS": "3"}) as run:
        amqp_url = run.deployment.amqp_url
        (denied_account,) = await register_accounts(amqp_url, stack.aws.url, 1, denied_actions=DENIED_ACTIONS)
        flow = RevocationFlow(
            aws_url=stack.aws.url, mongodb_url=stack.ferret.url, database=run.deployment.database("revocation")
        )
        run.flows.append(flow)
        # AWS allows 10 Savings Plans returns per account and calendar year (the endpoint
        # enforces it): spread the permitted purchases so no account needs more than 9.
        needed = -(-permitted // RETURNS_PER_ACCOUNT)
        if needed > len(run.flow.accounts):
            run.flow.accounts += await register_accounts(amqp_url, stack.aws.url, needed - len(run.flow.accounts))
        good = run.purchases(permitted)
        bad = [run.flow.purchase(account_id=denied_account) for _ in range(refused)]
        storm = permitted  # about one throttle per purchase, on top of its calls
        async with EmulatorControl(stack.aws.url) as control:
            await control.fault("savingsplans:*", kind="throttle", count=storm)
            run.fault(f"throttling the next {storm} Savings Plans calls; AccessDenied in {denied_account}")
            await run.publish([*good, *bad], rate=size.rate, label="purchases")
            # Every purchase recorded and announced before revoking (its recipients are known then).
            await run.wait_for_effects(deadline_seconds=size.deadline_seconds, settle_seconds=0)

            _expect_outcomes(run, flow, good, bad, denied_account)
            await control.fault("savingsplans:*", kind="throttle", count=storm)
            run.start_ticking()  # pending returns are read again on ticks
            started = time.monotonic()
            replies = await _revoke_all(amqp_url, [m.message_id for m in good], twice=True)
            refusals = await _revoke_all(amqp_url, [m.message_id for m in bad], twice=False)
            run.recovered(f"revocations answered in {time.monotonic() - started:.1f}s")
            logged = [
                call
                for action in ("savingsplans:DescribeSavingsPlans", RETURN)
                for call in await control.calls(action=action)
            ]
            throttled = [c for c in logged if "Throttl" in str(c.get("code") or "")]
            await control.clear_faults()

        problems = await _check_denied(run, flow, refusals)
        statuses = Counter(reply.status.value for reply in replies)
        result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)
        result.problems.extend(problems)
        result.metrics |= {
            "permitted_purchases": permitted,
            "permitted_accounts": len(run.flow.accounts),
            "denied_purchases": refused,
            "throttles_injected": 2 * storm,
            "throttled_calls": len(throttled),
            "revoke_reply_statuses": dict(statuses),
        }
        result.notes.append(
            "every permitted purchase revoked once (RevokePurchase sent twice with one key) through "
            f"{2 * storm} injected throttles; the denied account's purchases refused with role-lacks-actions"
        )
        return result


def _expect_outcomes(
    run: Run, flow: RevocationFlow, good: list[Outgoing], bad: list[Outgoing], denied_account: str
) -> None:
    """Each permitted purchase revoked with its revoked emails; each denied one failed with its
    failure emails."""
    for message in good:
        account, plan = run.flow.plans[message.message_id]
        flow.expect_revoked(message.message_id, account, plan)
        for recipient in run.flow.recipients(message.message_id):
            run.flow.expect_email(REVOKED, message.message_id, recipient)
    for message in bad:
        flow.expect_denied(message.message_id, denied_account)
        for recipient in run.flow.recipients(message.message_id):
            run.flow.expect_email(FAILED, message.message_id, recipient)


GATEWAY = BrokerIdentity.GATEWAY
REVOKE = Queues.REVOCATION_COMMANDS


async def _revoke_all(amqp_url: str, purchase_ids: list[str], *, twice: bool) -> list[CommandReply]:
    window = asyncio.Semaphore(8)
    async with rpc_client(amqp_url) as client:

        async def revoke(purchase_id: str) -> list[CommandReply]:
            async with window:
                command = RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=purchase_id)
                copies = 2 if twice else 1
                return list(
                    await asyncio.gather(
                        *(
                            call(
                                client, Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=120, user_id=GATEWAY
                            )
                            for _ in range(copies)
                        )
                    )
                )

        answers = await asyncio.gather(*(revoke(p) for p in purchase_ids))
    return [reply for pair in answers for reply in pair]


async def _check_denied(run: Run, flow: RevocationFlow, refusals: list[CommandReply]) -> list[str]:
    problems = [
        f"a revocation in the denied account did not fail with the permission problem: {reply.status} {reply.problem}"
        for reply in refusals
        if reply.problem is None or not ("lacks" in reply.problem.message or "not authorized" in reply.problem.message)
    ]
    async with rpc_client(run.deployment.amqp_url) as client:
        for purchase_id in flow.denied:
            answer = await call(
                client,
                Queues.REVOCATION_QUERIES,
                GetPurchase(actor=ADMIN, purchase_id=purchase_id),
                PurchaseReply,
                timeout=60,
                user_id=GATEWAY,
            )
            view = answer.purchase
            if (
                view is not None
                and view.unavailable is not None
                and view.unavailable.reason is UnavailableReason.ROLE_LACKS_ACTIONS
            ):
                flow.denied_seen.add(purchase_id)
                continue
            problems.append(f"{purchase_id}: view does not say role-lacks-actions: {view and view.unavailable}")
    return problems
