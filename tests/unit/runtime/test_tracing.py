"""Tracing wiring without servers: off by default with nothing installed; on, the broker's
spans link a consumer to the handler that published to it, RPC requests carry the trace
context, HTTP spans are named by route, and spans reach a file as JSON lines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from faststream.rabbit import TestRabbitBroker
from litestar import Litestar, get
from litestar.params import PathParameter
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer

from graceperiod.devstack.testkit.traces import SpanRecord, Trace, read_span_files
from graceperiod.runtime.messaging import build_broker
from graceperiod.runtime.rpc import _headers
from graceperiod.runtime.settings import ServiceSettings
from graceperiod.runtime.tracing import Tracing, _name_mongo_span


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Tracing:
    return Tracing.with_exporters("unit", [exporter], batch=False)


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "TRACES_FILE", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)


def test_tracing_is_off_by_default_and_installs_nothing() -> None:
    tracing = Tracing.for_service(ServiceSettings(), "unit")

    assert not tracing.enabled
    assert tracing.broker_middlewares() == ()
    assert tracing.mongo_listeners() == []
    assert tracing.http_middleware() == []
    assert isinstance(tracing.tracer("x"), NoOpTracer)
    assert "traceparent" not in (_headers("req-1") or {})
    # The broker of a service with tracing off has the reliability middleware and nothing else.
    assert len(build_broker(ServiceSettings(), app_id="unit").middlewares) == 1


def test_the_standard_variables_turn_it_on_and_otel_sdk_disabled_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert Tracing.for_service(ServiceSettings(), "unit").enabled
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not Tracing.for_service(ServiceSettings(), "unit").enabled


def test_an_unknown_exporter_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp,jaeger")
    with pytest.raises(ValueError, match="unknown exporter"):
        ServiceSettings()


def test_spans_reach_the_traces_file_as_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACES_FILE", str(tmp_path / "spans.jsonl"))
    tracing = Tracing.for_service(ServiceSettings(), "unit")
    tracer = tracing.tracer("test")
    with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner"):
        pass
    tracing.flush()

    spans = {s.name: s for s in read_span_files([tmp_path / "spans.jsonl"])}
    assert set(spans) == {"outer", "inner"}
    assert spans["inner"].parent_id == spans["outer"].span_id
    assert spans["outer"].service == "graceperiod-unit"
    assert spans["inner"].trace_id == spans["outer"].trace_id


async def test_a_consumer_span_descends_from_the_handler_that_published(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    broker = build_broker(ServiceSettings(), app_id="unit", tracing=tracing)
    done = asyncio.Event()

    @broker.subscriber("first")
    async def first(body: dict[str, Any]) -> None:
        await broker.publish(body, queue="second", content_type="application/json")

    @broker.subscriber("second")
    async def second(body: dict[str, Any]) -> None:
        done.set()

    async with TestRabbitBroker(broker):
        await broker.publish({"n": 1}, queue="first", content_type="application/json")
        await asyncio.wait_for(done.wait(), 5)

    trace = Trace(SpanRecord.of(s) for s in exporter.get_finished_spans())
    outer = trace.one("default.first process")
    inner = trace.one("default.second process")
    assert inner.trace_id == outer.trace_id, trace.outline()
    assert outer in trace.ancestors(inner), trace.outline()


def test_an_rpc_request_carries_the_current_trace_context(tracing: Tracing) -> None:
    with tracing.tracer("test").start_as_current_span("caller") as span:
        headers = _headers("req-1") or {}
    trace_id = f"{span.get_span_context().trace_id:032x}"
    assert headers["x-request-id"] == "req-1"
    assert headers["traceparent"].split("-")[1] == trace_id


async def test_http_spans_are_named_after_the_route_not_the_path(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    @get("/items/{item_id:str}")
    async def item(item_id: Annotated[str, PathParameter()]) -> str:
        return item_id

    app = Litestar([item], middleware=tracing.http_middleware())
    async with AsyncTestClient(app) as client:
        assert (await client.get("/items/abc-123")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404

    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == ["GET", "GET /items/{item_id}"]


def test_mongodb_spans_name_the_command_and_the_collection(tracing: Tracing) -> None:
    with tracing.tracer("test").start_as_current_span("db.find") as span:
        event = SimpleNamespace(command_name="find", command={"find": "purchases"}, database_name="graceperiod_x")
        _name_mongo_span(span, event)  # type: ignore[arg-type]
        assert span.name == "mongodb find purchases"  # type: ignore[attr-defined]
    assert len(tracing.mongo_listeners()) == 1
