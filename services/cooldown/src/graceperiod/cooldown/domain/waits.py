"""The wait-list: acquisitions queued until an account is released. Pure rules: who may
queue, the order, the expected time, expiry. The service stores requests (``wait_store``).

* One request per lease at a time; a lease that holds an account or has an open request is
  refused (the same request again, by its idempotency key, is answered as it stands).
* First in, first out: by ``requested_at``, then lease id.
* A request's life: waiting → granting (one worker took it) → granted; or waiting → expired
  / cancelled. Each step is a conditional update of the request from the state before, so
  exactly one worker makes it (``granting`` left behind by a worker that died is taken over
  once overdue).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from graceperiod.contracts.cooldown import CooldownPolicy
from graceperiod.contracts.wait_list import WaitRequestView, WaitStatus
from graceperiod.runtime.mongo import Record


class WaitState(StrEnum):
    WAITING = "waiting"
    GRANTING = "granting"
    """A worker is acquiring an account for it (shown as waiting)."""
    GRANTED = "granted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


OPEN_STATES = (WaitState.WAITING, WaitState.GRANTING)


class WaitRequest(Record):
    """A lease's request to wait for an account (``wait_requests``, ``_id`` = lease id; a lease
    that asks again after its request closed reopens it as the next ``round``)."""

    lease_id: str
    round: int = 1
    state: WaitState = WaitState.WAITING
    requested_at: datetime
    expires_at: datetime
    requested_by: str | None = None
    request_key: str
    granting_since: datetime | None = None
    account_id: str | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    event_pending: bool = False
    """The outcome's event (granted, expired) is still to be published (the request is its outbox)."""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def order(self) -> tuple[datetime, str]:
        return self.requested_at, self.lease_id

    def view(self, *, position: int | None = None, eta: Estimate | None = None) -> WaitRequestView:
        status = WaitStatus.WAITING if self.is_open else WaitStatus(self.state.value)
        return WaitRequestView(
            lease_id=self.lease_id,
            status=status,
            requested_at=self.requested_at,
            expires_at=self.expires_at,
            requested_by=self.requested_by,
            position=position if self.is_open else None,
            eta=eta.at if eta else None,
            eta_note=eta.note if eta else None,
            account_id=self.account_id,
            closed_at=self.closed_at,
            reason=self.reason,
        )


def wait_limit(policy: CooldownPolicy, asked_hours: float | None) -> timedelta:
    """How long a request may wait: what it asked for, at most the policy's expiry."""
    hours = policy.wait_expiry_hours if asked_hours is None else min(asked_hours, policy.wait_expiry_hours)
    return timedelta(hours=hours)


def new_request(
    lease_id: str, *, request_key: str, requested_by: str | None, limit: timedelta, now: datetime, round_: int = 1
) -> WaitRequest:
    return WaitRequest(
        lease_id=lease_id,
        round=round_,
        requested_at=now,
        expires_at=now + limit,
        requested_by=requested_by,
        request_key=request_key,
    )


def refusal(lease_id: str, *, existing: WaitRequest | None, held_account: str | None) -> str | None:
    """Why a lease may not queue (None: it may)."""
    if held_account is not None:
        return f"lease {lease_id} already holds account {held_account}"
    if existing is not None and existing.is_open:
        return f"lease {lease_id} already has an open request (waiting since {existing.requested_at.isoformat()})"
    return None


def expired(request: WaitRequest, now: datetime) -> bool:
    return request.state is WaitState.WAITING and request.expires_at <= now


def granting_overdue(request: WaitRequest, now: datetime, grace: timedelta) -> bool:
    """A worker took the request to grant it and did not finish within ``grace``."""
    since = request.granting_since
    return request.state is WaitState.GRANTING and since is not None and now - since >= grace


class Estimate(Record):
    at: datetime | None
    note: str


def positions(requests: Sequence[WaitRequest]) -> dict[str, int]:
    """Each open request's place in line (1 = next), first in, first out."""
    line = sorted((r for r in requests if r.is_open), key=lambda r: r.order)
    return {request.lease_id: index for index, request in enumerate(line, start=1)}


def estimate(position: int, *, available: int, upcoming: Sequence[datetime], now: datetime) -> Estimate:
    """When the request at ``position`` should get an account: now if enough are Available,
    else when the cooling account that many releases ahead is expected out of Cooldown."""
    if position <= available:
        return Estimate(at=now, note="an account is Available: it is granted on the next pass")
    ahead = position - available
    releases = sorted(upcoming)
    if ahead <= len(releases):
        return Estimate(at=releases[ahead - 1], note=f"when release {ahead} of {len(releases)} cooling accounts is due")
    return Estimate(
        at=None,
        note=f"{ahead} releases needed, {len(releases)} accounts cooling: it depends on leases that have not ended",
    )
