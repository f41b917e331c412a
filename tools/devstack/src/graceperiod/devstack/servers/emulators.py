"""What the two cloud emulators (``aws_endpoint``, ``azure_endpoint``) share: the WSGI server on a
background thread or in the foreground until SIGTERM/SIGINT (one that keeps connections open, as
the clouds' endpoints do: :class:`KeepAliveServer`), the plumbing of their control
APIs under ``/_emulator`` (routing, JSON answers, bad input answered 400 with what was wrong),
and the base of their control API clients."""

from __future__ import annotations

import contextlib
import json
import signal
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import httpx
from cheroot.wsgi import Server as CherootServer
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from graceperiod.runtime.clock import AdjustableClock


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        """One line per request drowns the log; the control API has the call log instead."""


class WsgiServer(Protocol):
    """What an emulator needs of its server (werkzeug's ``BaseWSGIServer`` has it)."""

    host: str
    port: int

    def serve_forever(self) -> None: ...

    def shutdown(self) -> None: ...

    def server_close(self) -> None: ...


class KeepAliveServer:
    """A threaded WSGI server that keeps each connection open between requests (cheroot, HTTP/1.1),
    as AWS's endpoints do for botocore. werkzeug's development server closes every connection, so
    each call of a client paid a new TCP connection on both sides (and a new thread here), which
    production does not. Responses without a ``Content-Length`` are sent chunked."""

    def __init__(self, host: str, port: int, app: Callable[..., Any], *, threads: int = 32) -> None:
        # Enough threads for the tests' slow-response faults (a sleeping call holds one); idle
        # kept-alive connections hold none (up to 256 of them, each client's pool; cheroot keeps
        # 10), and stay open a minute (longer than clients keep them). A listen backlog as
        # werkzeug's (cheroot's is 5: a burst of new connections would wait for SYN retries).
        self._server = CherootServer((host, port), app, numthreads=threads, timeout=60, request_queue_size=128)
        self._server.keep_alive_conn_limit = 256
        self._server.prepare()  # bound and listening: the port is known
        self.host, self.port = self._server.bind_addr[:2]

    def serve_forever(self) -> None:
        self._server.serve()

    def shutdown(self) -> None:
        self._server.stop()

    def server_close(self) -> None:
        """Closed by :meth:`shutdown` already."""


class ThreadedEndpoint:
    """An emulator's server in a background thread (``python -m`` runs it in the foreground)."""

    def __init__(self, server: WsgiServer, thread_name: str) -> None:
        self._server = server
        self._thread_name = thread_name
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)


def run_until_signalled(endpoint: ThreadedEndpoint, banner: str) -> None:
    """Serve, say ``banner`` (the address), and stop cleanly on SIGTERM or SIGINT."""
    endpoint.start()
    print(banner, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    endpoint.stop()


def parse_iso(value: str) -> datetime:
    """An ISO 8601 instant as the clouds write it (``Z`` or an offset); without one, UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(type(value).__name__)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=_json_default), status, content_type="application/json")


#: The control routes every emulator answers (path, name of its handler, methods).
COMMON_ROUTES = (
    ("/health", "health", ["GET"]),
    ("/reset", "reset", ["POST"]),
    ("/state", "state", ["GET"]),
    ("/clock", "clock", ["GET", "POST"]),
    ("/config", "config", ["GET", "POST"]),
    ("/faults", "faults", ["GET", "POST", "DELETE"]),
    ("/calls", "calls", ["GET"]),
)


class Emulator(Protocol):
    """What every emulator's state offers the common routes."""

    clock: AdjustableClock

    def now(self) -> datetime: ...

    def set_clock(
        self, *, now: datetime | None = None, offset_seconds: float | None = None, real: bool = False
    ) -> None: ...

    def reset(self) -> None: ...


E = TypeVar("E", bound=Emulator)


class ControlApi(Generic[E]):
    """Routes ``/_emulator<path>`` to the method ``_<name>`` of a subclass (``COMMON_ROUTES`` and
    the emulator's own ``rules``: path, name, methods); an unknown route is a 404, input the
    handler refuses (``refused``) a 400. Health, reset and the clock are answered here."""

    refused: ClassVar[tuple[type[Exception], ...]] = (KeyError, ValueError, TypeError)

    def __init__(self, emulator: E, rules: list[tuple[str, str, list[str]]]) -> None:
        self.emulator = emulator
        self.routes = Map(
            [
                Rule(f"/_emulator{path}", endpoint=name, methods=methods)
                for path, name, methods in (*COMMON_ROUTES, *rules)
            ]
        )

    def serialised(self) -> contextlib.AbstractContextManager[object]:
        """Held while a handler runs (the Azure emulator takes its state lock)."""
        return contextlib.nullcontext()

    def __call__(self, request: Request) -> Response:
        try:
            endpoint, args = self.routes.bind_to_environ(request.environ).match()
            handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
            with self.serialised():
                return handler(request, **args)
        except NotFound:
            return json_response({"error": f"no control route {request.method} {request.path}"}, 404)
        except HTTPException as exc:
            return json_response({"error": str(exc)}, exc.code or 400)
        except self.refused as exc:
            return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)

    def _health(self, request: Request) -> Response:
        return json_response({"ok": True, "now": self.emulator.now()})

    def _reset(self, request: Request) -> Response:
        self.emulator.reset()
        return json_response({"ok": True})

    def _clock(self, request: Request) -> Response:
        if request.method == "POST":
            spec = request.get_json(force=True)
            self.emulator.set_clock(
                now=parse_iso(spec["now"]) if spec.get("now") else None,
                offset_seconds=spec.get("offset_seconds"),
                real=bool(spec.get("real")),
            )
        return json_response({"now": self.emulator.now(), "frozen": self.emulator.clock.frozen})


class EmulatorError(RuntimeError):
    """The control API refused a call (its status and answer are in the message)."""


class ControlClient:
    """A client of an emulator's control API (``/_emulator/...``)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/_emulator", timeout=timeout, verify=verify)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = await self._client.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            msg = f"{method} {path}: {response.status_code} {response.text}"
            raise EmulatorError(msg)
        return response.json()
