"""Issue 15's performance targets (with issue 16's two for the History and issue 14's three for discovery), each
checked against one ``make bench`` run.

Every row of the issue's table is here, once; :func:`evaluate` returns all of them whatever the
run measured (a row whose figure is missing reads "not measured" and is not met), so none can
go missing from the printed table or from ``var/bench/latest.json``. Each row names the floor
measured in the same run that bounds it (the least the servers themselves cost): a target
below its floor cannot be met by Grace Period's code alone. A row measured under a load also
names how busy the whole machine was meanwhile (every process's CPU, in cores): a latency
target cannot be met on a machine that the load itself keeps busy.

The soak is not part of ``make bench`` (it runs for ten minutes): its row reads the newest
``make chaos CHAOS_ARGS=--soak`` result kept in ``var/chaos/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Figures = Mapping[str, Mapping[str, Any]]
"""A run's results: result name → metric name → value."""


def figure(results: Figures, result: str, metric: str) -> float | None:
    value = results.get(result, {}).get(metric)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def ratio(results: Figures, top: tuple[str, str], bottom: tuple[str, str]) -> float | None:
    above, below = figure(results, *top), figure(results, *bottom)
    return round(above / below, 3) if above is not None and below else None


@dataclass(frozen=True)
class Floor:
    """A floor measured in the run: ``result``'s ``metric``, compared with the target."""

    result: str
    metric: str
    what: str
    unit: str


AMQP_P99 = Floor("floor_amqp_round_trip", "p99_ms", "AMQP round trip p99", "ms")
ID_READ_P99 = Floor("floor_ferretdb_id_read", "p99_ms", "FerretDB _id read p99", "ms")
BLAST = Floor("floor_smtp_blast", "emails_per_s", "direct SMTP blast", "emails/s")
HEALTH_P50 = Floor("gateway_http", "history_health_p50_ms", "gateway GET /health p50, one client", "ms")
RELEASE_EVENTS = Floor(
    "cooldown_release_tick", "events_amqp_floor_seconds", "raw aio-pika publish of its events (2 per release)", "s"
)


@dataclass(frozen=True)
class Target:
    key: str
    path: str
    scenario: str
    """The ``make bench`` scenario (``--only`` name) that measures it; ``chaos`` for the soak."""
    bound: Literal["max", "min"]
    target: float
    unit: str
    reads: tuple[str, str]
    """The result and figure the row reads (or, with ``compute``, divides)."""
    floor: Floor | None = None
    compute: Callable[[Figures], float | None] | None = None
    busy: tuple[str, str] | None = None
    """The result and figure holding the machine's busy cores while the row was measured."""

    def value(self, results: Figures) -> float | None:
        return self.compute(results) if self.compute is not None else figure(results, *self.reads)


TARGETS: tuple[Target, ...] = (
    Target(
        "pipeline_50_per_s_p99",
        "pipeline at 50 purchases/s: publish → last email, p99",
        "pipeline",
        "max",
        250.0,
        "ms",
        ("pipeline_50_per_s", "publish_to_last_email_p99_ms"),
        AMQP_P99,
        busy=("pipeline_50_per_s", "machine_busy_cores"),
    ),
    Target(
        "pipeline_saturated_vs_blast",
        "pipeline saturated (3 recipients each): emails/s ÷ the direct SMTP blast",
        "pipeline",
        "min",
        0.5,
        "x",
        ("pipeline_saturation", "emails_per_s"),
        BLAST,
        lambda r: ratio(r, ("pipeline_saturation", "emails_per_s"), (BLAST.result, BLAST.metric)),
        busy=("pipeline_saturation", "machine_busy_cores"),
    ),
    Target(
        "notifier_saturated_vs_blast",
        "notifier saturated: emails/s ÷ the direct SMTP blast (same servers)",
        "notifier",
        "min",
        0.7,
        "x",
        ("notifier_events_to_emails", "saturated_vs_direct"),
        BLAST,
    ),
    Target(
        "gateway_purchases_vs_health",
        "gateway GET /api/purchases (10,000 stored; callers, sorts, filters, cursors) ÷ GET /health, req/s",
        "gateway",
        "min",
        0.3,
        "x",
        ("gateway_http", "purchases_vs_baseline"),
        busy=("gateway_http", "purchases_machine_busy_cores"),
    ),
    Target(
        "gateway_purchases_p99",
        "gateway GET /api/purchases (10,000 stored; callers, sorts, filters, cursors), p99",
        "gateway",
        "max",
        100.0,
        "ms",
        ("gateway_http", "purchases_p99_ms"),
        AMQP_P99,
        busy=("gateway_http", "purchases_machine_busy_cores"),
    ),
    Target(
        "email_link_p99",
        "email-link page at 200 req/s, p99",
        "gateway",
        "max",
        20.0,
        "ms",
        ("gateway_http", "email_link_p99_ms"),
        AMQP_P99,
        busy=("gateway_http", "email_link_machine_busy_cores"),
    ),
    Target(
        "history_first_screen_p50",
        "History's first screen (10,000 stored), one user, p50 (issue 16)",
        "gateway",
        "max",
        150.0,
        "ms",
        ("gateway_http", "history_p50_ms"),
        HEALTH_P50,
    ),
    Target(
        "csv_export_10k",
        "CSV export of every purchase (10,000 stored), streamed whole (issue 16)",
        "gateway",
        "max",
        2.0,
        "s",
        ("gateway_http", "export_seconds"),
    ),
    Target(
        "cooldown_release_10k_of_100k",
        "cooldown: release 10,000 due in a 100,000-account pool",
        "cooldown",
        "max",
        5.0,
        "s",
        ("cooldown_release_tick", "release_seconds"),
        RELEASE_EVENTS,
    ),
    Target(
        "cooldown_noop_pass",
        "cooldown: a pass with nothing due (100,000 accounts), median",
        "cooldown",
        "max",
        50.0,
        "ms",
        ("cooldown_release_tick", "noop_pass_ms_median"),
        ID_READ_P99,
    ),
    Target(
        "revoke_own_p99",
        "revoke at 50/s, own p99 (without AWS's time)",
        "revocation",
        "max",
        100.0,
        "ms",
        ("revocation_revoke_50_per_s", "own_p99_ms"),
        AMQP_P99,
        busy=("revocation_revoke_50_per_s", "machine_busy_cores"),
    ),
    Target(
        "discovery_round_fits",
        "discovery, 500 accounts x 4 Regions: a scan's end after its slot, max (each round fits in the 60 s interval)",
        "discovery",
        "max",
        60.0,
        "s",
        ("discovery_scale", "scan_end_after_slot_max_s"),
    ),
    Target(
        "discovery_throttled_calls",
        "discovery, 500 accounts x 4 Regions: calls throttled at AWS's per-account request rates",
        "discovery",
        "max",
        0.0,
        "calls",
        ("discovery_scale", "throttled_calls"),
    ),
    Target(
        "discovery_purchase_to_email_p99",
        "discovery, 500 accounts: a purchase in the local AWS endpoint → its email, p99 (interval + 10 s)",
        "discovery",
        "max",
        70.0,
        "s",
        ("discovery_scale", "purchase_to_email_p99_s"),
    ),
    Target(
        "soak_problems",
        "soak, 10 min at 50 purchases/s: growing queues and RSS over +10% (make chaos CHAOS_ARGS=--soak)",
        "chaos",
        "max",
        0.0,
        "problems",
        ("soak", "problems"),
    ),
)


def evaluate(results: Figures) -> list[dict[str, Any]]:
    """Every target's row: value, target, met, and its floor as measured (None when not)."""
    rows: list[dict[str, Any]] = []
    for target in TARGETS:
        value = target.value(results)
        met = value is not None and (value <= target.target if target.bound == "max" else value >= target.target)
        row: dict[str, Any] = {
            "key": target.key,
            "path": target.path,
            "scenario": target.scenario,
            "value": value,
            "bound": "≤" if target.bound == "max" else "≥",
            "target": target.target,
            "unit": target.unit,
            "met": met,
        }
        if target.floor is not None:
            floor = figure(results, target.floor.result, target.floor.metric)
            row["floor"] = {"what": target.floor.what, "value": floor, "unit": target.floor.unit}
        if target.busy is not None:
            row["machine_busy_cores"] = figure(results, *target.busy)
        rows.append(row)
    return rows


def soak_figures(chaos_dir: Path) -> dict[str, Any] | None:
    """The newest soak kept in ``var/chaos/`` (``chaos-*.json``), as the row reads it."""
    for path in sorted(chaos_dir.glob("chaos-*.json"), reverse=True):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for result in report.get("results", []):
            if result.get("scenario") == "soak":
                problems = list(result.get("problems") or [])
                return {"problems": len(problems), "details": problems, "when": report.get("when"), "file": path.name}
    return None


def _floor_text(floor: Mapping[str, Any] | None) -> str:
    if floor is None:
        return ""
    value = "not measured" if floor["value"] is None else f"{floor['value']:g} {floor['unit']}"
    return f"{floor['what']}: {value}"


def _busy_text(row: Mapping[str, Any]) -> str:
    if "machine_busy_cores" not in row:
        return ""
    busy = row["machine_busy_cores"]
    return "not measured" if busy is None else f"{busy:g} cores"


def table_lines(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    """(path, value, target, met, floor, machine busy) as text, for the terminal."""
    lines = []
    for row in rows:
        unit = row["unit"]
        value = "not measured" if row["value"] is None else f"{row['value']:g} {unit}"
        met = "met" if row["met"] else "NOT MET"
        target = f"{row['bound']} {row['target']:g} {unit}"
        lines.append((row["path"], value, target, met, _floor_text(row.get("floor")), _busy_text(row)))
    return lines
