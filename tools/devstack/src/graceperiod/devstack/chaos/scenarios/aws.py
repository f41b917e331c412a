"""Scenario 5 (pending): an AWS throttling storm, and AccessDenied on one account.

**Pending** until the revocation service's AWS work lands (other branch): on this branch
revocation makes no AWS call, so there is nothing to throttle. What the scenario will do,
and the checker it will use, are written down here so the piece that lands only has to
fill in the marked steps:

1. Register ``ACCOUNTS`` account roles (``RegisterAccountRole`` on ``revocation.commands``);
   the AWS endpoint denies every call for the last one (AccessDenied on its role).
2. Record ``purchases`` Savings Plans spread over the accounts (``purchase.executed``).
3. Turn on a throttling storm at the AWS endpoint (``ThrottlingException`` for a fraction of
   calls) — needs a fault-injection control on the AWS emulator.
4. Send ``RevokePurchase`` for every purchase, each command published twice (same
   idempotency key), through RPC.
5. Checker (:class:`RevocationFlow`): every purchase in a permitted account revoked exactly
   once — ``GetPurchase`` shows phase ``revoked`` and the emulator saw exactly one
   ``ReturnSavingsPlan`` per plan —; every purchase in the denied account surfaces
   ``unavailable.reason == role-lacks-actions`` (or ``role-not-assumable``) and no AWS call
   changed it; nothing dead-lettered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from graceperiod.devstack.chaos.core import Result, Size, Ui, scenario
from graceperiod.devstack.chaos.stack import ChaosStack

ACCOUNTS = 4
PENDING = (
    "needs the revocation service's AWS work from the revocation branch (assume-role per account, "
    "Savings Plans/EC2 revocation calls with throttling back-off, AccessDenied → role-lacks-actions) and a "
    "fault-injection control (throttling, per-account AccessDenied) plus a call log on the AWS emulator; "
    "on this branch revocation makes no AWS call"
)


class RevocationFlow:
    """Effects of revocation commands: ``revoked:<purchase>`` once per permitted purchase,
    ``denied:<purchase>`` once per purchase of the denied account, ``returned:<plan>``
    exactly once per plan in the AWS emulator's call log."""

    name = "revocation"

    def __init__(self) -> None:
        self._expected: dict[str, int] = {}

    def expect_revoked(self, purchase_id: str, plan_id: str) -> None:
        self._expected[f"revoked:{purchase_id}"] = 1
        self._expected[f"returned:{plan_id}"] = 1

    def expect_denied(self, purchase_id: str) -> None:
        self._expected[f"denied:{purchase_id}"] = 1

    def expected(self) -> Mapping[str, int]:
        return self._expected

    async def observe(self) -> Counter[str]:
        # Fill in when the pieces land: GetPurchase over RPC for phase / unavailable.reason,
        # and the AWS emulator's call log for ReturnSavingsPlan per plan.
        msg = "RevocationFlow.observe needs GetPurchase (revocation) and the AWS emulator's call log"
        raise NotImplementedError(msg)


@scenario("aws-throttling", "AWS throttling storm and AccessDenied on one account", pending=PENDING)
async def aws_throttling(stack: ChaosStack, size: Size, ui: Ui) -> Result:  # pragma: no cover - pending
    msg = f"pending: {PENDING}"
    raise NotImplementedError(msg)
