"""``make bench``: run the benchmarks against private local servers and report.

python -m graceperiod.devstack.bench [--quick] [--only NAME ...] [--traces]

Prints each scenario's figures, then issue 15's targets (value, target, met, and the floor
measured in the same run); writes ``var/bench/bench-<stamp>.json`` and ``latest.json`` (every
target row included, measured or not) and a plot per scenario across the kept runs. With
``--traces`` every service traces into ``var/bench/traces/<service>.jsonl`` (tracing costs
time: figures from such a run are not comparable), read by ``python -m
graceperiod.devstack.bench.traces``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import uvloop
from rich.console import Console
from rich.table import Table

from graceperiod.devstack.bench import baseline, discovery, floors, pipeline, services
from graceperiod.devstack.bench.core import Result, cpu_count, progress, servers, vhost
from graceperiod.devstack.bench.plots import write_plots
from graceperiod.devstack.bench.targets import evaluate, soak_figures, table_lines
from graceperiod.devstack.servers.processes import repo_root
from graceperiod.runtime.logs import configure_logging

T = TypeVar("T")

SCENARIOS = ("baseline", "pipeline", "floors", "revocation", "notifier", "gateway", "cooldown", "discovery")


def _ratio(result: Result, key: str, base: float | None) -> None:
    value = result.metrics.get(key)
    if base and isinstance(value, int | float):
        result.metrics[f"{key}_vs_baseline"] = round(value / base, 3)


async def _run(selected: set[str], quick: bool) -> list[Result]:
    scale = 0.2 if quick else 1.0
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp, servers(Path(tmp)) as stack, progress() as bar:
        base: float | None = None
        if selected & {"baseline", "pipeline"}:
            with vhost(stack) as url:
                baseline_result = await baseline.run(url, int(20_000 * scale), bar)
            results.append(baseline_result)
            base = baseline_result.metrics["end_to_end_per_s"]
        if "pipeline" in selected:
            for rate in (None, 50.0):
                with vhost(stack) as url:
                    count = int((2000 if rate is None else 1000) * scale)
                    result = await pipeline.run(stack, url, count, bar, rate=rate)
                _ratio(result, "purchases_per_s", base)
                results.append(result)
        if "floors" in selected:  # after the pipeline: the SMTP blast sends one of its emails
            with vhost(stack) as url:
                outcome = await _guarded("floors", floors.run(stack, url, quick=quick))
            results.extend(outcome if isinstance(outcome, list) else [outcome])
        if "revocation" in selected:
            with vhost(stack) as url:
                results.append(await _guarded("revocation", services.revocation(stack, url, quick=quick)))
        if "gateway" in selected:
            with vhost(stack) as url:
                results.append(await _guarded("gateway", services.gateway(stack, url, quick=quick)))
        if "cooldown" in selected:
            with vhost(stack) as url:
                outcome = await _guarded("cooldown", services.cooldown(stack, url, quick=quick))
            results.extend(outcome if isinstance(outcome, list) else [outcome])
        if "discovery" in selected:
            spec = discovery.QUICK if quick else discovery.DiscoveryBench()
            with vhost(stack) as url:
                results.append(await _guarded("discovery", discovery.run(stack, url, spec)))
        if "notifier" in selected:
            with vhost(stack) as url:
                results.append(await _guarded("notifier", services.notifier(stack, url, quick=quick)))
    return results


async def _guarded(name: str, work: Awaitable[T]) -> T | Result:
    """A failing scenario is reported as such, and the others still run."""
    try:
        return await work
    except Exception as exc:
        return Result(name=name, description="failed", notes=[f"{type(exc).__name__}: {exc}"])


def _print(results: list[Result], console: Console) -> None:
    for result in results:
        table = Table(title=f"{result.name}: {result.description}", title_justify="left", show_header=False)
        for key, value in result.metrics.items():
            table.add_row(key, str(value))
        for note in result.notes:
            table.add_row("[yellow]note", note)
        console.print(table)


def _print_targets(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="issue 15's targets", title_justify="left")
    for column in ("path", "value", "target", "met", "floor (same run)", "machine busy meanwhile"):
        table.add_column(column)
    for path, value, target, met, floor, busy in table_lines(rows):
        table.add_row(path, value, target, f"[green]{met}" if met == "met" else f"[red]{met}", floor, busy)
    console.print(table)


def report_of(results: list[Result], *, seconds: float, quick: bool, chaos_dir: Path) -> dict[str, Any]:
    """What ``latest.json`` holds: every result's figures and every target's row."""
    figures: dict[str, dict[str, Any]] = {r.name: {"description": r.description, **r.metrics} for r in results}
    soak = soak_figures(chaos_dir)
    if soak is not None:
        figures["soak"] = soak
    return {
        "when": datetime.now(UTC).isoformat(),
        "seconds": round(seconds, 1),
        "machine": {
            "cpus": cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": quick,
        "targets": evaluate(figures),
        "results": {r.name: {"description": r.description, **r.metrics, "notes": r.notes} for r in results},
        **({"soak": soak} if soak is not None else {}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graceperiod.devstack.bench")
    parser.add_argument("--quick", action="store_true", help="a fifth of the default sizes (for a smoke run)")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--out", type=Path, default=repo_root() / "var" / "bench")
    parser.add_argument("--traces", action="store_true", help="services trace into <out>/traces/ (slower)")
    args = parser.parse_args(argv)
    if args.traces:  # the services started as processes inherit it; those in this process read it too
        os.environ["TRACES_FILE"] = str(args.out / "traces" / "{service}.jsonl")
    selected = set(args.only or SCENARIOS)
    # Services some benchmarks run in this process log like the ones they start: warnings only,
    # as JSON (structlog unconfigured rendered every INFO line, one per message, on the console).
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    configure_logging(os.environ["LOG_LEVEL"], "json")
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # make bench's log: the targets table on one line a row
    started = time.time()
    # uvloop, as the services run (graceperiod.runtime.worker): the revocation service and the
    # load generators run in this process.
    results = uvloop.run(_run(selected, args.quick))
    _print(results, console)
    report = report_of(results, seconds=time.time() - started, quick=args.quick, chaos_dir=args.out.parent / "chaos")
    _print_targets(report["targets"], console)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (args.out / f"bench-{stamp}.json", args.out / "latest.json"):
        path.write_text(json.dumps(report, indent=2) + "\n")
    plots = write_plots(args.out)
    console.print(f"results written to {args.out / 'latest.json'}; {len(plots)} plots in {args.out / 'plots'}")
    return 0 if all(not r.notes for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
