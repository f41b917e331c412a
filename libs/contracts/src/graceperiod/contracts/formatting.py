"""How money and times are written for people, in the dashboard and in emails alike.

One module, so a page and an email never disagree: ``$13,140.00`` (thousands separators,
cents), ``2026-12-04 13:24 UTC`` plus a countdown (``4 days 23 hours left``), urgent under
24 hours. The gateway and the notifier register :data:`JINJA_FILTERS` and :data:`JINJA_TESTS`
in their template environments and call these functions directly elsewhere.

Pure: the instant to count from is always passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from graceperiod.contracts.upstream import Cost

#: A deadline closer than this is urgent (shown in red).
URGENT_WITHIN: Final = timedelta(hours=24)

_SYMBOLS: Final = {"USD": "$", "EUR": "€", "GBP": "£"}
_CENT: Final = Decimal("0.01")


def money(amount: Decimal | int | str, currency: str) -> str:
    """``$13,140.00``, ``€9.50``, ``1,200.00 JPY``: cents always shown, more decimals kept
    when the amount has them (``$0.0125``), thousands separated by commas."""
    value = Decimal(amount)
    exponent = value.as_tuple().exponent
    shown = value.quantize(_CENT) if isinstance(exponent, int) and exponent >= -2 else value.normalize()
    number = f"{shown:,f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def cost_line(cost: Cost) -> str:
    """What a purchase costs, without figures that do not apply: ``$13,140.00 upfront`` (All
    Upfront: no monthly figure), ``$1,095.00/mo`` (No Upfront), ``$500.00 upfront + $45.00/mo``."""
    parts = []
    if cost.upfront > 0:
        parts.append(f"{money(cost.upfront, cost.currency)} upfront")
    if cost.monthly > 0:
        parts.append(f"{money(cost.monthly, cost.currency)}/mo")
    return " + ".join(parts) if parts else "no charge"


def cost_with_total(cost: Cost) -> str:
    """:func:`cost_line` and the total over the term."""
    return f"{cost_line(cost)}. Total over term: {money(cost.total, cost.currency)}"


def utc(instant: datetime | None) -> str:
    """``2026-12-04 13:24 UTC``, to the minute (truncated, so a deadline never reads later
    than it is); ``—`` when unknown."""
    if instant is None:
        return "—"
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso8601(instant: datetime) -> str:
    """``2026-12-04T13:24:45Z``: for machines (``<time datetime>``, CSV exports)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def duration(delta: timedelta) -> str:
    """``4 days 23 hours``, ``3 hours 12 minutes``, ``12 minutes``, ``less than a minute``:
    the two largest units, rounded down so it never promises more time than there is."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "less than a minute"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return " ".join([_plural(days, "day"), *([_plural(hours, "hour")] if hours else [])])
    if hours:
        return " ".join([_plural(hours, "hour"), *([_plural(minutes, "minute")] if minutes else [])])
    return _plural(minutes, "minute")


def countdown(until: datetime | None, now: datetime) -> str:
    """``4 days 23 hours left``; ``closed`` once ``until`` has passed; ``""`` when unknown."""
    if until is None:
        return ""
    if until <= now:
        return "closed"
    return f"{duration(until - now)} left"


def urgent(until: datetime | None, now: datetime) -> bool:
    """Whether a deadline is still ahead but less than :data:`URGENT_WITHIN` away."""
    return until is not None and now < until <= now + URGENT_WITHIN


#: ``{{ amount | money(currency) }}``, ``{{ at | utc }}``, ``{{ until | countdown(now) }}``, ...
JINJA_FILTERS: Final[dict[str, Callable[..., Any]]] = {
    "money": money,
    "cost_line": cost_line,
    "cost_with_total": cost_with_total,
    "utc": utc,
    "iso8601": iso8601,
    "countdown": countdown,
}
#: ``{% if until is urgent(now) %}``
JINJA_TESTS: Final[dict[str, Callable[..., bool]]] = {"urgent": urgent}
