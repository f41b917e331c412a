"""``make bench``: run the benchmarks against private local servers and report.

python -m graceperiod.devstack.bench [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from graceperiod.devstack.bench import baseline, pipeline
from graceperiod.devstack.bench.core import Result, cpu_count, progress, servers, vhost
from graceperiod.devstack.servers import repo_root

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
        if "baseline" in selected or "pipeline" in selected:
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
    return results


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
