"""The gateway on real RabbitMQ and FerretDB, with no service answering (they are being
rewritten on other branches): readiness, 503 instead of a hang, and the email link consumed
exactly once in the gateway's database with exactly one durable command queued, carrying
the request id."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.revocation import RevokePurchase
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.testkit.tokens import ApiTokenIssuer, LinkSigner
from graceperiod.gateway.store import LinkOutcome, MongoGatewayStore
from graceperiod.runtime.mongo import Document
from tests.integration.gateway.conftest import bearer, drain


async def test_ready_checks_the_broker_and_the_database(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"broker": True, "database": True}}


async def test_a_silent_service_is_a_503_problem_not_a_hang(
    client: AsyncTestClient[Litestar], idp: ApiTokenIssuer
) -> None:
    started = time.monotonic()
    response = await client.get("/api/purchases", headers=bearer(idp, "u-alice", "alice@example.com", ["user"]))
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["service"] == "revocation"
    assert "did not answer within 0.5 s" in body["detail"]
    assert response.headers["retry-after"] == "10"
    assert elapsed < 5  # the 0.5 s query timeout, not a hang


async def test_an_email_link_is_consumed_once_and_its_command_queued_durably(
    client: AsyncTestClient[Litestar],
    signer: LinkSigner,
    amqp_url: str,
    mongo: AsyncMongoClient[Document],
    db_prefix: str,
) -> None:
    now = datetime.now(UTC)
    token = signer.token(purchase_id="pur-link-1", recipient="alice@example.com", issued_at=now, jti="jti-once")
    url = f"/api/purchases/pur-link-1/revoke?token={token}"
    page = await client.get(url)  # the service is silent: a friendly 503, and the CSRF cookie
    assert page.status_code == 503
    assert "cannot reach the revocation service" in page.text
    csrf = client.cookies.get("gp_csrf")
    assert csrf

    async def post(n: int) -> tuple[int, str]:
        response = await client.post(
            url, data={"action": "revoke", "_csrf_token": csrf}, headers={"X-Request-ID": f"req-link-{n}"}
        )
        return response.status_code, response.text

    results = await asyncio.gather(*(post(n) for n in range(5)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [202, 409, 409, 409, 409], statuses
    winner = next(text for status, text in results if status == 202)
    assert "queued" in winner
    assert 'http-equiv="refresh"' in winner

    stored = await mongo[f"{db_prefix}_gateway"]["consumed_links"].find({}).to_list(None)
    assert [doc["_id"] for doc in stored] == ["jti-once"]
    assert stored[0]["recipient"] == "alice@example.com"
    assert stored[0]["outcome"]["status"] == "queued"
    assert stored[0]["expires_at"] > now + timedelta(days=7)

    (message,) = await drain(amqp_url, Queues.REVOCATION_COMMANDS.queue)
    command = RevokePurchase.model_validate(json.loads(message.body))
    assert command.link_token is not None  # forwarded: the revocation service verifies it again
    assert command.actor.path == "email-link"
    assert command.actor.email == "alice@example.com"
    assert command.actor.permissions == []
    assert command.purchase_id == "pur-link-1"
    assert message.delivery_mode == 2  # persistent
    request_id = stored[0]["request_id"]
    assert request_id.startswith("req-link-")
    assert message.headers["x-request-id"] == request_id
    assert message.correlation_id is not None
    assert message.correlation_id.startswith(request_id + ".")

    again = await client.get(url)
    assert again.status_code == 200
    assert "already been used" in again.text


async def test_dashboard_actions_carry_the_request_id_into_the_command(
    client: AsyncTestClient[Litestar], idp: ApiTokenIssuer, amqp_url: str
) -> None:
    headers = {**bearer(idp, "u-admin", "admin@example.com", ["admin"]), "X-Request-ID": "req-api-42"}
    response = await client.post("/api/purchases/pur-x/revocation", headers=headers)
    assert response.status_code == 503  # nobody answers within the 1 s command timeout ...
    assert "queued" in response.json()["detail"]
    (message,) = await drain(amqp_url, Queues.REVOCATION_COMMANDS.queue)  # ... but the command waits
    assert message.headers["x-request-id"] == "req-api-42"
    assert message.correlation_id is not None
    assert message.correlation_id.startswith("req-api-42.")
    assert RevokePurchase.model_validate(json.loads(message.body)).actor.user_id == "u-admin"


async def test_consumed_links_and_audit_are_purged_after_their_time(
    db_prefix: str, mongo: AsyncMongoClient[Document]
) -> None:
    store = MongoGatewayStore(mongo[f"{db_prefix}_gateway"])
    await store.ensure_indexes()
    now = datetime.now(UTC).replace(microsecond=0)
    old = LinkClaims("pur-1", "a@example.com", "jti-old", now - timedelta(days=2), None, "k")
    fresh = LinkClaims("pur-2", "a@example.com", "jti-fresh", now + timedelta(days=2), None, "k")
    assert (
        await store.consume(old, action="revoke", now=now, keep_until=now - timedelta(hours=1), request_id=None) is None
    )
    assert (
        await store.consume(fresh, action="revoke", now=now, keep_until=now + timedelta(days=3), request_id=None)
        is None
    )
    replay = await store.consume(fresh, action="revoke", now=now, keep_until=now + timedelta(days=3), request_id=None)
    assert replay is not None
    assert replay.jti == "jti-fresh"
    await store.record_outcome("jti-fresh", LinkOutcome(status="done", message="ok", at=now))
    await store.release("jti-fresh")  # only a refused use is given back
    assert await store.find("jti-fresh") is not None
    assert await store.purge(now=now) == 1
    assert await store.find("jti-old") is None
    assert await store.find("jti-fresh") is not None
    assert await store.ping() is True


async def test_a_refused_use_is_given_back(db_prefix: str, mongo: AsyncMongoClient[Document]) -> None:
    store = MongoGatewayStore(mongo[f"{db_prefix}_gateway"])
    now = datetime.now(UTC).replace(microsecond=0)
    claims = LinkClaims("pur-3", "a@example.com", "jti-refused", now + timedelta(days=2), None, "k")
    assert (
        await store.consume(claims, action="revoke", now=now, keep_until=now + timedelta(days=3), request_id="r1")
        is None
    )
    await store.record_outcome("jti-refused", LinkOutcome(status="rejected", message="window closed", at=now))
    await store.release("jti-refused")
    assert await store.find("jti-refused") is None
    assert (
        await store.consume(claims, action="revoke", now=now, keep_until=now + timedelta(days=3), request_id="r2")
        is None
    )


async def test_a_use_stored_before_the_record_had_its_jti_field_is_still_found(
    db_prefix: str, mongo: AsyncMongoClient[Document]
) -> None:
    """Documents written by the earlier gateway carry the jti only as their _id."""
    store = MongoGatewayStore(mongo[f"{db_prefix}_gateway"])
    now = datetime.now(UTC).replace(microsecond=0)
    earlier = {
        "_id": "jti-earlier",
        "purchase_id": "pur-4",
        "recipient": "a@example.com",
        "action": "revoke",
        "consumed_at": now,
        "request_id": "r0",
        "kid": "k",
        "outcome": {"status": "done", "message": "ok", "code": None, "phase": None, "at": now},
        "expires_at": now + timedelta(days=3),
    }
    await mongo[f"{db_prefix}_gateway"]["consumed_links"].insert_one(earlier)
    claims = LinkClaims("pur-4", "a@example.com", "jti-earlier", now + timedelta(days=2), None, "k")
    again = await store.consume(claims, action="revoke", now=now, keep_until=now + timedelta(days=3), request_id="r1")
    assert again is not None
    assert (again.jti, again.request_id, again.outcome and again.outcome.status) == ("jti-earlier", "r0", "done")
