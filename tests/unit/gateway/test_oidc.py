"""The identity provider's claims as Grace Period reads them, the role mapping, and the
settings that keep the dev sign-in local. Pure logic: the flow itself runs against the
real Dex in tests/integration/gateway/test_sign_in.py."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.gateway.auth.identity import Identity, claim_at, oidc_user_id, roles_for, unverified_address
from graceperiod.gateway.auth.oidc import PendingSignIn, SignInFailed, person_from_claims
from graceperiod.gateway.settings import GatewaySettings

ISSUER = "https://login.example.com/tenant"


def person(claims: dict[str, Any], role_claims: list[str] | None = None) -> Any:
    return person_from_claims(
        ISSUER, {"sub": "s-1", **claims}, "id.token.x", role_claims=role_claims or ["groups"], provider_name="Okta"
    )


def test_the_email_counts_only_when_verified() -> None:
    assert person({"email": "Ada@Example.com", "email_verified": True}).email == "ada@example.com"
    assert person({"email": "ada@example.com", "email_verified": False}).email is None
    assert person({"email": "ada@example.com"}).email is None  # Entra ID sends no email_verified
    assert person({"email": "ada@example.com", "email_verified": "true"}).email is None  # a string is not true


def test_role_claims_by_name_or_dotted_path_and_email_only_when_verified() -> None:
    keycloak = {"realm_access": {"roles": ["grace-admin", "offline_access"]}, "groups": ["finops"]}
    assert person(keycloak, ["realm_access.roles", "groups"]).claim_values == (
        "grace-admin",
        "offline_access",
        "finops",
    )
    auth0 = {"https://example.com/roles": ["admin"]}
    assert person(auth0, ["https://example.com/roles"]).claim_values == ("admin",)
    google = {"hd": "example.com", "email": "ada@example.com", "email_verified": True}
    assert person(google, ["hd", "email"]).claim_values == ("example.com", "ada@example.com")
    unverified = {"hd": "example.com", "email": "ada@example.com", "email_verified": False}
    assert person(unverified, ["hd", "email"]).claim_values == ("example.com",)
    assert person({"groups": "one-group"}).claim_values == ("one-group",)
    assert person({"groups": [1, None, "g"]}).claim_values == ("g",)
    assert person({}).claim_values == ()
    assert claim_at({"a": {"b": 1}}, "a.c") is None


def test_entra_id_group_overage_is_refused_with_the_reason() -> None:
    overage = {
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}},
    }
    with pytest.raises(SignInFailed) as caught:
        person(overage)
    assert (caught.value.reason, caught.value.status) == ("groups-overage", 403)
    assert "Entra ID" in str(caught.value)
    # Overage of a claim Grace Period does not read is no reason to refuse.
    assert person(overage, ["roles"]).claim_values == ()


def test_a_token_without_a_subject_is_refused() -> None:
    with pytest.raises(SignInFailed) as caught:
        person_from_claims(ISSUER, {"sub": ""}, "t", role_claims=["groups"], provider_name="Okta")
    assert caught.value.reason == "id-token-subject"


def test_the_user_id_is_issuer_plus_subject_and_fits_the_contracts() -> None:
    readable = oidc_user_id(ISSUER, "00u1abcd")
    assert readable.startswith("oidc:")
    assert readable.endswith(":00u1abcd")
    assert oidc_user_id("https://other.example.com", "00u1abcd") != readable  # sub is unique per issuer only
    odd = oidc_user_id(ISSUER, "user name with spaces/and#more" + "x" * 200)
    assert len(odd) <= 128
    assert " " not in odd
    assert "#" not in odd
    assert person({}).user_id == oidc_user_id(ISSUER, "s-1")


def test_roles_come_only_from_mapped_values_and_nothing_maps_by_default() -> None:
    mapping = {"grace-period-admins": ["admin"], "finops": ["user"]}
    assert roles_for(["finops", "grace-period-admins", "marketing"], mapping) == ("admin", "user")
    assert roles_for(["marketing"], mapping) == ()
    assert roles_for(["admin", "grace-period-admins"], GatewaySettings().oidc_role_mapping) == ()


def test_a_pending_sign_in_survives_the_cookie_and_garbage_does_not() -> None:
    pending = PendingSignIn(state="s", nonce="n", code_verifier="v", next="/x", started_at=1.5)
    assert PendingSignIn.from_cookie(pending.to_cookie()) == pending
    for garbage in (
        None,
        "s",
        {"state": "s"},
        {**pending.to_cookie(), "extra": 1},
        {**pending.to_cookie(), "state": 5},
    ):
        assert PendingSignIn.from_cookie(garbage) is None


def test_revoke_own_matches_a_verified_email_and_an_unverified_person_gets_a_harmless_address() -> None:
    requester = sample_purchase(requester_email="Alice@example.com")
    own = frozenset({Permission.REVOKE_OWN_PURCHASES})
    verified = Identity("oidc:1:a", "alice@example.com", "Alice", ("user",), own, "session")
    unverified = Identity("oidc:1:a", None, "Alice", ("user",), own, "session")
    assert verified.can_revoke(requester)
    assert not unverified.can_revoke(requester)
    assert not unverified.is_recipient("alice@example.com")
    actor = unverified.actor(ActionPath.DASHBOARD)
    assert actor.email == unverified_address("oidc:1:a")
    assert actor.email.endswith("@email.invalid")


@pytest.mark.parametrize(
    ("host", "url"),
    [("0.0.0.0", "http://127.0.0.1:8080"), ("10.0.0.5", "http://127.0.0.1:8080"), ("127.0.0.1", "https://gp.example")],
)
def test_the_dev_sign_in_refuses_to_start_on_a_public_gateway(host: str, url: str) -> None:
    with pytest.raises(ValidationError, match="GATEWAY_DEV_SIGN_IN"):
        GatewaySettings(dev_sign_in=True, http_host=host, public_base_url=url)
    GatewaySettings(dev_sign_in=False, http_host=host, public_base_url=url)  # without it: fine


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_the_dev_sign_in_runs_on_loopback(host: str) -> None:
    assert GatewaySettings(dev_sign_in=True, http_host=host).dev_sign_in


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({}, "GATEWAY_OIDC_CLIENT_ID"),
        ({"oidc_client_id": "gp"}, "GATEWAY_OIDC_CLIENT_SECRET"),
        ({"oidc_client_id": "gp", "oidc_client_auth": "private_key_jwt"}, "GATEWAY_OIDC_PRIVATE_KEY_FILE"),
        ({"oidc_client_id": "gp", "oidc_client_auth": "none", "oidc_scopes": ["email"]}, "'openid' scope"),
    ],
)
def test_an_incomplete_provider_configuration_is_refused_at_start(changes: dict[str, Any], missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        GatewaySettings(oidc_issuer=ISSUER, **changes)


def test_a_public_client_needs_no_secret() -> None:
    settings = GatewaySettings(oidc_issuer=ISSUER, oidc_client_id="gp", oidc_client_auth="none")
    assert settings.oidc_redirect_uri == "http://127.0.0.1:8080/sign-in/callback"
