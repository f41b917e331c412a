"""Where the time goes: the critical path of traces, summed by span.

A trace's critical path is the chain of work the end of the trace waited for: from the end
backwards, the span that finished last, then, before it started, the one that finished last
before that, and so on down the tree. Each stretch of it belongs to one span: to the span's
own work when it lies inside the span and no child covers it, or to the wait after the span
when it lies past the span's end (a message's ``create`` span is instantaneous, so the time
until its consumer starts is the broker and the consumer's backlog). Summed over the slowest
traces, the stretches say which spans a slow request or purchase waited for.

    python -m graceperiod.devstack.bench.traces var/traces/*.jsonl [--root NAME] [--slowest 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graceperiod.devstack.testkit.traces import SpanRecord, Trace, read_span_files, traces

#: Direct reply-to queue names carry a random token: one label for all of them.
_REPLY_TO = re.compile(r"amq\.rabbitmq\.reply-to\.\S+")


def label(span: SpanRecord, *, after: bool) -> str:
    """What a stretch of the critical path is, in words a person reads."""
    service = span.service.removeprefix("graceperiod-")
    name = _REPLY_TO.sub("amq.rabbitmq.reply-to", span.name)
    if name.endswith(" create"):
        return f"queue: {name.removesuffix(' create')} (broker, then the consumer's backlog)"
    if after:
        return f"{service}: after {name}"
    if name.startswith("rpc "):
        return f"{service}: {name} (request and reply in transit, not in the service)"
    return f"{service}: {name}"


@dataclass(frozen=True)
class Stretch:
    label: str
    ns: int


class CriticalPath:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self._ends: dict[str, int] = {}

    def subtree_end(self, span: SpanRecord) -> int:
        if span.span_id not in self._ends:
            self._ends[span.span_id] = max([span.end_ns, *(self.subtree_end(c) for c in self.trace.children(span))])
        return self._ends[span.span_id]

    def stretches(self, span: SpanRecord, until: int) -> list[Stretch]:
        """The critical path below ``span`` up to the instant ``until``."""
        found: list[Stretch] = []
        cursor = until
        for child in sorted(self.trace.children(span), key=self.subtree_end, reverse=True):
            if child.start_ns >= cursor:
                continue
            child_end = min(self.subtree_end(child), cursor)
            found.extend(self._own(span, child_end, cursor))
            found.extend(self.stretches(child, child_end))
            cursor = child.start_ns
        found.extend(self._own(span, span.start_ns, cursor))
        return found

    @staticmethod
    def _own(span: SpanRecord, start: int, end: int) -> list[Stretch]:
        """[start, end] of ``span``'s own time: inside it, or the wait after it ended."""
        inside = max(0, min(end, span.end_ns) - start)
        outside = max(0, end - max(start, span.end_ns))
        return [Stretch(label(span, after=after), ns) for after, ns in ((False, inside), (True, outside)) if ns > 0]


@dataclass(frozen=True)
class Walk:
    """One trace's critical path from its root to the instant that counts."""

    trace_id: str
    total_ms: float
    stretches: list[Stretch]


def walk(trace: Trace, *, until: Callable[[Trace], int | None] | None = None) -> Walk | None:
    """The critical path of the trace's first root, up to ``until(trace)`` (default: the end of
    everything under it); None when the trace has no root or ``until`` finds nothing."""
    roots = trace.roots
    if not roots:
        return None
    root = roots[0]
    path = CriticalPath(trace)
    end = until(trace) if until else path.subtree_end(root)
    if end is None or end <= root.start_ns:
        return None
    return Walk(trace.spans[0].trace_id, (end - root.start_ns) / 1e6, path.stretches(root, end))


def breakdown(walks: Sequence[Walk], *, top: int = 8) -> list[dict[str, Any]]:
    """Mean milliseconds per label over the walks, largest first, with its share of the mean total."""
    if not walks:
        return []
    sums: dict[str, float] = defaultdict(float)
    for one in walks:
        for stretch in one.stretches:
            sums[stretch.label] += stretch.ns / 1e6
    mean_total = statistics.fmean(w.total_ms for w in walks)
    rows = sorted(((name, total / len(walks)) for name, total in sums.items()), key=lambda r: -r[1])
    return [
        {"span": name, "mean_ms": round(ms, 2), "share": round(ms / mean_total, 3) if mean_total else 0.0}
        for name, ms in rows[:top]
    ]


def where_the_time_goes(walks: Sequence[Walk], *, top: int = 8) -> dict[str, Any]:
    """The slowest 1% of the walks (at least one) against the middle ones (40th-60th percentile)."""
    ordered = sorted(walks, key=lambda w: w.total_ms)
    if not ordered:
        return {"traces": 0}
    slow = ordered[-max(1, len(ordered) // 100) :]
    middle = ordered[int(len(ordered) * 0.4) : max(int(len(ordered) * 0.6), int(len(ordered) * 0.4) + 1)]
    return {
        "traces": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2].total_ms, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))].total_ms, 1),
        "slowest_1pct": {"traces": len(slow), "mean_ms": round(statistics.fmean(w.total_ms for w in slow), 1)},
        "slowest_1pct_spans": breakdown(slow, top=top),
        "median_spans": breakdown(middle, top=top),
        "slowest_trace_ids": [w.trace_id for w in slow[-3:]],
    }


def rooted_at(spans: Iterable[SpanRecord], root_prefix: str) -> list[Trace]:
    """The traces whose root span's name starts with ``root_prefix``."""
    return [t for t in traces(spans).values() if t.roots and t.roots[0].name.startswith(root_prefix)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Where the time of traces goes (critical path by span)")
    parser.add_argument("files", nargs="+", type=Path, help="TRACES_FILE outputs (JSON lines)")
    parser.add_argument("--root", default="", help="only traces whose root span's name starts with this")
    parser.add_argument("--slowest", type=int, default=1, help="print the slowest N traces as trees")
    args = parser.parse_args(argv)
    selected = rooted_at(read_span_files(args.files), args.root)
    walks = [w for t in selected if (w := walk(t)) is not None]
    summary = where_the_time_goes(walks)
    by_id = {t.spans[0].trace_id: t for t in selected}
    for walked in sorted(walks, key=lambda w: w.total_ms)[-args.slowest :]:
        print(f"\ntrace {walked.trace_id}: {walked.total_ms:.1f} ms\n{by_id[walked.trace_id].outline()}")
    print(f"\n{summary.get('traces', 0)} traces, p50 {summary.get('p50_ms')} ms, p99 {summary.get('p99_ms')} ms")
    for title, key in (("slowest 1%", "slowest_1pct_spans"), ("median", "median_spans")):
        print(f"\nwhere the time goes, {title}:")
        for row in summary.get(key, []):
            print(f"  {row['share']:>6.1%}  {row['mean_ms']:>9.1f} ms  {row['span']}")


if __name__ == "__main__":
    main()
