"""A plot per scenario of its figures across the runs kept in ``var/bench/`` (matplotlib).

Each ``bench-<stamp>.json`` a run wrote is one point in time; each of a scenario's numeric
figures is one small chart (value against run time), with its target as a dashed line when
issue 15 sets one; ``--quick`` runs are crosses (smaller sizes: not comparable with the dots).
Written to ``var/bench/plots/<scenario>.png``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # files only, no display

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from graceperiod.devstack.bench.targets import TARGETS, Figures

MAX_CHARTS = 12  # per scenario: the figures with a target first, then the others in order

Series = dict[str, list[tuple[datetime, float, bool]]]
"""figure name → [(run time, value, quick run)]"""


def runs(directory: Path) -> list[tuple[datetime, Figures, bool]]:
    """The kept runs, oldest first (files that do not parse are skipped)."""
    found: list[tuple[datetime, Figures, bool]] = []
    for path in sorted(directory.glob("bench-*.json")):
        try:
            report = json.loads(path.read_text())
            when = datetime.fromisoformat(report["when"])
        except (OSError, ValueError, KeyError):
            continue
        found.append((when, report.get("results", {}), bool(report.get("quick"))))
    return found


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def series_by_result(history: list[tuple[datetime, Figures, bool]]) -> dict[str, Series]:
    """result name → its figures' series."""
    found: dict[str, Series] = defaultdict(lambda: defaultdict(list))
    for when, results, quick in history:
        for name, metrics in results.items():
            for metric, value in metrics.items():
                if _numeric(value):
                    found[name][metric].append((when, float(value), quick))
    return found


def _target_lines(result: str) -> dict[str, float]:
    """Figure name → target, for the rows that read a figure of ``result`` as it is."""
    return {t.reads[1]: t.target for t in TARGETS if t.reads[0] == result and t.compute is None}


def plot(result: str, series: Series, out: Path) -> Path:
    targets = _target_lines(result)
    metrics = sorted(series, key=lambda m: (m not in targets, list(series).index(m)))[:MAX_CHARTS]
    columns = min(3, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for quick, marker in ((False, "o"), (True, "x")):
            points = [p for p in series[metric] if p[2] is quick]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, color="tab:blue")
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))  # type: ignore[no-untyped-call]
        if metric in targets:
            ax.axhline(targets[metric], linestyle="--", color="tab:red", label=f"target {targets[metric]:g}")
            ax.legend(fontsize=7)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    figure.suptitle(f"{result} across {max(len(s) for s in series.values())} runs")
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result}.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def write_plots(directory: Path) -> list[Path]:
    """One PNG per scenario result found in the kept runs."""
    return [plot(name, series, directory / "plots") for name, series in series_by_result(runs(directory)).items()]
