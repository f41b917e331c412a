"""OpenTelemetry tracing, configured once for every service.

Off by default, and then nothing is installed: no broker middleware, no MongoDB listener, no
HTTP middleware; the spans the adapters open go to OpenTelemetry's no-op tracer. It is on
when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``; OpenTelemetry's
other ``OTEL_*`` variables configure them, e.g. ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_TRACES_SAMPLER``) or ``TRACES_FILE`` names a file to append finished spans to as JSON
lines (what the benchmarks and tests read; ``{service}`` in its name is replaced by the
service's, so one setting serves every process). ``OTEL_SDK_DISABLED=true`` turns it off
whatever else is set.

Where the spans come from:

* the broker: FastStream's own ``RabbitTelemetryMiddleware`` (a span per publish and per
  message processed; the trace context travels in the message headers);
* RPC from the gateway: :class:`graceperiod.runtime.rpc.RpcClient` (a span per call, the
  context injected into the request's headers);
* HTTP: Litestar's OpenTelemetry middleware (:meth:`Tracing.http_middleware`);
* MongoDB: the maintained PyMongo instrumentation's command listener, given to each client
  (it works with PyMongo's async API: commands run in the calling task, so spans nest);
* AWS and SMTP: spans the adapters open themselves (:meth:`Tracing.tracer`), as nothing
  maintained instruments aiobotocore or aiosmtplib.

Each service has its own tracer provider (its ``service.name``), passed explicitly rather than
installed globally, so services sharing one process (tests, some benchmarks) stay apart.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from opentelemetry import trace
from opentelemetry.instrumentation.pymongo import CommandTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import NoOpTracer, Tracer

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send
    from pymongo.monitoring import CommandListener, CommandStartedEvent

    from graceperiod.runtime.settings import ServiceSettings

EXPORTERS = frozenset({"none", "otlp", "console"})
_NO_OP = NoOpTracer()


def exporter_names(value: str) -> list[str]:
    """``OTEL_TRACES_EXPORTER`` as OpenTelemetry reads it: a comma-separated list."""
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - EXPORTERS)
    if unknown:
        msg = f"OTEL_TRACES_EXPORTER: unknown exporter(s) {', '.join(unknown)} (known: {', '.join(sorted(EXPORTERS))})"
        raise ValueError(msg)
    return [name for name in names if name != "none"]


def _sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def span_line(span: ReadableSpan) -> str:
    """One finished span as one JSON line (OpenTelemetry's own JSON form, unindented)."""
    return str(span.to_json(indent=None)) + "\n"


def file_exporter(path: Path) -> SpanExporter:
    """Appends finished spans to ``path``, one JSON object a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out: IO[str] = path.open("a", encoding="utf-8")  # closed at exit with the process
    return ConsoleSpanExporter(out=out, formatter=span_line)


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    # Imported only when asked for: it brings protobuf and an HTTP client.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

    return OTLPSpanExporter()


@dataclass(frozen=True)
class Tracing:
    """A service's tracing: its tracer provider, or ``None`` when tracing is off."""

    provider: TracerProvider | None = None

    @classmethod
    def off(cls) -> Tracing:
        return cls(None)

    @classmethod
    def for_service(cls, settings: ServiceSettings, service: str) -> Tracing:
        """The service's tracing as the settings ask for (off unless an exporter or file is named)."""
        exporters: list[SpanExporter] = [_exporter(name) for name in exporter_names(settings.otel_traces_exporter)]
        if settings.traces_file is not None:
            exporters.append(file_exporter(Path(str(settings.traces_file).replace("{service}", service))))
        if not exporters or _sdk_disabled():
            return cls.off()
        return cls.with_exporters(service, exporters, batch=True)

    @classmethod
    def with_exporters(cls, service: str, exporters: Sequence[SpanExporter], *, batch: bool) -> Tracing:
        """Tracing into the given exporters (tests pass an in-memory one with ``batch=False``).
        The batch processor reads OpenTelemetry's ``OTEL_BSP_*`` variables (queue size, delay)."""
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"graceperiod-{service}"}))
        for exporter in exporters:
            provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        return cls(provider)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def tracer(self, name: str) -> Tracer:
        """A tracer for the spans a module opens itself (OpenTelemetry's no-op one when off)."""
        return _NO_OP if self.provider is None else self.provider.get_tracer(name)

    def broker_middlewares(self) -> tuple[Any, ...]:
        """FastStream's RabbitMQ telemetry middleware, when on."""
        if self.provider is None:
            return ()
        return (RabbitTelemetryMiddleware(tracer_provider=self.provider),)

    def mongo_listeners(self) -> list[CommandListener]:
        """The PyMongo instrumentation's command listener for one client, when on."""
        if self.provider is None:
            return []
        return [CommandTracer(self.tracer("opentelemetry.instrumentation.pymongo"), request_hook=_name_mongo_span)]

    def http_middleware(self) -> list[Any]:
        """Litestar's OpenTelemetry middleware (a server span per request, around the routing),
        and one that names that span after the route it reached; nothing when off."""
        if self.provider is None:
            return []
        # Litestar is the gateway's dependency, not the runtime's: only the gateway calls this.
        from litestar.plugins.opentelemetry import OpenTelemetryConfig  # noqa: PLC0415

        config = OpenTelemetryConfig(
            tracer_provider=self.provider,
            scope_span_details_extractor=_http_span_details,
            exclude_spans=["receive", "send"],  # one span per request, not one per ASGI message
            exclude=["^/health", "^/ready", "^/metrics", "^/static/"],
        )
        return [config.middleware, _NameByRoute]

    def flush(self) -> None:
        """Export what is buffered (at shutdown: a stopping service loses no spans)."""
        if self.provider is not None:
            self.provider.force_flush()


def _name_mongo_span(span: trace.Span, event: CommandStartedEvent) -> None:
    """``mongodb find purchases`` rather than ``graceperiod_revocation.find``."""
    collection = event.command.get(event.command_name)
    target = collection if isinstance(collection, str) else event.database_name
    span.update_name(f"mongodb {event.command_name} {target}")


def _http_span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The method alone until the route is known (OpenTelemetry's HTTP conventions): never the
    concrete path, whose ids would make every request's span name different."""
    return str(scope.get("method", "HTTP")).strip(), {}


class _NameByRoute:
    """Renames the request's span ``GET /api/purchases/{purchase_id}/revoke`` once the router
    has matched a route (Litestar runs the OpenTelemetry middleware before routing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get("path_template")
        method = scope.get("method")  # HTTP requests only (not websockets)
        if route and method:
            span = trace.get_current_span()
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        await self.app(scope, receive, send)
