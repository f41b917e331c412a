"""The notifier benchmark's own arithmetic and its events (no servers: the run itself is `make bench`'s)."""

from __future__ import annotations

from datetime import UTC, datetime

from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.devstack.bench.notifier import latency_summary, percentile, recorded_event
from graceperiod.notifier.domain.recipients import resolve_recipients


def test_the_published_event_is_a_valid_purchase_recorded_with_three_recipients() -> None:
    event = PurchaseRecorded.model_validate(recorded_event("bench-1", datetime.now(UTC)))
    assert len(resolve_recipients(event.purchase, "finops@example.com")) == 3


def test_percentiles_and_latencies() -> None:
    assert percentile([float(v) for v in range(1, 101)], 0.5) in (50.0, 51.0)
    assert percentile([float(v) for v in range(1, 101)], 0.99) == 99.0
    published = {"a": 1_000_000_000, "b": 2_000_000_000}
    summary = latency_summary(published, [("a", 1_010_000_000), ("b", 2_030_000_000), ("b", 2_020_000_000)])
    assert summary["p50_ms"] == 20.0
    assert summary["max_ms"] == 30.0
