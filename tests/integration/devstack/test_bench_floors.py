"""The FerretDB write floors run end to end (functional checks, nothing timed)."""

from __future__ import annotations

import math

from graceperiod.devstack.bench.floors import ferretdb_bulk_update, ferretdb_purchase_write


async def test_purchase_write_floor_writes_every_purchase_at_its_version(mongodb_url: str) -> None:
    result = await ferretdb_purchase_write(mongodb_url, documents=20, writes=64, concurrency=4)
    assert result.name == "floor_ferretdb_purchase_write"
    assert result.metrics["writes"] == 64  # each replace_one matched its version: none lost
    assert all(math.isfinite(result.metrics[k]) and result.metrics[k] > 0 for k in ("writes_per_s", "p50_ms", "p99_ms"))


async def test_bulk_update_floor_updates_every_document(mongodb_url: str) -> None:
    result = await ferretdb_bulk_update(mongodb_url, documents=120, batch=50)  # the last batch is short
    assert result.name == "floor_ferretdb_bulk_update"
    assert result.metrics["updates"] == 120
    assert result.metrics["ms_per_update"] > 0
