"""The local identity provider: Dex built by bootstrap, started with a generated config."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import jwt
import pytest

from graceperiod.devstack.servers.dex import DEMO_PASSWORD, DEX_PEOPLE, DexClient, DexPerson, DexServer


def password_grant(dex: DexServer, client: DexClient, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{dex.issuer}/token",
        data={"grant_type": "password", "username": email, "password": password, "scope": "openid email groups"},
        auth=(client.client_id, client.secret),
        timeout=10,
    )


@pytest.mark.parametrize("person", DEX_PEOPLE, ids=lambda person: person.email)
def test_each_demo_person_signs_in_with_the_documented_password_and_their_groups(
    dex: Callable[..., DexServer], person: DexPerson
) -> None:
    client = DexClient("graceperiod-dashboard", "Grace Period")
    server = dex(client)
    answer = password_grant(server, client, person.email, DEMO_PASSWORD)
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["id_token"], options={"verify_signature": False})
    assert claims["iss"] == server.issuer
    assert claims["aud"] == "graceperiod-dashboard"
    assert claims["email"] == person.email
    assert claims["email_verified"] is person.email_verified
    assert claims["groups"] == list(person.groups)


def test_a_wrong_password_is_refused(dex: Callable[..., DexServer]) -> None:
    client = DexClient("graceperiod-dashboard", "Grace Period")
    server = dex(client)
    refused = password_grant(server, client, DEX_PEOPLE[0].email, "not-the-password")
    assert refused.status_code in (400, 401), refused.text
    assert "id_token" not in refused.text
