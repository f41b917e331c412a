"""The JSON API over HTTP: 401 vs 403, problem details, RBAC, commands, bad input, 503."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.contracts.enums import ActionPath, AwsService, CommitmentKind
from graceperiod.contracts.revocation import (
    OrganizationCommitment,
    OrganizationMember,
    OrganizationView,
    RegisterAccountRole,
    RevokePurchase,
)
from graceperiod.contracts.revocation_views import Phase
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.gateway_samples import purchase_view
from graceperiod.devstack.testkit.gateway_stores import InMemoryLinkStore
from graceperiod.devstack.testkit.tokens import malformed_headers
from tests.unit.gateway.conftest import NOW, csrf_token, sign_in

Headers = Callable[[str], dict[str, str]]


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert str(body["type"]).startswith("urn:graceperiod:problem:")
    return body


async def test_no_credentials_is_401_with_a_challenge_everywhere(client: AsyncTestClient[Litestar]) -> None:
    for method, path in [
        ("GET", "/api/purchases"),
        ("GET", "/api/purchases/pur-alice-sp"),
        ("GET", "/api/purchases/does-not-exist"),  # no enumeration: same answer
        ("POST", "/api/purchases/pur-alice-sp/revocation"),
        ("GET", "/api/pool/accounts"),
        ("GET", "/api/me"),
    ]:
        response = await client.request(method, path)
        problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_bad_token_is_401_whatever_the_target(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/api/purchases/pur-alice-sp", "/api/purchases/nope", "/api/me"):
        response = await client.get(path, headers={"Authorization": "Bearer not.a.token"})
        problem(response, 401)
    basic = await client.get("/api/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    problem(basic, 401)


async def test_every_malformed_authorization_header_is_a_documented_401(client: AsyncTestClient[Litestar]) -> None:
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "Bearer a b", "Bearer \u00e9t\u00e9"):
        response = await client.get("/api/pool/accounts", headers={b"Authorization": value.encode("latin-1")})
        problem(response, 401)
        assert response.headers["www-authenticate"].startswith('Bearer realm="graceperiod"')
    scheme = (await client.get("/schema/openapi.json")).json()["components"]["securitySchemes"]["BearerToken"]
    assert "401" in scheme["description"]


@pytest.mark.parametrize("name", sorted(malformed_headers({}, kid="k")))
async def test_a_token_with_a_malformed_header_is_a_401_never_a_server_error(
    client: AsyncTestClient[Litestar], name: str
) -> None:
    claims = {"sub": "u-alice", "iss": "https://idp.example.test/", "aud": "graceperiod-api", "exp": 4102444800}
    token = malformed_headers(claims, kid="api-key")[name]
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    problem(response, 401)
    assert "Traceback" not in response.text


async def test_the_probes_ignore_any_authorization_header(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/health", "/ready"):
        for value in ("Basic dXNlcjpwYXNz", "Bearer not.a.token", "Bearer"):
            response = await client.get(path, headers={"Authorization": value})
            assert response.status_code == 200, (path, value, response.text)


async def test_a_repeated_or_null_query_parameter_is_refused(
    client: AsyncTestClient[Litestar], bearer: Headers
) -> None:
    admin = bearer("admin")
    for path in (
        "/api/pool/accounts?status=Cooldown&status=Active",
        "/api/pool/accounts?cursor=a&cursor=b",
        "/api/purchases?limit=5&limit=6",
        "/api/purchases?cursor=a&cursor=",
    ):
        body = problem(await client.get(path, headers=admin), 400)
        assert "at most once" in str(body["detail"]), body
    for path in ("/api/purchases?phase=null", "/api/pool/accounts?status=null", "/api/pool/accounts?cursor=NULL"):
        body = problem(await client.get(path, headers=admin), 400)
        assert "leave the parameter out" in str(body["detail"]), body
    listed = await client.get("/api/pool/accounts?status=Cooldown&limit=5", headers=admin)
    assert listed.status_code == 200


async def test_optional_query_parameters_are_documented_as_plain_scalars(client: AsyncTestClient[Litestar]) -> None:
    """A query string cannot carry a null: an optional parameter is left out, never "null"."""
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    schemas = {
        (path, parameter["name"]): parameter["schema"]
        for path, operations in paths.items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] in ("query", "header")
    }
    assert schemas
    for where, schema in schemas.items():
        assert "oneOf" not in schema, where
        assert schema["type"] in ("string", "integer", "number", "boolean"), where
    assert schemas[("/api/pool/accounts", "cursor")] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 512,
        "description": "The `next_cursor` of the previous page; leave it out for the first page.",
    }
    assert set(schemas[("/api/pool/accounts", "status")]["enum"]) == {s.value for s in AccountStatus}
    assert set(schemas[("/api/purchases", "phase")]["enum"]) == {p.value for p in Phase}


async def test_me_reports_roles_and_permissions(client: AsyncTestClient[Litestar], bearer: Headers) -> None:
    me = (await client.get("/api/me", headers=bearer("admin"))).json()
    assert me["permissions"] == ["release-any:accounts", "revoke-any:purchases", "update:config"]
    assert me["auth"] == "bearer"


async def test_purchases_list_and_detail(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    page = await client.get("/api/purchases", headers=bearer("alice"))
    assert page.status_code == 200
    items = page.json()["items"]
    assert len(items) == len(clients.purchases)
    bobs = next(i for i in items if i["purchase"]["purchase_id"] == "pur-bob-sp")
    assert bobs["allowed_actions"] == []
    assert bobs["unavailable"]["reason"] == "not-permitted"
    mine = (await client.get("/api/purchases?mine=true", headers=bearer("alice"))).json()["items"]
    assert {i["purchase"]["requested_by"]["user_id"] for i in mine} == {"u-alice"}
    detail = (await client.get("/api/purchases/pur-alice-sp", headers=bearer("alice"))).json()
    assert detail["phase"] == "self-service"
    assert detail["allowed_actions"] == ["revoke"]
    assert [e["kind"] for e in detail["timeline"]] == ["executed", "recorded", "emailed"]
    problem(await client.get("/api/purchases/pur-nope", headers=bearer("alice")), 404)


async def test_a_user_cannot_revoke_someone_elses_purchase(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    body = problem(await client.post("/api/purchases/pur-bob-sp/revocation", headers=bearer("alice")), 403)
    assert "requested by Bob Example" in str(body["detail"])
    assert clients.commands == []
    assert clients.purchases["pur-bob-sp"].phase is Phase.SELF_SERVICE


async def test_owner_and_admin_may_revoke_and_the_command_carries_the_actor(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients, store: InMemoryLinkStore
) -> None:
    mine = await client.post(
        "/api/purchases/pur-alice-sp/revocation", headers={**bearer("alice"), "Idempotency-Key": "retry-safe-0001"}
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["status"] == "done"
    assert mine.json()["purchase"]["phase"] == "revoked"
    (command,) = clients.commands
    assert isinstance(command, RevokePurchase)
    assert (command.idempotency_key, command.actor.path, command.link_token) == (
        "retry-safe-0001",
        ActionPath.API,
        None,
    )
    assert store.actions[-1]["action"] == "revoke-purchase"
    assert store.actions[-1]["actor"]["user_id"] == "u-alice"

    admin = await client.post("/api/purchases/pur-bob-sp/revocation", headers=bearer("admin"))
    assert admin.status_code == 200
    again = await client.post("/api/purchases/pur-bob-sp/revocation", headers=bearer("admin"))
    assert problem(again, 409)["code"] == "conflict"


async def test_a_role_without_permissions_gets_403(client: AsyncTestClient[Litestar], bearer: Headers) -> None:
    problem(await client.post("/api/purchases/pur-alice-sp/revocation", headers=bearer("nobody")), 403)
    problem(
        await client.post("/api/pool/accounts/444444444444/release", headers=bearer("alice"), json={"reason": "x"}), 403
    )
    problem(
        await client.put(
            "/api/pool/policy",
            headers=bearer("bob"),
            json={"enforce_account_cooldown": True, "cooldown_period_hours": 1},
        ),
        403,
    )
    problem(
        await client.put(
            "/api/settings/notifications", headers=bearer("alice"), json={"global_notification_email": ""}
        ),
        403,
    )


async def test_in_progress_is_202(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    clients.revoke_finishes = False
    response = await client.post("/api/purchases/pur-alice-sp/revocation", headers=bearer("alice"))
    assert response.status_code == 202
    assert response.json()["status"] == "in-progress"


async def test_support_case_draft_edit_submit_and_resolve(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    draft = (await client.get("/api/purchases/pur-alice-ri/support-case-draft", headers=bearer("alice"))).json()
    assert draft["issue_type"] == "customer-service"
    assert draft["service_code"] == "billing"
    filed = await client.post(
        "/api/purchases/pur-alice-ri/support-case",
        headers=bearer("alice"),
        json={"subject": draft["subject"] + " (edited)", "body": "Please refund."},
    )
    assert filed.status_code == 200
    assert filed.json()["purchase"]["phase"] == "case-open"
    assert clients.commands[-1].subject.endswith("(edited)")
    resolved = await client.post(
        "/api/purchases/pur-alice-ri/support-case/resolution", headers=bearer("alice"), json={"note": "refunded"}
    )
    assert resolved.json()["purchase"]["phase"] == "case-resolved"


async def test_pool_lists_time_left_and_admin_releases_with_the_warning(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    pool = (await client.get("/api/pool/accounts?status=Cooldown", headers=bearer("bob"))).json()
    (account,) = pool["items"]
    assert account["cooldown_remaining_seconds"] == 17 * 3600 + 42 * 60
    released = await client.post(
        "/api/pool/accounts/444444444444/release", headers=bearer("admin"), json={"reason": "urgent demo"}
    )
    assert released.status_code == 200
    body = released.json()
    assert "billing attribution may be inaccurate" in body["warning"].lower()
    assert body["account"]["status"] == "Available"
    assert body["account"]["early_release"]["by"]["email"] == "admin@example.com"
    assert clients.accounts["444444444444"].status is AccountStatus.AVAILABLE
    problem(
        await client.post("/api/pool/accounts/111111111111/release", headers=bearer("admin"), json={"reason": "x"}), 409
    )


async def test_policy_and_notification_settings(client: AsyncTestClient[Litestar], bearer: Headers) -> None:
    policy = await client.put(
        "/api/pool/policy",
        headers=bearer("admin"),
        json={"enforce_account_cooldown": True, "cooldown_period_hours": 72},
    )
    assert policy.json()["cooldown_period_hours"] == 72
    assert (await client.get("/api/pool/policy", headers=bearer("bob"))).json()["enforce_account_cooldown"] is True
    settings = await client.put(
        "/api/settings/notifications", headers=bearer("admin"), json={"global_notification_email": "Ops@Example.com"}
    )
    assert settings.json()["global_notification_email"] == "ops@example.com"


async def test_bad_input_gets_clear_4xx(client: AsyncTestClient[Litestar], bearer: Headers) -> None:
    admin = bearer("admin")
    problem(await client.get("/api/purchases/bad%20id!", headers=admin), 400)
    problem(await client.get("/api/purchases?limit=0", headers=admin), 400)
    problem(await client.get("/api/pool/accounts/12345", headers=admin), 400)
    problem(
        await client.put(
            "/api/pool/policy", headers=admin, json={"enforce_account_cooldown": "yes", "cooldown_period_hours": 1}
        ),
        400,
    )
    problem(
        await client.put(
            "/api/pool/policy", headers=admin, json={"enforce_account_cooldown": True, "cooldown_period_hours": 9999}
        ),
        400,
    )
    problem(
        await client.put(
            "/api/pool/policy",
            headers=admin,
            json={"enforce_account_cooldown": True, "cooldown_period_hours": 1, "extra": 1},
        ),
        400,
    )
    problem(await client.put("/api/pool/policy", headers=admin, content=b"{not json"), 400)
    wrong_type = await client.put(
        "/api/pool/policy", headers={**admin, "content-type": "text/plain"}, content=b"enforce=1"
    )
    assert wrong_type.status_code in (400, 415)
    problem(wrong_type, wrong_type.status_code)
    big = await client.put(
        "/api/settings/notifications",
        headers={**admin, "content-type": "application/json"},
        content=b"{" + b" " * 70_000 + b"}",
    )
    problem(big, 413)
    odd_key = await client.post("/api/purchases/pur-alice-sp/revocation", headers={**admin, "Idempotency-Key": "a b"})
    assert odd_key.status_code == 200  # any key works; odd ones are hashed


async def test_a_silent_service_is_503_with_retry_after(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    clients.down.add("revocation")
    body = problem(await client.get("/api/purchases", headers=bearer("alice")), 503)
    assert body["service"] == "revocation"
    assert "not answering" in str(body["detail"])
    response = await client.post("/api/purchases/pur-alice-sp/revocation", headers=bearer("admin"))
    problem(response, 503)
    assert response.headers["retry-after"] == "10"
    # another service's routes keep working
    assert (await client.get("/api/pool/accounts", headers=bearer("alice"))).status_code == 200


async def test_session_clients_need_the_csrf_header_for_writes(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-alice")
    me = (await client.get("/api/me")).json()
    assert me["auth"] == "session"
    assert me["csrf_token"]
    problem(await client.post("/api/purchases/pur-alice-sp/revocation"), 403)
    assert clients.commands == []
    ok = await client.post("/api/purchases/pur-alice-sp/revocation", headers={"X-CSRFToken": me["csrf_token"]})
    assert ok.status_code == 200


async def test_a_bearer_token_turns_into_a_dashboard_session(
    make_app: Callable[..., Litestar], bearer: Headers
) -> None:
    async with AsyncTestClient(make_app(dev_sign_in=False)) as client:
        started = await client.post("/api/session", headers=bearer("bob"))
        assert started.status_code == 200
        cookie = started.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        assert "gp_session=" in cookie
        page = await client.get("/")
        assert page.status_code == 200
        assert "bob@example.com" in page.text
        token = await csrf_token(client, "/")
        ended = await client.delete("/api/session", headers={"X-CSRFToken": token})
        assert ended.status_code == 204
        assert (await client.get("/api/me")).status_code == 401


async def test_dev_tokens_exist_only_with_the_dev_sign_in(make_app: Callable[..., Litestar]) -> None:
    async with AsyncTestClient(make_app(dev_sign_in=True)) as client:
        token = (await client.post("/dev/token/u-alice")).json()["access_token"]
        me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["user_id"] == "u-alice"
    async with AsyncTestClient(make_app(dev_sign_in=False)) as client:
        assert (await client.post("/dev/token/u-alice")).status_code in (403, 404)


async def test_purchases_found_in_an_account_are_marked_and_filtered_by_source(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    found = purchase_view(NOW, phase=Phase.SELF_SERVICE, purchase_id="disc-found-1", discovered=True)
    clients.purchases[found.purchase.purchase_id] = found
    discovered = (await client.get("/api/purchases?source=discovered", headers=bearer("admin"))).json()["items"]
    executed = (await client.get("/api/purchases?source=executed", headers=bearer("admin"))).json()["items"]
    assert [i["purchase"]["purchase_id"] for i in discovered] == ["disc-found-1"]
    assert discovered[0]["source"] == "discovered"
    assert discovered[0]["purchase"]["requested_by"] is None
    assert discovered[0]["purchase"]["execution"]["via"] == "discovered"
    assert len(executed) == len(clients.purchases) - 1  # every demo purchase but the one found
    assert {i["source"] for i in executed} == {"executed"}
    problem(await client.get("/api/purchases?source=bogus", headers=bearer("admin")), 400)
    # Found in the account, it is nobody's own: a user with revoke-own cannot act on it.
    alices = (await client.get("/api/purchases/disc-found-1", headers=bearer("alice"))).json()
    assert alices["allowed_actions"] == []


async def test_registering_an_account_passes_its_name_contacts_and_regions(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    body = {
        "role_name": "GracePeriodRevocation",
        "external_id": "ext-210987654321",
        "name": "Analytics",
        "contact_emails": ["Owner@Example.com"],
        "regions": ["eu-west-1", "us-east-1"],
    }
    reply = await client.put("/api/accounts/210987654321/role", headers=bearer("admin"), json=body)
    assert reply.status_code == 200, reply.text
    [command] = [c for c in clients.commands if isinstance(c, RegisterAccountRole)]
    assert (command.name, command.contact_emails, command.regions) == (
        "Analytics",
        ["owner@example.com"],
        ["eu-west-1", "us-east-1"],
    )
    bare = {"role_name": "GracePeriodRevocation", "external_id": "ext-210987654321"}
    assert (await client.put("/api/accounts/210987654321/role", headers=bearer("admin"), json=bare)).status_code == 200
    problem(
        await client.put(
            "/api/accounts/210987654321/role", headers=bearer("admin"), json={**bare, "regions": ["mars-1"]}
        ),
        400,
    )


async def test_a_management_accounts_organisation_view_marks_what_cannot_be_undone_from_here(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    problem(await client.get("/api/accounts/123456789012/organization", headers=bearer("admin")), 404)
    clients.organizations["123456789012"] = OrganizationView(
        management_account_id="123456789012",
        organization_id="o-abc123",
        read_at=NOW,
        members=[OrganizationMember(account_id="555555555555", name="Research", onboarded=False)],
        commitments=[
            OrganizationCommitment(
                account_id="555555555555",
                account_name="Research",
                onboarded=False,
                note="not onboarded: cannot be undone from here",
                service=AwsService.EC2,
                kind=CommitmentKind.RESERVED_INSTANCE,
                commitment_id="ri-research-1",
                region="eu-west-1",
            )
        ],
    )
    view = (await client.get("/api/accounts/123456789012/organization", headers=bearer("admin"))).json()
    [commitment] = view["commitments"]
    assert commitment["note"] == "not onboarded: cannot be undone from here"
    await sign_in(client, "u-admin")
    page = (await client.get("/organizations/123456789012")).text
    assert 'data-commitment-id="ri-research-1" class="not-onboarded"' in page
    assert "not onboarded: cannot be undone from here" in page
