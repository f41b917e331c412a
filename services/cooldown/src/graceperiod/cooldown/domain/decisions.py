"""What a rule of the account state machine returns, and the steps rules build it from.

Each rule takes the account as it is and returns a :class:`Decision`: the account as it
becomes (``version`` + 1 when anything changed), the status transitions made on the way,
and a sentence saying why. The service stores a decision only if nobody changed the
account in between (see ``store.py``), so rules never have to think about concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from graceperiod.contracts.cooldown import AccountStatus, ActorRef, Cause, Transition
from graceperiod.cooldown.domain.accounts import ALLOWED_TRANSITIONS, Account


class Verdict(StrEnum):
    APPLIED = "applied"
    """The status changed (one or more transitions)."""
    RECORDED = "recorded"
    """Something was remembered without a status change (e.g. an early cleanup result)."""
    DUPLICATE = "duplicate"
    """Already done: nothing to change."""
    STALE = "stale"
    """Older than what the account already records: nothing to change."""
    IGNORED = "ignored"
    """Does not apply to the account as it is: nothing to change."""
    REFUSED = "refused"
    """A command that the account's status does not allow."""


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    before: Account | None
    after: Account
    transitions: tuple[Transition, ...] = ()
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.verdict in (Verdict.APPLIED, Verdict.RECORDED)


def unchanged(verdict: Verdict, account: Account, note: str) -> Decision:
    return Decision(verdict, account, account, (), note)


def bump(account: Account, **changes: Any) -> Account:
    """The next version of the account, with ``changes``."""
    return account.model_copy(update={"version": account.version + 1, **changes})


def move(
    account: Account,
    to: AccountStatus,
    *,
    now: datetime,
    cause: Cause,
    lease_id: str | None = None,
    actor: ActorRef | None = None,
    reason: str | None = None,
) -> tuple[Account, Transition]:
    """The account in status ``to`` since ``now``, and the transition that says so."""
    if (account.status, to) not in ALLOWED_TRANSITIONS:  # a bug in a rule
        msg = f"illegal transition {account.status} -> {to}"
        raise AssertionError(msg)
    transition = Transition(
        from_status=account.status,
        to_status=to,
        at=now,
        cause=cause,
        lease_id=lease_id if lease_id is not None else account.lease_id,
        actor=actor,
        reason=reason,
    )
    return account.model_copy(update={"status": to, "status_since": now}), transition


def leaving_cooldown(account: Account) -> Account:
    """The account without its Cooldown (and no more cost reads of it)."""
    billing = account.billing
    if billing is not None and billing.next_read_at is not None:
        billing = billing.model_copy(update={"next_read_at": None})
    return account.model_copy(
        update={
            "cooldown_started_at": None,
            "cooldown_until": None,
            "cooldown_version": None,
            "cooldown_mode": None,
            "settle_terms": None,
            "billing": billing,
        }
    )
