"""Finished spans as tests and benchmarks read them: from an in-memory exporter or from the
JSON-lines files ``TRACES_FILE`` makes a service write, grouped into traces."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def _hex(value: int | str | None) -> str | None:
    if value is None:
        return None
    return f"{value:032x}" if isinstance(value, int) else value.removeprefix("0x")


def _ns(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass(frozen=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)
    error: bool = False

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @classmethod
    def of(cls, span: ReadableSpan) -> SpanRecord:
        context, parent = span.context, span.parent
        assert context is not None
        assert span.start_time is not None
        assert span.end_time is not None
        return cls(
            trace_id=f"{context.trace_id:032x}",
            span_id=f"{context.span_id:016x}",
            parent_id=f"{parent.span_id:016x}" if parent is not None else None,
            name=span.name,
            service=str(span.resource.attributes.get("service.name", "")),
            start_ns=span.start_time,
            end_ns=span.end_time,
            attributes=dict(span.attributes or {}),
            error=span.status.status_code.name == "ERROR",
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpanRecord:
        """One line of a ``TRACES_FILE`` (OpenTelemetry's ``ReadableSpan.to_json``)."""
        return cls(
            trace_id=str(_hex(data["context"]["trace_id"])),
            span_id=str(_hex(data["context"]["span_id"])),
            parent_id=_hex(data.get("parent_id")),
            name=data["name"],
            service=str(data.get("resource", {}).get("attributes", {}).get("service.name", "")),
            start_ns=_ns(data["start_time"]),
            end_ns=_ns(data["end_time"]),
            attributes=data.get("attributes") or {},
            error=(data.get("status") or {}).get("status_code") == "ERROR",
        )


def read_span_files(paths: Iterable[Path]) -> list[SpanRecord]:
    spans: list[SpanRecord] = []
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as lines:
            spans.extend(SpanRecord.from_json(json.loads(line)) for line in lines if line.strip())
    return spans


class Trace:
    """The spans of one trace, as a tree."""

    def __init__(self, spans: Iterable[SpanRecord]) -> None:
        self.spans = sorted(spans, key=lambda s: s.start_ns)
        self.by_id = {s.span_id: s for s in self.spans}
        self._children: dict[str | None, list[SpanRecord]] = defaultdict(list)
        for span in self.spans:
            parent = span.parent_id if span.parent_id in self.by_id else None
            self._children[parent].append(span)

    @property
    def roots(self) -> list[SpanRecord]:
        return list(self._children[None])

    def children(self, span: SpanRecord) -> list[SpanRecord]:
        return list(self._children[span.span_id])

    def ancestors(self, span: SpanRecord) -> Iterator[SpanRecord]:
        current = self.by_id.get(span.parent_id or "")
        while current is not None:
            yield current
            current = self.by_id.get(current.parent_id or "")

    def named(self, prefix: str, *, service: str | None = None) -> list[SpanRecord]:
        return [s for s in self.spans if s.name.startswith(prefix) and (service is None or s.service == service)]

    def one(self, prefix: str, *, service: str | None = None) -> SpanRecord:
        found = self.named(prefix, service=service)
        assert found, f"no span named {prefix!r}{f' in {service}' if service else ''}; spans: {self.outline()}"
        return found[0]

    def outline(self) -> str:
        """The tree as indented lines (service, name, milliseconds): for failure messages and reading."""
        lines: list[str] = []

        def walk(span: SpanRecord, depth: int) -> None:
            lines.append(f"{'  ' * depth}{span.service}: {span.name} ({span.ms:.1f} ms)")
            for child in self.children(span):
                walk(child, depth + 1)

        for root in self.roots:
            walk(root, 0)
        return "\n".join(lines)


def traces(spans: Iterable[SpanRecord]) -> dict[str, Trace]:
    grouped: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        grouped[span.trace_id].append(span)
    return {trace_id: Trace(members) for trace_id, members in grouped.items()}
