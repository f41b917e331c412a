"""``make bench``: run the benchmarks against private local servers and report.

python -m graceperiod.devstack.bench [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
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

from rich.console import Console
from rich.table import Table

from graceperiod.devstack.bench import baseline, pipeline, services
from graceperiod.devstack.bench.core import Result, cpu_count, progress, servers, vhost
from graceperiod.devstack.servers.processes import repo_root

T = TypeVar("T")

SCENARIOS = ("baseline", "pipeline", "revocation", "notifier", "gateway", "cooldown")


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
        if "notifier" in selected:  # starts its own private servers, the notifier as a process
            results.append(await _guarded("notifier", services.notifier(Path(tmp), quick=quick)))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graceperiod.devstack.bench")
    parser.add_argument("--quick", action="store_true", help="a fifth of the default sizes (for a smoke run)")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--out", type=Path, default=repo_root() / "var" / "bench")
    args = parser.parse_args(argv)
    selected = set(args.only or SCENARIOS)
    # Services some benchmarks run in this process log like the ones they start: warnings only.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    console = Console(stderr=True)
    started = time.time()
    results = asyncio.run(_run(selected, args.quick))
    _print(results, console)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "seconds": round(time.time() - started, 1),
        "machine": {"cpus": cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "quick": args.quick,
        "results": {r.name: {"description": r.description, **r.metrics, "notes": r.notes} for r in results},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (args.out / f"bench-{stamp}.json", args.out / "latest.json"):
        path.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"results written to {args.out / 'latest.json'}")
    return 0 if all(not r.notes for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
