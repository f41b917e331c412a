"""Cost Explorer's ``GetCostAndUsage`` (json 1.1, signed for ``ce`` in us-east-1), answered
from the :class:`~.cost_ledger.CostLedger`, and the control routes that seed it.

As AWS does: ``TimePeriod`` dates ``YYYY-MM-DD`` with an exclusive ``End``; ``Start`` no later
than today and ``End`` no later than the first day of next month; ``Granularity`` DAILY or
MONTHLY (HOURLY only where the account enabled hourly data, which the emulator never does);
``Metrics`` among AWS's names, each in ``Total`` as ``{"Amount": "<decimal>", "Unit": "USD"}``;
one ``ResultsByTime`` entry per day or month with ``Estimated``; ``Filter`` expressions of
``Dimensions`` (``LINKED_ACCOUNT``, ``EQUALS``) combined with ``And``/``Or``/``Not``; results
paged by ``NextPageToken``. A caller sees the linked accounts it is the payer of, and itself.
``GroupBy`` is not emulated (refused with a ValidationException saying so).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call, Handler
from graceperiod.devstack.aws_endpoint.cost_ledger import CostLedger, CostLine, default_final_at
from graceperiod.devstack.servers.emulators import parse_iso

METRICS = frozenset(
    {
        "AmortizedCost",
        "BlendedCost",
        "NetAmortizedCost",
        "NetUnblendedCost",
        "NormalizedUsageAmount",
        "UnblendedCost",
        "UsageQuantity",
    }
)
#: Which ledger amount each cost metric reports (usage metrics report 0 in the emulator).
_AMOUNT: dict[str, Callable[[CostLine], Decimal]] = {
    "UnblendedCost": lambda line: line.unblended,
    "NetUnblendedCost": lambda line: line.unblended,
    "BlendedCost": lambda line: line.unblended,
    "AmortizedCost": lambda line: line.amortized,
    "NetAmortizedCost": lambda line: line.amortized,
}
PAGE_SIZE = 90

Predicate = Callable[[str], bool]


def _day(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise AwsError("ValidationException", f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def _period(params: dict[str, Any], today: date) -> tuple[date, date]:
    period = params.get("TimePeriod") or {}
    if "Start" not in period or "End" not in period:
        raise AwsError("ValidationException", "TimePeriod.Start and TimePeriod.End are required")
    start, end = _day(period["Start"], "Start"), _day(period["End"], "End")
    if start >= end:
        raise AwsError("ValidationException", "Start date (and hour) should be before end date (and hour)")
    if start > today:
        raise AwsError("ValidationException", "Start date should be no later than the current date")
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    if end > next_month:
        raise AwsError("ValidationException", "end date past the beginning of next month")
    return start, end


def _metrics(params: dict[str, Any]) -> list[str]:
    metrics = list(params.get("Metrics") or [])
    if not metrics:
        raise AwsError("ValidationException", "Metrics is required")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise AwsError(
            "ValidationException", f"Invalid metrics: {', '.join(unknown)}; valid: {', '.join(sorted(METRICS))}"
        )
    return metrics


def _filter(expression: dict[str, Any] | None) -> Predicate:
    """A predicate on the linked account, from a Cost Explorer Expression."""
    if not expression:
        return lambda account: True
    if "And" in expression:
        parts = [_filter(e) for e in expression["And"]]
        return lambda account: all(p(account) for p in parts)
    if "Or" in expression:
        parts = [_filter(e) for e in expression["Or"]]
        return lambda account: any(p(account) for p in parts)
    if "Not" in expression:
        inner = _filter(expression["Not"])
        return lambda account: not inner(account)
    dimension = expression.get("Dimensions")
    if not dimension:
        raise AwsError("ValidationException", "the emulator filters on Dimensions only (not Tags or CostCategories)")
    if dimension.get("Key") != "LINKED_ACCOUNT":
        raise AwsError(
            "ValidationException", f"the emulator filters on LINKED_ACCOUNT only, not {dimension.get('Key')}"
        )
    if set(dimension.get("MatchOptions") or ["EQUALS"]) != {"EQUALS"}:
        raise AwsError("ValidationException", "the emulator supports MatchOptions EQUALS only")
    values = set(dimension.get("Values") or [])
    return lambda account: account in values


def _buckets(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    buckets: list[tuple[date, date]] = []
    cursor = start
    while cursor < end:
        if granularity == "DAILY":
            following = cursor + timedelta(days=1)
        else:
            following = min((cursor.replace(day=1) + timedelta(days=32)).replace(day=1), end)
        buckets.append((cursor, following))
        cursor = following
    return buckets


def _result(bucket: tuple[date, date], lines: list[CostLine], metrics: list[str], now: datetime) -> dict[str, Any]:
    first, following = bucket
    inside = [line for line in lines if first <= line.day < following]
    visible = [line for line in inside if line.arrives_at <= now]
    total = {
        metric: {"Amount": str(sum((_AMOUNT.get(metric, _zero)(line) for line in visible), Decimal(0))), "Unit": "USD"}
        for metric in metrics
    }
    estimated = any(line.final_at > now for line in inside) or (not inside and default_final_at(first) > now)
    return {
        "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
        "Total": total,
        "Groups": [],
        "Estimated": estimated,
    }


def _zero(_: CostLine) -> Decimal:
    return Decimal(0)


def get_cost_and_usage(call: Call) -> dict[str, Any]:
    params = call.params
    now = call.emulator.now()
    today = now.date()
    start, end = _period(params, today)
    granularity = params.get("Granularity")
    if granularity not in ("DAILY", "MONTHLY", "HOURLY"):
        raise AwsError("ValidationException", "Granularity must be DAILY, MONTHLY or HOURLY")
    if granularity == "HOURLY":
        raise AwsError("ValidationException", "Hourly granularity is not enabled for this account")
    if params.get("GroupBy"):
        raise AwsError("ValidationException", "GroupBy is not emulated by the local AWS endpoint")
    metrics = _metrics(params)
    wanted = _filter(params.get("Filter"))
    ledger = call.emulator.costs
    accounts = {account for account in ledger.visible_to(call.account.id) if wanted(account)}
    lines = ledger.for_accounts(accounts)
    buckets = _buckets(start, end, granularity)
    offset = int(params.get("NextPageToken") or 0)
    page = buckets[offset : offset + PAGE_SIZE]
    more = offset + PAGE_SIZE < len(buckets)
    return {
        "GroupDefinitions": [],
        "ResultsByTime": [_result(bucket, lines, metrics, now) for bucket in page],
        "DimensionValueAttributes": [],
        "NextPageToken": str(offset + PAGE_SIZE) if more else None,
    }


HANDLERS: dict[tuple[str, str], Handler] = {("ce", "GetCostAndUsage"): get_cost_and_usage}


# --- seeding (control API) ------------------------------------------------------------------------


def seed_lines(ledger: CostLedger, account: str, spec: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """``{"payer": "<management account>", "lines": [{"day", "unblended", "amortized"?,
    "arrives_at"?, "final_at"?}]}``: each line visible from ``arrives_at`` (default now)."""
    lines = [
        CostLine(
            account=account,
            day=_day(line["day"], "day"),
            unblended=Decimal(str(line["unblended"])),
            amortized=Decimal(str(line.get("amortized", line["unblended"]))),
            arrives_at=parse_iso(line["arrives_at"]) if line.get("arrives_at") else now,
            final_at=parse_iso(line["final_at"])
            if line.get("final_at")
            else default_final_at(_day(line["day"], "day")),
        )
        for line in spec.get("lines") or []
    ]
    ledger.add(account, str(spec["payer"]), lines)
    return describe(ledger, account, now=now)


def seed_usage(ledger: CostLedger, account: str, spec: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """A lease's usage: ``hourly`` dollars for every hour of ``[start, end)``, each hour's cost
    arriving ``delay_seconds`` after the hour ends (default 8 hours), so costs keep arriving
    for that long after the lease ended. ``amortized_hourly`` defaults to ``hourly``."""
    start, end = parse_iso(spec["start"]).astimezone(UTC), parse_iso(spec["end"]).astimezone(UTC)
    hourly = Decimal(str(spec["hourly"]))
    amortized = Decimal(str(spec.get("amortized_hourly", spec["hourly"])))
    delay = timedelta(seconds=float(spec.get("delay_seconds", 8 * 3600)))
    lines: list[CostLine] = []
    hour = start
    while hour < end:
        following = min(hour + timedelta(hours=1), end)
        share = Decimal(str((following - hour) / timedelta(hours=1)))
        day = hour.date()
        lines.append(
            CostLine(account, day, hourly * share, amortized * share, following + delay, default_final_at(day))
        )
        hour = following
    ledger.add(account, str(spec["payer"]), lines)
    return describe(ledger, account, now=now)


def describe(ledger: CostLedger, account: str, *, now: datetime) -> dict[str, Any]:
    lines = ledger.for_accounts({account})
    visible = sum((line.unblended for line in lines if line.arrives_at <= now), Decimal(0))
    pending = [line.arrives_at for line in lines if line.arrives_at > now]
    return {
        "account": account,
        "payer": ledger.payers.get(account),
        "visible_unblended": str(visible),
        "last_arrival": max(pending).isoformat() if pending else None,
        "lines": [line.describe(now) for line in lines],
    }
