"""The revoke benchmark scenario runs end to end (a functional check, nothing timed)."""

from __future__ import annotations

import math

import pytest

from graceperiod.devstack.bench.revocation import bench_revoke


async def test_bench_revoke_runs_and_reports(
    amqp_url: str, mongodb_url: str, db_prefix: str, aws_endpoint_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint_url)
    result = await bench_revoke(
        amqp_url=amqp_url,
        mongodb_url=mongodb_url,
        aws_endpoint_url=aws_endpoint_url,
        rate=20,
        count=10,
        database=f"{db_prefix}_bench_revocation",
    )
    assert result.sent == 10
    assert result.done == 10, result
    assert result.other_outcomes == {}
    assert all(math.isfinite(v) and v > 0 for v in (result.p50_ms, result.p99_ms, result.emulator_p50_ms))
    assert result.own_p50_ms <= result.p50_ms
