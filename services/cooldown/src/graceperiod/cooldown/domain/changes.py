"""A stored change of an account: the claim on its next version, an entry of its history and
the outbox of its events (``store.py`` says how claims make one worker win)."""

from __future__ import annotations

from datetime import datetime

from pydantic import computed_field

from graceperiod.contracts.cooldown import Cause, Transition
from graceperiod.cooldown.domain.accounts import Account, violations
from graceperiod.cooldown.domain.decisions import Decision
from graceperiod.cooldown.domain.events import OutgoingEvent, events_for
from graceperiod.runtime.mongo import Record


def change_id(account_id: str, version: int) -> str:
    """Zero-padded so the ids of one account sort by version."""
    return f"{account_id}:{version:010d}"


class ChangeRecord(Record):
    """One stored change (``changes``, ``_id`` = :attr:`id`)."""

    account: Account
    """The account as the change made it (``account.version`` is the change's version)."""
    claimed_at: datetime
    source: str
    """What caused it (``lease-terminated:<lease>``, ``release-early:<request>``, ...)."""
    transitions: tuple[Transition, ...]
    events: tuple[OutgoingEvent, ...]
    note: str = ""
    left_cooldown_version: int | None = None
    """Set when the change took the account out of Cooldown: the schedule entry to remove."""
    acquired_lease: str | None = None
    reschedules_read: bool = False
    """The change moved (or dropped) the account's next cost read: its read-schedule entry follows."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def account_id(self) -> str:
        return self.account.account_id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> int:
        return self.account.version

    @property
    def id(self) -> str:
        return change_id(self.account.account_id, self.account.version)

    @property
    def enters_cooldown(self) -> bool:
        return self.account.cooldown_version == self.account.version

    @classmethod
    def of(cls, decision: Decision, *, source: str, claimed_at: datetime) -> ChangeRecord:
        """The change that stores ``decision``; refuses an account that breaks an invariant
        (a bug in a rule must never be stored)."""
        before, after = decision.before, decision.after
        problems = violations(after)
        if problems:
            msg = f"refusing to store account {after.account_id} in an illegal state: {'; '.join(problems)}"
            raise AssertionError(msg)
        left = None
        if (
            before is not None
            and before.cooldown_version is not None
            and after.cooldown_version != before.cooldown_version
        ):
            left = before.cooldown_version
        acquired = after.lease_id if any(t.cause is Cause.ACQUIRED for t in decision.transitions) else None
        read_before = before.billing.next_read_at if before is not None and before.billing is not None else None
        read_after = after.billing.next_read_at if after.billing is not None else None
        return cls(
            account=after,
            claimed_at=claimed_at,
            source=source,
            transitions=decision.transitions,
            events=tuple(events_for(decision, now=claimed_at)),
            note=decision.note,
            left_cooldown_version=left,
            acquired_lease=acquired,
            reschedules_read=read_before != read_after,
        )
