"""Prometheus metrics of the account pool (served on ``/metrics`` by the worker app)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from graceperiod.contracts.cooldown import COOLDOWN_HOURS_MAX, AccountStatus, Cause
from graceperiod.cooldown.domain.decisions import Decision

_HOUR: Final = 3600.0

POOL_ACCOUNTS = Gauge(
    "graceperiod_cooldown_accounts",
    "Accounts in the pool by status (refreshed on ticks, at most once per interval).",
    ["status"],
)
COOLDOWN_DURATION = Histogram(
    "graceperiod_cooldown_duration_seconds",
    "Time accounts spent in Cooldown, observed as they leave it for Available.",
    ["release"],
    buckets=tuple(h * _HOUR for h in (1, 6, 12, 18, 24, 30, 36, 48, 72, 96, 168, COOLDOWN_HOURS_MAX)),
)
TRANSITIONS = Counter(
    "graceperiod_cooldown_transitions_total",
    "Account status transitions stored, by from/to status and cause.",
    ["from_status", "to_status", "cause"],
)
ACQUISITIONS = Counter(
    "graceperiod_cooldown_acquisitions_total",
    "AcquireAccount requests by outcome (preferred, recently-used, repeat, none, contended).",
    ["outcome"],
)
COST_READS = Counter(
    "graceperiod_cooldown_cost_reads_total",
    "Cost Explorer reads of lease costs by outcome (estimated, final, throttled, denied, unavailable, budget).",
    ["outcome"],
)
WAITS = Counter(
    "graceperiod_cooldown_wait_requests_total",
    "Wait-list requests by what happened to them (queued, granted, expired, cancelled).",
    ["outcome"],
)
RELEASE_PASS = Histogram(
    "graceperiod_cooldown_release_pass_seconds",
    "Duration of one release pass (a tick's releases of every due account).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe(decision: Decision) -> None:
    """Count a stored decision's transitions, and time the Cooldown it ended, if any."""
    before = decision.before
    for transition in decision.transitions:
        TRANSITIONS.labels(
            from_status=transition.from_status.value if transition.from_status else "none",
            to_status=transition.to_status.value,
            cause=transition.cause.value,
        ).inc()
        if (
            transition.from_status is AccountStatus.COOLDOWN
            and transition.to_status is AccountStatus.AVAILABLE
            and before is not None
            and before.cooldown_started_at is not None
        ):
            seconds = (transition.at - before.cooldown_started_at).total_seconds()
            release = "early" if transition.cause is Cause.RELEASED_EARLY else "elapsed"
            COOLDOWN_DURATION.labels(release=release).observe(max(seconds, 0.0))
