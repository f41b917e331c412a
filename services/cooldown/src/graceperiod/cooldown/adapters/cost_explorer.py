"""The cooldown service's one AWS call: a sandbox account's cost for a lease's billing window,
from Cost Explorer (``GetCostAndUsage``, DAILY, UnblendedCost and AmortizedCost, filtered to
the linked account). Cost Explorer answers for a whole organisation only in its management
(payer) account, so the call is made through a role assumed there
(``COOLDOWN_COST_ROLE_ARN`` with its ExternalId; docs/architecture.md says why this is the
one AWS call outside the revocation service).

Every operation goes through :meth:`AwsSessions.call` with literal names: a unit test reads
them from this file and checks them against ``iam.COST_IAM_ACTIONS``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from graceperiod.contracts.lease_costs import LeaseCost
from graceperiod.cooldown.domain.billing import CostWindow, FailedRead, ReadFailure, ReadOutcome
from graceperiod.runtime.aws import AwsCallError, AwsSessions, Failure, Role

_METRICS: Final = ("UnblendedCost", "AmortizedCost")
_MAX_PAGES: Final = 20
_FAILURES = {
    Failure.THROTTLED: ReadFailure.THROTTLED,
    Failure.ACCESS_DENIED: ReadFailure.DENIED,
    Failure.NOT_ASSUMABLE: ReadFailure.DENIED,
}


class CostExplorer:
    """Reads lease costs in the organisation's management account."""

    def __init__(self, sessions: AwsSessions, role: Role) -> None:
        self._sessions = sessions
        self._role = role

    async def start(self) -> None:
        await self._sessions.start()

    async def close(self) -> None:
        await self._sessions.close()

    async def lease_cost(self, account_id: str, window: CostWindow, *, now: datetime) -> ReadOutcome:
        """The account's cost for ``window`` as Cost Explorer reports it now, or why not."""
        try:
            results = await self._results(account_id, window)
        except AwsCallError as exc:
            failure = _FAILURES.get(exc.failure, ReadFailure.UNAVAILABLE)
            return FailedRead(failure=failure, reason=f"{exc.failure}: {exc.message}")
        return _total(results, read_at=now)

    async def _results(self, account_id: str, window: CostWindow) -> list[dict[str, Any]]:
        view = window.view()
        params: dict[str, Any] = {
            "TimePeriod": {"Start": view.start.isoformat(), "End": view.end.isoformat()},
            "Granularity": "DAILY",
            "Metrics": list(_METRICS),
            "Filter": {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account_id], "MatchOptions": ["EQUALS"]}},
        }
        results: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            reply = await self._sessions.call(self._role, "ce", "GetCostAndUsage", self._role.global_region, **params)
            results.extend(reply.get("ResultsByTime") or [])
            token = reply.get("NextPageToken")
            if not token:
                break
            params["NextPageToken"] = token
        return results


def _amount(total: dict[str, Any], metric: str) -> tuple[Decimal, str] | None:
    value = total.get(metric)
    if not value:
        return None
    try:
        return Decimal(str(value.get("Amount", "0"))), str(value.get("Unit") or "USD")
    except InvalidOperation:
        return None


def _total(results: list[dict[str, Any]], *, read_at: datetime) -> ReadOutcome:
    unblended, amortized = Decimal(0), Decimal(0)
    units: set[str] = set()
    amortized_seen = False
    for day in results:
        total = day.get("Total") or {}
        if (found := _amount(total, "UnblendedCost")) is not None:
            unblended += found[0]
            units.add(found[1])
        if (found := _amount(total, "AmortizedCost")) is not None:
            amortized += found[0]
            amortized_seen = True
    if len(units) > 1:
        return FailedRead(failure=ReadFailure.UNAVAILABLE, reason=f"costs in several currencies: {sorted(units)}")
    return LeaseCost(
        currency=units.pop() if units else "USD",
        unblended=unblended,
        amortized=amortized if amortized_seen else None,
        estimated=any(bool(day.get("Estimated")) for day in results),
        read_at=read_at,
    )
