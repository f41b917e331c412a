"""The services' own benchmarks (issues 3 to 6), run inside ``make bench`` beside the baseline.

Each adapter calls the benchmark its service's engineers wrote (``bench_<service>.py``) and
turns what it returns into a :class:`Result` with the issue's targets checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from graceperiod.devstack.bench import cooldown as bench_cooldown
from graceperiod.devstack.bench import gateway as bench_gateway
from graceperiod.devstack.bench import notifier as bench_notifier
from graceperiod.devstack.bench import revocation as bench_revocation
from graceperiod.devstack.bench.core import Result, Servers, service_processes
from graceperiod.devstack.bench.purchases import seed_purchases
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.tokens import ApiTokenIssuer, LinkSigner
from graceperiod.devstack.testkit.upstream import connect, publish_upstream
from graceperiod.runtime.mongo import create_mongo_client


async def revocation(servers: Servers, amqp_url: str, *, quick: bool) -> Result:
    # The service runs in this process: it finds the local AWS endpoint (and needs some
    # credentials for botocore to sign with) in the environment.
    os.environ["AWS_ENDPOINT_URL"] = servers.aws_endpoint_url
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)
    result = await bench_revocation.bench_revoke(
        amqp_url=amqp_url,
        mongodb_url=servers.mongodb_url,
        aws_endpoint_url=servers.aws_endpoint_url,
        rate=50.0,
        count=100 if quick else 500,
    )
    metrics = result.as_dict()
    metrics["target_own_p99_ms_max"] = 100.0
    metrics["target_met"] = result.done == result.sent and result.own_p99_ms < 100.0
    return Result(
        name="revocation_revoke_50_per_s",
        description="RevokePurchase RPC → AWS (local endpoint) → outcome reply, offered at 50/s; own = minus AWS time",
        metrics=metrics,
        notes=[] if result.done == result.sent else [f"{result.sent - result.done} commands got no final outcome"],
    )


async def notifier(servers: Servers, amqp_url: str, *, quick: bool) -> Result:
    numbers = await bench_notifier.run(
        servers, amqp_url, rate=50.0, duration=6.0 if quick else 20.0, burst=200 if quick else 1000
    )
    per_email: dict[str, float] = numbers["saturation"].get("cpu_ms_per_email") or {}
    flat = {
        "fixed_rate_purchases_per_s": numbers["fixed_rate"].get("purchases_per_s"),
        "fixed_rate_p50_ms": numbers["fixed_rate"].get("p50_ms"),
        "fixed_rate_p99_ms": numbers["fixed_rate"].get("p99_ms"),
        "saturated_emails_per_s": numbers["saturation"].get("emails_per_s"),
        "direct_blast_emails_per_s": numbers["direct_blast"].get("emails_per_s"),
        "saturated_vs_direct": numbers["saturated_vs_direct"],
        # CPU per email of each server process (and the bench) while saturated, and their sum
        "saturated_cpu_ms_per_email": per_email,
        "saturated_cpu_ms_per_email_all": round(sum(per_email.values()), 2),
        "direct_blast_cpu_ms_per_email": numbers["direct_blast"].get("cpu_ms_per_email"),
        **{f"target_{k}": v for k, v in numbers["targets"].items()},
    }
    return Result(
        name="notifier_events_to_emails",
        description=(
            "revocation.purchase.recorded → notifier process → SMTP sink (3 recipients); baseline: aiosmtplib blast"
        ),
        metrics=flat,
    )


async def gateway(servers: Servers, amqp_url: str, *, quick: bool) -> Result:
    """The gateway as a process, over a real revocation service process with recorded purchases."""
    idp, signer = ApiTokenIssuer(), LinkSigner()
    env = _gateway_env(servers.workdir / "gateway-bench", idp, signer)
    db_prefix = unique("bench")
    stored = 1000 if quick else 10_000
    with service_processes(servers, amqp_url, ["revocation", "gateway"], db_prefix=db_prefix, extra_env=env) as (
        _,
        gateway_process,
    ):
        base_url = f"http://127.0.0.1:{gateway_process.port}"
        await seed_purchases(servers.mongodb_url, f"{db_prefix}_revocation", stored)
        broker = await connect(amqp_url)
        try:
            bodies = [purchase_payload(requester_email="alice@example.com") for _ in range(50)]
            for body in bodies:
                await publish_upstream(broker, "purchase.executed", body, message_id=body["purchase_id"])
        finally:
            await broker.stop()
        now = datetime.now(UTC)
        token = idp.token(user_id="u-admin", email="admin@example.com", roles=["admin"], now=now)
        await _wait_listed(base_url, token, len(bodies))
        purchase_id = bodies[0]["purchase_id"]
        link_token = signer.token(purchase_id=purchase_id, recipient="alice@example.com", issued_at=now)
        numbers = await bench_gateway.run(
            base_url,
            bearer_token=token,
            link_path=f"/api/purchases/{purchase_id}/revoke?token={link_token}",
            distinct_link_paths=await _distinct_links(servers, f"{db_prefix}_revocation", signer, LINKS_VIEWED),
            list_mix=await _list_mix(base_url, idp, now),
            duration=4.0 if quick else 10.0,
        )
        history = await bench_gateway.history(base_url, bearer_token=token, duration=4.0 if quick else 10.0)
    return Result(
        name="gateway_http",
        description=(
            "GET /health (baseline) vs /api/purchases (RPC to revocation) vs email-link GET at 200 req/s "
            "(each view another purchase's link; and one link's crowd); "
            "the History's first screen (one user) and the whole CSV export"
        ),
        metrics={"purchases_stored": stored + len(bodies), **_gateway_metrics(numbers), **history},
    )


#: The list row's callers (user id, roles) and what each asks first: the default page, other
#: sorts, filters, one's own purchases (seeded purchases are requested by u-user0 … u-user19).
LIST_CALLERS: dict[str, tuple[str, ...]] = {"u-admin": ("admin",), "u-user3": ("user",), "u-user7": ("user",)}
LIST_FIRST_PAGES: tuple[tuple[str, str], ...] = (
    ("u-admin", ""),
    ("u-admin", "&sort=deadline"),
    ("u-admin", "&phase=self-service"),
    ("u-admin", "&account_id=300000000007"),
    ("u-admin", "&sort=upfront"),
    ("u-user3", "&mine=true"),
    ("u-user3", "&sort=state"),
    ("u-user7", "&sort=account&order=desc"),
    ("u-user7", "&expiring_within_hours=48"),
)
#: How many pages after the first the mix also asks for, following each list's cursors.
LIST_NEXT_PAGES = 2


async def _list_mix(base_url: str, idp: ApiTokenIssuer, now: datetime) -> list[bench_gateway.Request]:
    """Several callers' first pages (filters and sorts), and the next pages their cursors give."""
    tokens = {
        user: idp.token(user_id=user, email=f"{user}@example.com", roles=list(roles), now=now)
        for user, roles in LIST_CALLERS.items()
    }
    auth = {user: {"Authorization": f"Bearer {token}"} for user, token in tokens.items()}
    mix = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        for user, query in LIST_FIRST_PAGES:
            path = f"/api/purchases?limit=50{query}"
            mix.append(bench_gateway.Request(path, auth[user]))
            for _ in range(LIST_NEXT_PAGES):
                answer = await client.get(path, headers=auth[user])
                answer.raise_for_status()
                cursor = answer.json().get("next_cursor")
                if cursor is None:
                    break
                path = f"/api/purchases?limit=50{query}&cursor={cursor}"
                mix.append(bench_gateway.Request(path, auth[user]))
    return mix


#: The email-link row views this many stored purchases' links, each once (200 req/s for 10 s).
LINKS_VIEWED = 2000


async def _distinct_links(servers: Servers, database: str, signer: LinkSigner, count: int) -> list[str]:
    """Links to ``count`` stored purchases, each to its own recipient, signed up front."""
    client = create_mongo_client(servers.mongodb_url, appname="graceperiod-bench-links")
    try:
        ids = [doc["_id"] async for doc in client[database]["purchases"].find({}, {"_id": 1}).limit(count)]
    finally:
        await client.close()
    now = datetime.now(UTC)
    tokens = [signer.token(purchase_id=pid, recipient=f"r{n}@example.com", issued_at=now) for n, pid in enumerate(ids)]
    return [f"/api/purchases/{pid}/revoke?token={token}" for pid, token in zip(ids, tokens, strict=True)]


def _gateway_env(workdir: Path, idp: ApiTokenIssuer, signer: LinkSigner) -> dict[str, str]:
    """The gateway's and revocation's settings: the bench's token issuer and link keys, no rate limits."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "idp.pem").write_bytes(idp.public_pem)
    (workdir / "links.jwks.json").write_text(json.dumps(signer.jwks()))
    return {
        "GATEWAY_AUTH_PUBLIC_KEY_FILE": str(workdir / "idp.pem"),
        "GATEWAY_AUTH_ISSUER": idp.issuer,
        "GATEWAY_AUTH_AUDIENCE": idp.audience,
        "GATEWAY_LINK_JWKS_FILE": str(workdir / "links.jwks.json"),
        "REVOCATION_LINK_JWKS_FILE": str(workdir / "links.jwks.json"),
        "GATEWAY_SIGN_IN_RATE_PER_MINUTE": "0",
        "GATEWAY_PUBLIC_RATE_PER_MINUTE": "0",
        "GATEWAY_DEV_SIGN_IN": "true",  # a dashboard session for the History page (loopback only)
    }


def _gateway_metrics(numbers: dict[str, Any]) -> dict[str, Any]:
    return {
        "baseline_req_per_s": numbers["baseline"]["req_per_s"],
        "baseline_p99_ms": numbers["baseline"]["p99_ms"],
        "purchases_req_per_s": numbers["purchases_list"]["req_per_s"],
        "purchases_p50_ms": numbers["purchases_list"]["p50_ms"],
        "purchases_p99_ms": numbers["purchases_list"]["p99_ms"],
        "purchases_vs_baseline": numbers["purchases_vs_baseline"],
        "purchases_requests_in_mix": numbers["purchases_requests_in_mix"],
        # everyone asking the same first page (shared identical reads), beside the target row
        "purchases_same_request_req_per_s": numbers["purchases_same_request"]["req_per_s"],
        "purchases_same_request_p99_ms": numbers["purchases_same_request"]["p99_ms"],
        "email_link_req_per_s": numbers["email_link"]["req_per_s"],
        "email_link_p50_ms": numbers["email_link"]["p50_ms"],
        "email_link_p99_ms": numbers["email_link"]["p99_ms"],
        "email_link_errors": numbers["email_link"]["errors"],
        # what the errors were (503: the revocation service did not answer in time; 429: throttled)
        "email_link_statuses": {str(k): v for k, v in sorted(numbers["email_link"]["statuses"].items())},
        # one link opened by a crowd (what the gateway's recent views serve), beside the target row
        "email_link_one_link_req_per_s": numbers["email_link_one_link"]["req_per_s"],
        "email_link_one_link_p50_ms": numbers["email_link_one_link"]["p50_ms"],
        "email_link_one_link_p99_ms": numbers["email_link_one_link"]["p99_ms"],
        # every process's CPU while each was measured: what one request takes of the machine
        **_machine("baseline", numbers["baseline"]),
        **_machine("purchases", numbers["purchases_list"]),
        **_machine("email_link", numbers["email_link"]),
        "target_purchases_met": numbers["purchases_meets_target"],
        "target_email_link_met": numbers["email_link_meets_target"],
    }


def _machine(prefix: str, figures: dict[str, Any]) -> dict[str, float]:
    return {f"{prefix}_{key}": value for key, value in figures.get("machine", {}).items()}


async def _wait_listed(base_url: str, token: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "none"
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        while time.monotonic() < deadline:
            response = await client.get("/api/purchases", params={"limit": 200})
            if response.status_code == 200 and len(response.json().get("items", [])) >= count:
                return
            last = f"{response.status_code} {response.text[:300]}"
            await asyncio.sleep(0.5)
    msg = f"the gateway did not list {count} purchases within {timeout:.0f} s (last answer: {last})"
    raise TimeoutError(msg)


async def cooldown(servers: Servers, amqp_url: str, *, quick: bool) -> list[Result]:
    scale = 10 if quick else 1
    release = await bench_cooldown.bench_release(
        amqp_url, servers.mongodb_url, pool=100_000 // scale, due=10_000 // scale, cooling=10_000 // scale
    )
    acquire = await bench_cooldown.bench_acquire(amqp_url, servers.mongodb_url)
    return [
        Result(
            name="cooldown_release_tick",
            description=f"one release pass: {10_000 // scale} due of {100_000 // scale}; then a pass with nothing due",
            metrics={**release, "target_release_seconds_max": 5.0, "target_noop_ms_max": 50.0},
        ),
        Result(
            name="cooldown_acquire",
            description="200 concurrent AcquireAccount RPCs on a 1,000-account pool",
            metrics=dict(acquire),
        ),
    ]
