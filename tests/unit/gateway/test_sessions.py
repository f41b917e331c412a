"""Server-side sessions over HTTP (the record store in memory; tests/integration/gateway
runs the same against FerretDB): sign-out and role changes take effect at once."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from pymongo.errors import ServerSelectionTimeoutError

from graceperiod.devstack.testkit.gateway_stores import InMemorySessionStore
from tests.unit.gateway.conftest import csrf_token, sign_in

Headers = Callable[[str], dict[str, str]]
SECRET = SecretStr("the same secret for every replica of a test")


async def test_a_dev_sign_in_is_a_record_and_sign_out_ends_it_for_a_replayed_cookie_too(
    make_app: Callable[..., Litestar], sessions: InMemorySessionStore
) -> None:
    async with AsyncTestClient(make_app()) as client:
        await sign_in(client, "u-alice")
        (record,) = sessions.sessions.values()
        assert (record.user_id, record.source, record.roles) == ("u-alice", "dev", ["user"])
        old_cookies = dict(client.cookies)
        out = await client.post(
            "/sign-out", data={"_csrf_token": await csrf_token(client, "/")}, follow_redirects=False
        )
        assert out.headers["location"] == "/sign-in"
        assert sessions.sessions == {}
        client.cookies.update(old_cookies)
        assert (await client.get("/api/me")).status_code == 401


async def test_signing_in_again_replaces_the_browsers_record_with_a_new_id(
    make_app: Callable[..., Litestar], sessions: InMemorySessionStore
) -> None:
    async with AsyncTestClient(make_app()) as client:
        await sign_in(client, "u-alice")
        first = set(sessions.sessions)
        old_cookies = dict(client.cookies)
        await sign_in(client, "u-bob")
        assert len(sessions.sessions) == 1
        assert set(sessions.sessions).isdisjoint(first)
        assert (await client.get("/api/me")).json()["user_id"] == "u-bob"
        client.cookies.update(old_cookies)
        assert (await client.get("/api/me")).status_code == 401


async def test_an_api_token_session_is_a_record_ended_by_delete(
    make_app: Callable[..., Litestar], sessions: InMemorySessionStore, bearer: Headers
) -> None:
    async with AsyncTestClient(make_app(dev_sign_in=False)) as client:
        assert (await client.post("/api/session", headers=bearer("bob"))).status_code == 200
        (record,) = sessions.sessions.values()
        assert (record.source, record.email) == ("api-token", "bob@example.com")
        old_cookies = dict(client.cookies)
        ended = await client.delete("/api/session", headers={"X-CSRFToken": await csrf_token(client, "/")})
        assert ended.status_code == 204
        assert sessions.sessions == {}
        client.cookies.update(old_cookies)
        assert (await client.get("/api/me")).status_code == 401


async def test_a_role_table_change_applies_at_the_next_request(make_app: Callable[..., Litestar]) -> None:
    async with AsyncTestClient(make_app(session_secret=SECRET)) as before:
        await sign_in(before, "u-alice")
        assert (await before.get("/api/me")).json()["permissions"] == ["revoke-own:purchases"]
        cookies = dict(before.cookies)
    # The same record read by a gateway restarted with another role table.
    async with AsyncTestClient(make_app(session_secret=SECRET, role_permissions={"user": []})) as after:
        after.cookies.update(cookies)
        assert (await after.get("/api/me")).json()["permissions"] == []


async def unreachable(key: str) -> None:
    raise ServerSelectionTimeoutError("no database")


async def test_a_session_that_cannot_be_read_is_a_503_not_an_anonymous_visit(
    make_app: Callable[..., Litestar], sessions: InMemorySessionStore
) -> None:
    async with AsyncTestClient(make_app(session_secret=SECRET)) as client:
        await sign_in(client, "u-alice")
        cookies = dict(client.cookies)
    sessions.find = unreachable  # type: ignore[method-assign]
    async with AsyncTestClient(make_app(session_secret=SECRET)) as client:
        client.cookies.update(cookies)
        answer = await client.get("/api/me")
        assert answer.status_code == 503
        assert "cannot be checked" in answer.json()["detail"]
