"""API tokens: verified with public keys only; every bad token is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from graceperiod.contracts.enums import Permission
from graceperiod.devstack.testkit.tokens import ApiTokenIssuer, forge_hs256, forge_unsigned
from graceperiod.gateway.auth.bearer import (
    BearerError,
    BearerVerifier,
    DevTokenSigner,
    JwksKeys,
    KeysUnavailable,
    StaticKeys,
    Trust,
)
from graceperiod.gateway.settings import DEFAULT_ROLE_PERMISSIONS, GatewaySettings
from graceperiod.runtime.clock import FrozenClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def verifier_for(idp: ApiTokenIssuer, clock: FrozenClock | None = None) -> BearerVerifier:
    return BearerVerifier(
        [Trust(idp.issuer, StaticKeys({idp.kid: idp.private_key.public_key()}))],
        audience=idp.audience,
        algorithms=["RS256", "ES256", "EdDSA"],
        role_permissions=DEFAULT_ROLE_PERMISSIONS,
        clock=clock or FrozenClock(NOW),
    )


async def refused(verifier: BearerVerifier, token: str) -> str:
    with pytest.raises(BearerError) as caught:
        await verifier.verify(token)
    return str(caught.value)


async def test_a_good_token_gives_identity_and_permissions_from_roles() -> None:
    idp = ApiTokenIssuer()
    identity = await verifier_for(idp).verify(
        idp.token(user_id="u-ada", email="Ada@Example.com", roles=["admin"], now=NOW, name="Ada")
    )
    assert (identity.user_id, identity.email, identity.name, identity.method) == (
        "u-ada",
        "ada@example.com",
        "Ada",
        "bearer",
    )
    assert identity.permissions == {
        Permission.REVOKE_ANY_PURCHASES,
        Permission.RELEASE_ANY_ACCOUNTS,
        Permission.UPDATE_CONFIG,
    }


async def test_unknown_roles_grant_nothing() -> None:
    idp = ApiTokenIssuer()
    identity = await verifier_for(idp).verify(idp.token(user_id="u", email="u@example.com", roles=["root"], now=NOW))
    assert identity.permissions == frozenset()


async def test_a_static_pem_key_verifies_tokens_whatever_their_kid_and_nothing_else() -> None:
    # A PEM file carries no kid, while identity providers put one in every token.
    idp = ApiTokenIssuer()
    verifier = BearerVerifier(
        [Trust(idp.issuer, StaticKeys.from_pem(idp.public_pem))],
        audience=idp.audience,
        algorithms=["EdDSA"],
        role_permissions=DEFAULT_ROLE_PERMISSIONS,
        clock=FrozenClock(NOW),
    )
    identity = await verifier.verify(idp.token(user_id="u-ada", email="ada@example.com", roles=["user"], now=NOW))
    assert identity.user_id == "u-ada"
    impostor = ApiTokenIssuer(issuer=idp.issuer, audience=idp.audience)
    assert "signature" in await refused(
        verifier, impostor.token(user_id="u-ada", email="ada@example.com", roles=["admin"], now=NOW)
    )


async def test_forged_none_hmac_expired_audience_issuer_are_refused() -> None:
    idp = ApiTokenIssuer()
    verifier = verifier_for(idp)
    claims = idp.claims(user_id="u-ada", email="ada@example.com", roles=["admin"], now=NOW)
    impostor = ApiTokenIssuer()
    impostor.kid = idp.kid
    assert "signature" in await refused(verifier, impostor.sign(claims))
    assert "'none'" in await refused(verifier, forge_unsigned(claims, kid=idp.kid))
    assert "'HS256'" in await refused(verifier, forge_hs256(claims, secret=idp.public_pem, kid=idp.kid))
    assert "expired" in await refused(verifier, idp.sign({**claims, "exp": int(NOW.timestamp()) - 60}))
    assert "audience" in await refused(verifier, idp.sign({**claims, "aud": "graceperiod:revoke-link"}))
    assert "issuer" in await refused(verifier, idp.sign({**claims, "iss": "https://evil.example/"}))
    assert "not a valid user id" in await refused(verifier, idp.sign({**claims, "sub": "has spaces"}))
    assert "'email'" in await refused(verifier, idp.sign({k: v for k, v in claims.items() if k != "email"}))
    assert "well-formed" in await refused(verifier, "abc")


async def test_the_algorithm_must_match_the_key() -> None:
    idp = ApiTokenIssuer()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = idp.claims(user_id="u-ada", email="ada@example.com", roles=["admin"], now=NOW)
    token = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": idp.kid})  # an Ed25519 kid
    assert await refused(verifier_for(idp), token)


def test_only_asymmetric_algorithms_can_be_configured() -> None:
    with pytest.raises(ValueError, match="HS256"):
        GatewaySettings(auth_algorithms=["RS256", "HS256"])
    with pytest.raises(ValueError, match="none"):
        GatewaySettings(auth_algorithms=["none"])


async def test_without_an_identity_provider_every_token_is_refused() -> None:
    verifier = BearerVerifier(
        [], audience="a", algorithms=["EdDSA"], role_permissions=DEFAULT_ROLE_PERMISSIONS, clock=FrozenClock(NOW)
    )
    idp = ApiTokenIssuer()
    assert "not accepted" in await refused(verifier, idp.token(user_id="u", email="u@example.com", roles=[], now=NOW))


async def test_jwks_keys_are_cached_and_refreshed_for_a_new_kid() -> None:
    old, new = ApiTokenIssuer(), ApiTokenIssuer()
    new.issuer = old.issuer
    served = {"keys": old.jwks()["keys"]}
    fetches: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetches.append(str(request.url))
        return httpx.Response(200, content=json.dumps(served))

    keys = JwksKeys("https://idp.example.test/jwks", min_refresh_seconds=0, transport=httpx.MockTransport(handler))
    verifier = BearerVerifier(
        [Trust(old.issuer, keys)],
        audience=old.audience,
        algorithms=["EdDSA"],
        role_permissions=DEFAULT_ROLE_PERMISSIONS,
        clock=FrozenClock(NOW),
    )
    await verifier.verify(old.token(user_id="u", email="u@example.com", roles=[], now=NOW))
    await verifier.verify(old.token(user_id="u", email="u@example.com", roles=[], now=NOW))
    assert len(fetches) == 1
    served = {"keys": old.jwks()["keys"] + new.jwks()["keys"]}  # the provider rotated
    await verifier.verify(new.token(user_id="u", email="u@example.com", roles=[], now=NOW))
    assert len(fetches) == 2


async def test_an_unreachable_jwks_url_is_keys_unavailable_not_a_pass() -> None:
    idp = ApiTokenIssuer()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    keys = JwksKeys("https://idp.example.test/jwks", transport=httpx.MockTransport(handler))
    verifier = BearerVerifier(
        [Trust(idp.issuer, keys)],
        audience=idp.audience,
        algorithms=["EdDSA"],
        role_permissions=DEFAULT_ROLE_PERMISSIONS,
        clock=FrozenClock(NOW),
    )
    with pytest.raises(KeysUnavailable):
        await verifier.verify(idp.token(user_id="u", email="u@example.com", roles=[], now=NOW))


async def test_dev_tokens_verify_only_through_the_dev_trust() -> None:
    clock = FrozenClock(NOW)
    signer = DevTokenSigner(audience="graceperiod-api", clock=clock)
    token = signer.issue(user_id="u-alice", email="alice@example.com", name="Alice", roles=["user"])
    with_dev = BearerVerifier(
        [signer.trust()],
        audience="graceperiod-api",
        algorithms=["EdDSA"],
        role_permissions=DEFAULT_ROLE_PERMISSIONS,
        clock=clock,
    )
    assert (await with_dev.verify(token)).permissions == {Permission.REVOKE_OWN_PURCHASES}
    assert "unknown key" in await refused(verifier_for(ApiTokenIssuer()), token)
    clock.advance(timedelta(hours=2))
    assert "expired" in await refused(with_dev, token)
