"""Gateway load measurements (issue 5), for the lead to wire into ``make bench``.

Three numbers against a running gateway, from a loopback load generator in the same run:

* the baseline: ``GET /health`` — the same app, the same middleware stack, no I/O;
* the purchases list: ``GET /api/purchases`` — one RPC to the revocation service;
* the email-link page: ``GET /api/purchases/{id}/revoke?token=…`` at a fixed offered rate, each
  request another purchase's link (the target), and beside it one link opened by a crowd;
* :func:`history` (issue 16): the History's first screen for one signed-in user, one request at
  a time (p50 <= 150 ms), beside ``/health`` measured the same way, and the whole CSV export
  streamed (< 2 s for 10,000 rows).

Targets: purchases list ≥ 30% of the baseline's req/s; email-link GET p99 < 20 ms at 200 req/s.

The load generator is a small HTTP/1.1 keep-alive client on raw asyncio streams (httpx costs
about a millisecond of CPU per request, which on a two-core machine would measure the client).
Closed loop (saturation): ``concurrency`` connections each send their next request when the
previous answer arrived. Open loop (fixed rate): requests are *scheduled* at ``rate`` per second
and latency counts from the scheduled instant, so a slow server cannot hide its queueing
(no coordinated omission).

Run the gateway in another process (the stack, or ``--serve-demo`` below: the gateway over the
in-memory demo service port, for trying the tool without the stack), then::

    python -m graceperiod.devstack.bench.gateway --url http://127.0.0.1:8080 \\
        --token "$(curl -s -XPOST http://127.0.0.1:8080/dev/token/u-admin | jq -r .access_token)" \\
        --link-path '/api/purchases/<id>/revoke?token=<link token>' ...

The public-route rate limit must be off for the email-link scenario
(``GATEWAY_PUBLIC_RATE_PER_MINUTE=0``); throttled answers are counted as errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from graceperiod.devstack.bench.core import MachineCpu


@dataclass(frozen=True)
class Request:
    """One GET of a mix: its path and query, and its own headers (whose token it carries)."""

    path: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    req_per_s: float
    p50_ms: float
    p99_ms: float
    offered_rate: float | None = None
    statuses: dict[int, int] = field(default_factory=dict)
    machine: dict[str, float] = field(default_factory=dict)
    """The machine's busy cores and CPU per request, warm-up included."""


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads Content-Length bodies."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        self._host, self._port = host, port
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {host}:{port}\r\n{extra}Connection: keep-alive\r\n\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> int:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()).encode()
        self._writer.write(f"GET {path} HTTP/1.1\r\n".encode() + extra + self._head)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
            elif name.lower() == "transfer-encoding":
                msg = "chunked responses are not supported by this load generator"
                raise RuntimeError(msg)
        if length:
            await self._reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
        self._reader = self._writer = None


def _result(
    name: str,
    latencies: list[float],
    statuses: dict[int, int],
    seconds: float,
    *,
    rate: float | None,
    machine: dict[str, float],
) -> Result:
    ordered = sorted(latencies)
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    total = sum(statuses.values())
    return Result(
        name=name,
        requests=total,
        errors=total - ok,
        seconds=round(seconds, 3),
        req_per_s=round(ok / seconds, 1) if seconds else 0.0,
        p50_ms=round(_percentile(ordered, 0.50) * 1000, 2),
        p99_ms=round(_percentile(ordered, 0.99) * 1000, 2),
        offered_rate=rate,
        statuses=statuses,
        machine=machine,
    )


async def saturate(
    name: str,
    base_url: str,
    path: str | Sequence[Request],
    *,
    headers: Mapping[str, str] | None = None,
    concurrency: int = 16,
    duration: float = 10.0,
    warmup: float = 1.0,
) -> Result:
    """Closed loop: as fast as the server answers, with ``concurrency`` connections. A mix of
    requests: connection ``k`` sends them in turn from the ``k``-th on, so requests in flight at
    once are mostly different ones."""
    mix = [Request(path)] if isinstance(path, str) else list(path)
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answered = 0  # warm-up included, as the machine's CPU is
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + duration

    async def worker(k: int) -> None:
        nonlocal answered
        connection = _Connection(host, port, headers or {})
        try:
            while (now := time.perf_counter()) < stop_at:
                request = mix[k % len(mix)]
                k += 1
                status = await connection.get(request.path, request.headers)
                answered += 1
                if now >= measure_from:
                    latencies.append(time.perf_counter() - now)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            await connection.close()

    with MachineCpu() as machine:
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    seconds = time.perf_counter() - measure_from
    return _result(name, latencies, statuses, seconds, rate=None, machine=machine.figures(answered, "request"))


async def fixed_rate(
    name: str,
    base_url: str,
    path: str | Sequence[str],
    *,
    rate: float = 200.0,
    duration: float = 10.0,
    headers: Mapping[str, str] | None = None,
    max_connections: int = 64,
) -> Result:
    """Open loop: ``rate`` requests per second, scheduled; latency from the scheduled instant.
    Several paths: request ``i`` asks for ``path[i % len(path)]``."""
    paths = [path] if isinstance(path, str) else list(path)
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    opened = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = int(rate * duration)
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        nonlocal opened
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        if idle.empty() and opened < max_connections:
            opened += 1
            connection = _Connection(host, port, headers or {})
        else:
            connection = await idle.get()
        try:
            status = await connection.get(paths[i % len(paths)])
        except (OSError, asyncio.IncompleteReadError):
            status = 599
            await connection.close()
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1
        idle.put_nowait(connection)

    with MachineCpu() as machine:
        await asyncio.gather(*(one(i) for i in range(total)))
    seconds = time.perf_counter() - start
    while not idle.empty():
        await idle.get_nowait().close()
    return _result(name, latencies, statuses, seconds, rate=rate, machine=machine.figures(total, "request"))


async def run(
    base_url: str,
    *,
    bearer_token: str,
    link_path: str | None,
    distinct_link_paths: Sequence[str] = (),
    list_mix: Sequence[Request] = (),
    duration: float = 10.0,
    concurrency: int = 16,
    link_rate: float = 200.0,
) -> dict[str, Any]:
    """The issue's three measurements in one run, with the targets checked. The list's target
    row asks ``list_mix`` (callers, filters, sorts and cursors: what many people browsing ask);
    beside it, everyone asking the same first page (what shared identical reads serve)."""
    auth = {"Authorization": f"Bearer {bearer_token}"}
    baseline = await saturate("baseline GET /health", base_url, "/health", concurrency=concurrency, duration=duration)
    same = await saturate(
        "GET /api/purchases, one request",
        base_url,
        "/api/purchases?limit=50",
        headers=auth,
        concurrency=concurrency,
        duration=duration,
    )
    purchases = (
        await saturate("GET /api/purchases, a mix", base_url, list_mix, concurrency=concurrency, duration=duration)
        if list_mix
        else same
    )
    results: dict[str, Any] = {
        "baseline": asdict(baseline),
        "purchases_list": asdict(purchases),
        "purchases_vs_baseline": round(purchases.req_per_s / baseline.req_per_s, 3) if baseline.req_per_s else None,
        "purchases_same_request": asdict(same),
        "purchases_requests_in_mix": len(list_mix) or 1,
        "targets": {"purchases_list_min_share_of_baseline": 0.30, "email_link_p99_ms_at_200_rps": 20.0},
    }
    if distinct_link_paths:  # the target: each view another purchase's link (recipients clicking their own)
        link = await fixed_rate(
            "GET email-link page, distinct links", base_url, distinct_link_paths, rate=link_rate, duration=duration
        )
        results["email_link"] = asdict(link)
        results["email_link_meets_target"] = link.errors == 0 and link.p99_ms < 20.0
    if link_path:  # beside it: one link opened by a crowd (a mail scanner, a recipient refreshing)
        crowd = await fixed_rate(
            "GET email-link page, one link", base_url, link_path, rate=link_rate, duration=duration
        )
        results["email_link_one_link"] = asdict(crowd)
    results["purchases_meets_target"] = purchases.errors == 0 and (results["purchases_vs_baseline"] or 0) >= 0.30
    return results


_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
#: Issue 16's targets: the History's first screen (server time, one user) and a full CSV export.
HISTORY_P50_TARGET_MS = 150.0
EXPORT_TARGET_S = 2.0


async def _session_cookie(base_url: str, user_id: str) -> str:
    """A dashboard session through the dev sign-in (``GATEWAY_DEV_SIGN_IN=true``)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = await client.get("/sign-in")
        match = _CSRF.search(page.text)
        if match is None:
            msg = f"no sign-in form: {page.status_code} {page.text[:200]}"
            raise RuntimeError(msg)
        await client.post("/sign-in", data={"user_id": user_id, "next": "/", "_csrf_token": match.group(1)})
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def _export_seconds(base_url: str, bearer_token: str) -> tuple[float, int]:
    """How long the whole CSV export takes to stream, and its data rows."""
    started = time.perf_counter()
    rows = -1  # the header line
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60.0) as client,
        client.stream("GET", "/api/purchases/export.csv", headers={"Authorization": f"Bearer {bearer_token}"}) as got,
    ):
        got.raise_for_status()
        async for _ in got.aiter_lines():
            rows += 1
    return time.perf_counter() - started, rows


async def history(base_url: str, *, bearer_token: str, duration: float) -> dict[str, Any]:
    """The History's first screen as one signed-in admin sees it (one request at a time, so
    server time), beside ``/health`` measured the same way in the same run; then the whole CSV
    export (three times, the median)."""
    cookie = {"Cookie": await _session_cookie(base_url, "u-admin")}
    health = await saturate("GET /health, one client", base_url, "/health", concurrency=1, duration=duration)
    page = await saturate("GET / (History), one user", base_url, "/", headers=cookie, concurrency=1, duration=duration)
    exports = sorted([await _export_seconds(base_url, bearer_token) for _ in range(3)])
    export_s, export_rows = exports[1]
    return {
        "history_health_p50_ms": health.p50_ms,
        "history_p50_ms": page.p50_ms,
        "history_p99_ms": page.p99_ms,
        "history_errors": page.errors,
        "export_rows": export_rows,
        "export_seconds": round(export_s, 3),
        "target_history_met": page.errors == 0 and page.p50_ms <= HISTORY_P50_TARGET_MS,
        "target_export_met": export_s < EXPORT_TARGET_S,
    }


def serve_demo(port: int) -> None:
    """The gateway over the in-memory demo services (no stack needed), rate limits off."""
    from datetime import UTC, datetime  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from graceperiod.devstack.testkit.gateway_demo import demo_clients, demo_gateway  # noqa: PLC0415
    from graceperiod.devstack.testkit.tokens import LinkSigner  # noqa: PLC0415

    signer = LinkSigner()
    now = datetime.now(UTC)
    token = signer.token(purchase_id="pur-alice-sp", recipient="alice@example.com", issued_at=now)
    print(f"link path: /api/purchases/pur-alice-sp/revoke?token={token}", flush=True)
    app = demo_gateway(signer, clients=demo_clients(now))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Gateway load measurements (issue 5)")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--token", help="an API token (Bearer) for /api/purchases")
    parser.add_argument("--link-path", nargs="*", default=[], help="paths and queries of valid email links")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve-demo", type=int, metavar="PORT", help="only serve the demo gateway on PORT")
    args = parser.parse_args(argv)
    if args.serve_demo:
        serve_demo(args.serve_demo)
        return
    if not args.token:
        parser.error("--token is required")
    results = asyncio.run(
        run(
            args.url,
            bearer_token=args.token,
            link_path=args.link_path[0] if args.link_path else None,
            distinct_link_paths=args.link_path,
            duration=args.duration,
            concurrency=args.concurrency,
        )
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
