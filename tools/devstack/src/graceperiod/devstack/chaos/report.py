"""The results table (rich, for the terminal; Markdown, for docs/reliability.md) and JSON."""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from graceperiod.devstack.chaos.results import Result, load_average
from graceperiod.devstack.chaos.sizes import Size

DOC_BEGIN = "<!-- chaos:begin (written by `make chaos`; do not edit by hand) -->"
DOC_END = "<!-- chaos:end -->"
COLUMNS = (
    "scenario",
    "status",
    "inputs sent",
    "effects expected",
    "effects observed",
    "lost",
    "duplicated",
    "time to recover",
    "publish retries",
    "took",
)
#: Measurements of the cluster scenarios, listed under the table.
CLUSTER_KEYS = (
    "killed",
    "queues_it_led",
    "new_leaders_after_s",
    "minority",
    "majority_saw_it_gone_s",
    "haproxy_marked_down_s",
    "partitioned_s",
    "notifier_unacked_at_cut",
    "restart_s",
    "longest_unconfirmed_s",
    "publisher_reconnects",
    "publish_failure_kinds",
    "gateway_not_ready_s",
    "handler_retries",
    "queues_by_members_online_after",
)


def _cells(result: Result) -> list[str]:
    if result.pending is not None:
        return [result.scenario, "pending", *["-"] * (len(COLUMNS) - 2)]
    recover = f"{result.recover_seconds:.1f} s" if result.recover_seconds is not None else "-"
    retries = result.metrics.get("publish_retries")
    return [
        result.scenario,
        result.status,
        str(result.inputs_sent),
        str(result.effects_expected),
        str(result.effects_observed),
        str(result.lost),
        str(result.duplicated),
        recover,
        "-" if retries is None else str(retries),
        f"{result.seconds:.0f} s",
    ]


def _extra(result: Result) -> list[str]:
    lines = [f"pending: {result.pending}"] if result.pending else []
    lines += [f"PROBLEM: {p}" for p in result.problems]
    lines += result.notes
    keys: tuple[str, ...] = (
        "ratio_two_vs_one",
        "one_replica_purchases_per_s",
        "two_replicas_purchases_per_s",
        "rss_mb",
        "queues",
    )
    if result.scenario.startswith("cluster-"):
        keys += CLUSTER_KEYS
    lines += [f"{k}: {result.metrics[k]}" for k in keys if k in result.metrics]
    return lines


def print_table(results: Sequence[Result], console: Console, *, title: str) -> None:
    table = Table(title=title, title_justify="left", min_width=110)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("scenario", "status") else "right")
    for result in results:
        style = {"pass": "green", "bounded": "yellow", "FAIL": "bold red", "pending": "yellow"}[result.status]
        cells = _cells(result)
        cells[1] = f"[{style}]{cells[1]}[/]"
        table.add_row(*cells)
    console.print(table)
    for result in results:
        for line in _extra(result):
            console.print(f"  [dim]{result.scenario}:[/] {line}", soft_wrap=True)


def markdown(results: Sequence[Result], *, size: Size, when: str) -> str:
    head = f"Measured {when} (size `{size.name}`: {size.purchases} purchases at {size.rate:g}/s, "
    head += f"outages {size.outage_seconds:g} s), {platform.node() or 'this machine'}, load average "
    head += f"{' '.join(f'{x:.2f}' for x in load_average())} at the end.\n\n"
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    rows += ["| " + " | ".join(_cells(r)) + " |" for r in results]
    notes = [f"* **{r.scenario}**: {line}" for r in results for line in _extra(r)]
    return head + "\n".join(rows) + "\n\n" + "\n".join(notes) + "\n"


def write_doc_section(doc: Path, text: str, *, size: str, scenarios: Collection[str]) -> bool:
    """Put ``text`` (one run's :func:`markdown` block) into the marked section of ``doc``, merged
    per scenario and size: the rows and notes of ``scenarios`` at ``size`` leave the blocks of
    earlier runs (a block left without rows goes), every other row and size stays. False when
    the markers are missing."""
    if not doc.exists():
        return False
    content = doc.read_text()
    if DOC_BEGIN not in content or DOC_END not in content:
        return False
    before, rest = content.split(DOC_BEGIN, 1)
    section, after = rest.split(DOC_END, 1)
    doc.write_text(
        f"{before}{DOC_BEGIN}\n{merge_section(section, text, size=size, scenarios=scenarios)}{DOC_END}{after}"
    )
    return True


def merge_section(section: str, text: str, *, size: str, scenarios: Collection[str]) -> str:
    """The section with ``text`` in place of the earlier results of ``scenarios`` at ``size``:
    the new block goes where the first block of that size was (else last)."""
    blocks = [b for b in re.split(r"(?m)^(?=Measured )", section.strip("\n")) if b.strip()]
    kept: list[str] = []
    position: int | None = None
    for block in blocks:
        if _block_size(block) != size:
            kept.append(block)
            continue
        position = len(kept) if position is None else position
        if (trimmed := _without(block, scenarios)) is not None:
            kept.append(trimmed)
    kept.insert(len(kept) if position is None else position, text)
    return "\n".join(block.strip("\n") + "\n" for block in kept)


def _block_size(block: str) -> str | None:
    match = re.search(r"\(size `(\w+)`", block.splitlines()[0])
    return match.group(1) if match else None


def _without(block: str, scenarios: Collection[str]) -> str | None:
    """``block`` without the table rows and notes of ``scenarios``; None when no row is left."""

    def named(line: str) -> str | None:
        row = re.match(r"\| ([\w-]+) \|", line)
        note = re.match(r"\* \*\*([\w-]+)\*\*:", line)
        found = row or note
        return found.group(1) if found else None

    lines = [line for line in block.splitlines() if named(line) not in scenarios]
    rows = [line for line in lines if re.match(r"\| [\w-]+ \|", line) and not line.startswith("| scenario |")]
    return "\n".join(lines) + "\n" if rows else None


def write_json(results: Sequence[Result], out: Path, *, size: Size, seconds: float) -> Path:
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "seconds": round(seconds, 1),
        "size": size.name,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "load_average_end": load_average(),
        "results": [r.as_json() for r in results],
    }
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    latest = out / "latest.json"
    for path in (out / f"chaos-{stamp}.json", latest):
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return latest
