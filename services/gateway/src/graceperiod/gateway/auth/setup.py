"""How the gateway decides who is asking, built from its settings without I/O: the API-token
verifier (and, with the dev sign-in on, the signer of the demo users' tokens), the sessions,
the identity provider's sign-in (when configured), the dashboard's session cookie, the CSRF
check, and the middleware that apply them. Key files are read at start-up
(:meth:`Authentication.load_keys`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from litestar.config.csrf import CSRFConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig

from graceperiod.gateway.auth.bearer import (
    BearerVerifier,
    ClaimNames,
    DevTokenSigner,
    JwksKeys,
    MappedIssuer,
    StaticKeys,
    Trust,
)
from graceperiod.gateway.auth.middleware import CsrfUnlessBearer, IdentityMiddleware
from graceperiod.gateway.auth.oidc import OidcClient
from graceperiod.gateway.auth.session import SessionStore
from graceperiod.gateway.auth.sign_in import Sessions
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.gateway")


class _DeferredKeys(StaticKeys):
    """The static API-token key, read from its file at start-up (not when the app is built)."""

    def __init__(self) -> None:
        super().__init__({})

    def load(self, path: Path) -> None:
        loaded = StaticKeys.from_pem(path.read_bytes())
        self._keys, self._any_kid = loaded._keys, loaded._any_kid


class Authentication:
    def __init__(
        self, settings: GatewaySettings, clock: Clock, sessions: SessionStore, bearer_trusts: Sequence[Trust] | None
    ) -> None:
        """``sessions``: where session records live; ``bearer_trusts``: the API-token issuers to
        trust instead of the configured ones (tests)."""
        self._settings = settings
        self._static_key = _DeferredKeys() if bearer_trusts is None and settings.auth_public_key_file else None
        self.signer = DevTokenSigner(audience=settings.auth_audience, clock=clock) if settings.dev_sign_in else None
        self.sessions = Sessions(
            sessions,
            clock=clock,
            max_age=timedelta(seconds=settings.session_max_age_seconds),
            role_permissions=settings.role_permissions,
            role_mapping=settings.oidc_role_mapping,
        )
        self.oidc = OidcClient(settings, clock=clock) if settings.oidc_enabled else None
        verifier = BearerVerifier(
            self._trusts(bearer_trusts),
            audience=settings.auth_audience,
            algorithms=settings.auth_algorithms,
            role_permissions=settings.role_permissions,
            clock=clock,
            leeway_seconds=settings.auth_leeway_seconds,
            claims=ClaimNames(settings.auth_email_claim, settings.auth_name_claim, settings.auth_roles_claim),
            mapped=MappedIssuer(settings.oidc_issuer, settings.oidc_role_claims, settings.oidc_role_mapping)
            if settings.oidc_issuer
            else None,
        )
        process_secret = os.urandom(32)  # without GATEWAY_SESSION_SECRET: sessions end at restart
        self.session_middleware = CookieBackendConfig(
            secret=settings.derived_key("session", process_secret),
            key="gp_session",
            max_age=settings.session_max_age_seconds,
            secure=settings.secure_cookies,
            httponly=True,
            samesite="lax",
        ).middleware
        self.identity_middleware = DefineMiddleware(IdentityMiddleware, verifier=verifier, sessions=self.sessions)
        csrf = CSRFConfig(
            secret=settings.derived_key("csrf", process_secret).hex(),
            cookie_name="gp_csrf",
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
        )
        self.csrf_middleware = DefineMiddleware(CsrfUnlessBearer, config=csrf)

    def _trusts(self, injected: Sequence[Trust] | None) -> list[Trust]:
        settings = self._settings
        trusts: list[Trust] = list(injected or [])
        if injected is None and settings.auth_issuer:
            if settings.auth_jwks_url:
                jwks = JwksKeys(settings.auth_jwks_url, cache_seconds=settings.auth_jwks_cache_seconds)
                trusts.append(Trust(settings.auth_issuer, jwks))
            if self._static_key is not None:
                trusts.append(Trust(settings.auth_issuer, self._static_key))
        if self.signer is not None:
            trusts.append(self.signer.trust())
        return trusts

    def load_keys(self) -> None:
        if self._static_key is not None and self._settings.auth_public_key_file:
            self._static_key.load(self._settings.auth_public_key_file)
        if self._settings.auth_issuer is None and (self._settings.auth_jwks_url or self._settings.auth_public_key_file):
            log.warning("GATEWAY_AUTH_ISSUER is not set: API tokens are refused")
        if self.oidc is not None:
            self.oidc.load_keys()
