"""Scenario 9 (only with ``--soak``): a steady ``soak_rate`` purchases/s for ``soak_seconds``.

Every ``SAMPLE_SECONDS``: the RSS of each service process (/proc), the depth of every
consumed queue (management API) and the load average. After a warm-up (the first fifth,
at most 60 s) the promise is: every RSS under 200 MB and within 10% of its post-warm-up
level, and no queue growing (the consumers keep up with the offered rate).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from graceperiod.contracts.topology import DEAD_LETTER_SUFFIX
from graceperiod.devstack.chaos.core import Run, scenario
from graceperiod.devstack.chaos.results import Result, Ui, load_average
from graceperiod.devstack.chaos.sizes import Size
from graceperiod.devstack.chaos.stack import ChaosStack

SAMPLE_SECONDS = 10.0
RSS_LIMIT_MB = 200.0
RSS_GROWTH_LIMIT = 0.10


def _slope_per_minute(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


def judge(samples: list[dict[str, Any]], *, warmup_seconds: float, rate: float) -> tuple[dict[str, Any], list[str]]:
    """RSS and queue-depth verdicts from the samples ({t, rss: {name: MB}, depth: {queue: n}})."""
    after = [s for s in samples if s["t"] >= warmup_seconds]
    problems: list[str] = []
    summary: dict[str, Any] = {"rss_mb": {}, "queues": {}}
    if len(after) < 2:
        return summary, ["too few samples after the warm-up to judge"]
    window = max(1, len(after) // 5)
    for name in sorted({n for s in after for n in s["rss"]}):
        series = [s["rss"][name] for s in after if name in s["rss"]]
        start = statistics.fmean(series[:window])
        end = statistics.fmean(series[-window:])
        growth = (end - start) / start if start else 0.0
        peak = max(series)
        summary["rss_mb"][name] = {
            "after_warmup": round(start, 1),
            "end": round(end, 1),
            "peak": round(peak, 1),
            "growth_pct": round(100 * growth, 1),
        }
        if peak >= RSS_LIMIT_MB:
            problems.append(f"{name}: RSS peaked at {peak:.0f} MB (limit {RSS_LIMIT_MB:.0f})")
        if growth > RSS_GROWTH_LIMIT:
            problems.append(f"{name}: RSS grew {100 * growth:.1f}% after the warm-up (limit 10%)")
    backlog_limit = 2 * rate  # two seconds of traffic
    for queue in sorted({q for s in after for q in s["depth"]}):
        points = [(s["t"], float(s["depth"].get(queue, 0))) for s in after]
        depths = [d for _, d in points]
        slope = _slope_per_minute(points)
        summary["queues"][queue] = {
            "max": int(max(depths)),
            "median": statistics.median(depths),
            "end": int(depths[-1]),
            "slope_per_min": round(slope, 1),
        }
        if depths[-1] > backlog_limit and slope > 0:
            problems.append(
                f"{queue}: growing ({depths[-1]:.0f} messages at the end, {slope:+.0f}/min): "
                f"consumers do not keep up with {rate:g}/s"
            )
    return summary, problems


@scenario(
    "soak",
    "steady load: RSS of every service flat (<10% growth after warm-up) and under 200 MB; no growing queue",
    long_only=True,
)
async def soak(stack: ChaosStack, size: Size, ui: Ui) -> Result:
    seconds, rate = size.soak_seconds, size.soak_rate
    warmup = min(60.0, seconds / 5)
    async with Run.start(stack, "soak", f"{rate:g} purchases/s for {seconds:g}s", ui) as run:
        purchases = run.purchases(int(seconds * rate))
        started = time.monotonic()
        load = run.publish_in_background(purchases, rate=rate)
        samples: list[dict[str, Any]] = []
        task = ui.task("soak: samples", int(seconds / SAMPLE_SECONDS))
        while not load.done():
            queues = await asyncio.to_thread(run.deployment.queues)
            samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    "rss": run.deployment.rss_mb(),
                    "depth": {
                        name: int(q.get("messages") or 0)
                        for name, q in queues.items()
                        if q.get("consumers") and not name.endswith(DEAD_LETTER_SUFFIX)
                    },
                    "load_average": load_average(),
                }
            )
            ui.update(task, len(samples))
            with_timeout = asyncio.wait({load}, timeout=SAMPLE_SECONDS)
            await with_timeout
        await load
        summary, problems = judge(samples, warmup_seconds=warmup, rate=rate)
        result = await run.finish(deadline_seconds=size.deadline_seconds, settle_seconds=size.settle_seconds)
        result.problems.extend(problems)
        loads = [s["load_average"][0] for s in samples if s["load_average"]]
        result.metrics |= {
            "seconds": seconds,
            "rate_per_s": rate,
            "warmup_seconds": warmup,
            **summary,
            "load_average_1m": {"min": min(loads, default=0), "max": max(loads, default=0)},
            "samples": samples,
        }
        result.recover_seconds = None
        return result
