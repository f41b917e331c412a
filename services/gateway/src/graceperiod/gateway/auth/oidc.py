"""Sign-in through the organisation's identity provider: OpenID Connect's authorization code
flow with PKCE (S256), driven by the provider's discovery document, with Authlib's client.

* :meth:`OidcClient.begin` makes a fresh ``state``, ``nonce`` and PKCE verifier, kept in the
  browser's encrypted session cookie (:class:`PendingSignIn`), and the authorization URL.
* :meth:`OidcClient.finish` checks the callback against that pending sign-in (state, expiry,
  the ``iss`` parameter of RFC 9207 when present, a code), records the state as used (a
  replay fails even with a replayed cookie), exchanges the code with the verifier, and
  verifies the ID token with the gateway's own JWT checks (:class:`JwtChecks`, as for API
  tokens) against the provider's JWKS: signature, ``iss``, ``aud`` (= the client id, and
  ``azp`` when there are several audiences), ``exp``/``nbf``, then ``nonce`` and ``iat``.
* The person is the issuer plus ``sub``. The email counts only when ``email_verified`` is
  true. Role claims (``oidc_role_claims``, dotted paths into nested claims) give the values
  the role mapping turns into roles; Entra ID's group overage (``_claim_names``) is refused
  with an explanation rather than read as "no groups".

Every failure is a :class:`SignInFailed` with a reason slug for the log and a message for
people; nothing here raises anything else for bad input or an unreachable provider.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.discovery import OpenIDProviderMetadata

from graceperiod.gateway.auth.bearer import BearerError, JwksKeys, JwtChecks, KeysUnavailable, Trust
from graceperiod.gateway.auth.identity import claim_strings, oidc_user_id
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.clock import Clock

#: How long a started sign-in may take (the person types their password at the provider).
SIGN_IN_SECONDS = 600


class SignInFailed(Exception):  # noqa: N818 - reads as what happened, like KeysUnavailable
    """A sign-in that cannot go on: ``reason`` for the log, the message for people."""

    def __init__(self, reason: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser's encrypted session cookie holds between the start and the callback."""

    state: str
    nonce: str
    code_verifier: str
    next: str
    started_at: float

    def to_cookie(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_cookie(cls, value: Any) -> PendingSignIn | None:
        if not isinstance(value, dict):
            return None
        try:
            pending = cls(**value)
        except TypeError:
            return None
        fields = (pending.state, pending.nonce, pending.code_verifier, pending.next)
        if not all(isinstance(field, str) for field in fields) or not isinstance(pending.started_at, int | float):
            return None
        return pending


@dataclass(frozen=True)
class ProviderPerson:
    """Who the identity provider signed in, as far as Grace Period believes it."""

    issuer: str
    subject: str
    user_id: str
    email: str | None
    name: str | None
    claim_values: tuple[str, ...]
    id_token: str


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


def person_from_claims(
    issuer: str, claims: Mapping[str, Any], id_token: str, *, role_claims: Sequence[str], provider_name: str
) -> ProviderPerson:
    """Who a verified ID token names: issuer plus ``sub``; the email only when verified; the
    values of the role claims (``email`` among them only when verified). Entra ID's group
    overage (``_claim_names`` naming a role claim) is refused: the groups are not in the token."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SignInFailed("id-token-subject", f"{provider_name}'s answer names nobody.", status=502)
    email = claims.get("email")
    verified = claims.get("email_verified") is True and isinstance(email, str) and "@" in email
    overage = claims.get("_claim_names")
    if isinstance(overage, Mapping) and any(path in overage for path in role_claims):
        raise SignInFailed(
            "groups-overage",
            f"{provider_name} did not list your groups in the token (you are in more groups than it puts "
            'there), so Grace Period cannot tell your role. An administrator can fix this: see "Entra ID" '
            "in docs/gateway.md.",
            status=403,
        )
    values = [value for path in role_claims if path != "email" or verified for value in claim_strings(claims, path)]
    name = claims.get("name") or claims.get("preferred_username")
    return ProviderPerson(
        issuer=issuer,
        subject=subject,
        user_id=oidc_user_id(issuer, subject),
        email=str(email).strip().lower() if verified else None,
        name=name.strip() if isinstance(name, str) and name.strip() else None,
        claim_values=tuple(dict.fromkeys(values)),
        id_token=id_token,
    )


class OidcClient:
    """The gateway as an OpenID Connect relying party of one provider."""

    def __init__(self, settings: GatewaySettings, *, clock: Clock) -> None:
        assert settings.oidc_issuer is not None, "built only when GATEWAY_OIDC_ISSUER is set"
        assert settings.oidc_client_id is not None
        self._settings = settings
        self._issuer = settings.oidc_issuer
        self._client_id = settings.oidc_client_id
        self._clock = clock
        self._checks = JwtChecks(
            algorithms=settings.auth_algorithms, clock=clock, leeway_seconds=settings.auth_leeway_seconds
        )
        self._private_key: str | None = None
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0
        self._keys: JwksKeys | None = None
        self._lock = asyncio.Lock()

    @property
    def provider_name(self) -> str:
        return self._settings.oidc_provider_name

    def load_keys(self) -> None:
        """Read the private_key_jwt key file (at start-up, not when the app is built)."""
        if self._settings.oidc_client_auth == "private_key_jwt" and self._settings.oidc_private_key_file:
            self._private_key = self._settings.oidc_private_key_file.read_text()

    # --- discovery ---------------------------------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, cached; a provider that cannot be reached is a 503."""
        if self._metadata is not None and self._fresh():
            return self._metadata
        async with self._lock:
            if self._metadata is None or not self._fresh():
                self._metadata = await self._discover()
                self._fetched_at = time.monotonic()
        return self._metadata

    def _fresh(self) -> bool:
        return time.monotonic() - self._fetched_at < self._settings.oidc_discovery_cache_seconds

    async def _discover(self) -> ProviderMetadata:
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx2.AsyncClient(timeout=self._settings.oidc_timeout_seconds) as http:
                response = await http.get(url, headers={"accept": "application/json"})
                response.raise_for_status()
                document = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise self._unavailable(f"discovery: {exc!r}") from exc
        if not isinstance(document, dict):
            raise self._unavailable("discovery: not a JSON object")
        metadata = OpenIDProviderMetadata(document)
        try:
            metadata.validate_issuer()
            metadata.validate_authorization_endpoint()
            metadata.validate_token_endpoint()
            metadata.validate_jwks_uri()
        except ValueError as exc:
            raise SignInFailed("discovery-invalid", self._misconfigured(), status=502) from exc
        if document.get("issuer") != self._issuer:
            # OpenID Connect Discovery 1.0 §4.3: the document must name the issuer asked for.
            raise SignInFailed("discovery-issuer-mismatch", self._misconfigured(), status=502)
        if self._keys is None or self._metadata is None or self._metadata.jwks_uri != document["jwks_uri"]:
            self._keys = JwksKeys(document["jwks_uri"], timeout=self._settings.oidc_timeout_seconds)
        end_session = document.get("end_session_endpoint")
        return ProviderMetadata(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            end_session_endpoint=end_session if isinstance(end_session, str) and end_session else None,
        )

    def _unavailable(self, why: str) -> SignInFailed:
        failure = SignInFailed(
            "provider-unavailable",
            f"{self.provider_name} is not answering right now, so you cannot be signed in. "
            "Nothing is lost: try again in a minute.",
            status=503,
        )
        failure.add_note(why)
        return failure

    def _misconfigured(self) -> str:
        return (
            f"{self.provider_name} answered with a configuration the gateway cannot use. "
            "An administrator needs to check GATEWAY_OIDC_ISSUER; the log says why."
        )

    # --- the flow ----------------------------------------------------------------------------

    def _client(self, metadata: ProviderMetadata) -> AsyncOAuth2Client:
        settings = self._settings
        secret: str | None = None
        if settings.oidc_client_auth == "private_key_jwt":
            secret = self._private_key
        elif settings.oidc_client_secret is not None:
            secret = settings.oidc_client_secret.get_secret_value()
        client = AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=secret,
            token_endpoint_auth_method=settings.oidc_client_auth,
            scope=" ".join(settings.oidc_scopes),
            redirect_uri=settings.oidc_redirect_uri,
            code_challenge_method="S256",
            timeout=settings.oidc_timeout_seconds,
        )
        if settings.oidc_client_auth == "private_key_jwt":
            headers = {"kid": settings.oidc_private_key_id} if settings.oidc_private_key_id else None
            client.register_client_auth_method(PrivateKeyJWT(metadata.token_endpoint, headers=headers))
        return client

    async def begin(self, next_path: str) -> tuple[str, PendingSignIn]:
        """Where to send the browser, and what to remember until it comes back."""
        metadata = await self.metadata()
        pending = PendingSignIn(
            state=generate_token(43),
            nonce=generate_token(43),
            code_verifier=generate_token(64),
            next=next_path,
            started_at=self._clock.now().timestamp(),
        )
        async with self._client(metadata) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint,
                state=pending.state,
                nonce=pending.nonce,
                code_verifier=pending.code_verifier,
            )
        return str(url), pending

    async def finish(
        self,
        pending: PendingSignIn | None,
        params: Mapping[str, str],
        *,
        use_state: Callable[[str], Awaitable[bool]],
    ) -> ProviderPerson:
        """The person the callback ``params`` sign in; ``use_state`` records the state as used
        (False: it was used before)."""
        code = self._check_callback(pending, params)
        assert pending is not None
        if not await use_state(pending.state):
            raise SignInFailed("state-replayed", "This sign-in was already completed. Start a new one.")
        metadata = await self.metadata()
        id_token = await self._exchange(metadata, code, pending)
        claims = await self._verify(metadata, id_token, pending)
        return person_from_claims(
            metadata.issuer,
            claims,
            id_token,
            role_claims=self._settings.oidc_role_claims,
            provider_name=self.provider_name,
        )

    def _check_callback(self, pending: PendingSignIn | None, params: Mapping[str, str]) -> str:
        if error := params.get("error"):
            description = params.get("error_description") or error
            raise SignInFailed(
                f"provider-refused:{error[:64]}", f"{self.provider_name} did not sign you in: {description[:300]}"
            )
        if pending is None:
            raise SignInFailed(
                "no-sign-in-in-progress",
                "This browser has no sign-in in progress (it may have been started in another browser, "
                "or already finished). Start a new one.",
            )
        state = params.get("state") or ""
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise SignInFailed("state-mismatch", "This answer does not belong to the sign-in this browser started.")
        if self._clock.now().timestamp() - pending.started_at > SIGN_IN_SECONDS:
            raise SignInFailed("sign-in-expired", "The sign-in took too long and expired. Start a new one.")
        returned_issuer = params.get("iss")
        if returned_issuer is not None and returned_issuer != self._issuer:
            # RFC 9207: an answer naming another issuer is a mix-up attack, not ours to redeem.
            raise SignInFailed("issuer-mismatch", "This answer comes from another identity provider.")
        code = params.get("code")
        if not code:
            raise SignInFailed("missing-code", f"{self.provider_name}'s answer carries no authorization code.")
        return code

    async def _exchange(self, metadata: ProviderMetadata, code: str, pending: PendingSignIn) -> str:
        try:
            async with self._client(metadata) as client:
                token = await client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                )
        except httpx2.TransportError as exc:
            raise self._unavailable(f"token endpoint: {exc!r}") from exc
        except OAuthError as exc:
            raise SignInFailed(
                f"code-refused:{str(exc.error)[:64]}",
                f"{self.provider_name} refused to complete the sign-in ({exc.error}). Start a new one.",
                status=502,
            ) from exc
        except httpx2.HTTPStatusError as exc:
            if exc.response.status_code >= 500:
                raise self._unavailable(f"token endpoint: HTTP {exc.response.status_code}") from exc
            raise SignInFailed("token-endpoint-error", self._bad_answer(), status=502) from exc
        except ValueError as exc:
            raise SignInFailed("token-endpoint-error", self._bad_answer(), status=502) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("no-id-token", self._bad_answer(), status=502)
        return id_token

    async def _verify(self, metadata: ProviderMetadata, id_token: str, pending: PendingSignIn) -> dict[str, Any]:
        assert self._keys is not None, "set by discovery"
        try:
            claims = await self._checks.verify(id_token, [Trust(metadata.issuer, self._keys)], audience=self._client_id)
        except BearerError as exc:
            failure = SignInFailed(f"id-token-{exc.reason}", self._bad_answer(), status=502)
            failure.add_note(str(exc))
            raise failure from exc
        except KeysUnavailable as exc:
            raise self._unavailable(f"keys: {exc}") from exc
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), pending.nonce.encode()):
            raise SignInFailed("id-token-nonce", self._bad_answer(), status=502)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self._client_id:
            raise SignInFailed("id-token-azp", self._bad_answer(), status=502)
        if not isinstance(claims.get("iat"), int | float):
            raise SignInFailed("id-token-iat", self._bad_answer(), status=502)
        return claims

    def _bad_answer(self) -> str:
        return (
            f"{self.provider_name}'s answer could not be verified, so you were not signed in. "
            "Start a new sign-in; if this keeps happening, tell an administrator (the log says why)."
        )

    # --- sign-out ----------------------------------------------------------------------------

    async def logout_url(self, id_token: str | None) -> str | None:
        """Where to send the browser to end the session at the provider too (RP-Initiated
        Logout 1.0), or None when it offers no ``end_session_endpoint`` or cannot be reached
        (the local sign-out has happened either way)."""
        if not self._settings.oidc_provider_logout:
            return None
        try:
            metadata = await self.metadata()
        except SignInFailed:
            return None
        if metadata.end_session_endpoint is None:
            return None
        params = {"client_id": self._client_id, "post_logout_redirect_uri": self.post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        parts = urlsplit(metadata.end_session_endpoint)
        query = "&".join(filter(None, [parts.query, urlencode(params)]))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    @property
    def post_logout_redirect_uri(self) -> str:
        return self._settings.public_base_url.rstrip("/") + "/sign-in"
