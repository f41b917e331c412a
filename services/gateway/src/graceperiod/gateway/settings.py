"""Gateway settings (environment variables prefixed ``GATEWAY_``).

Dictionaries and lists are read from JSON, e.g.
``GATEWAY_ROLE_PERMISSIONS='{"admin": ["revoke-any:purchases"], "user": ["revoke-own:purchases"]}'``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from graceperiod.contracts.enums import Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.revocation import EXPIRING_SOON_HOURS
from graceperiod.runtime.settings import CommaSeparated, LinkKeySettings, ServiceSettings

#: The issue's defaults: admins may revoke any purchase, release accounts early and change
#: configuration; users may revoke the purchases they requested.
DEFAULT_ROLE_PERMISSIONS: Final[dict[str, list[Permission]]] = {
    "admin": [Permission.REVOKE_ANY_PURCHASES, Permission.RELEASE_ANY_ACCOUNTS, Permission.UPDATE_CONFIG],
    "user": [Permission.REVOKE_OWN_PURCHASES],
}

#: Only asymmetric algorithms: the gateway holds public keys, never a shared secret, so
#: "none" and the HMAC family (the key-confusion attack) can never be accepted.
ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

PerMinute = Annotated[int, Field(ge=0, le=1_000_000)]


class GatewaySettings(ServiceSettings, LinkKeySettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")
    broker_identity: ClassVar[BrokerIdentity | None] = BrokerIdentity.GATEWAY

    mongodb_database: str = "graceperiod_gateway"
    http_port: int = 8080

    public_base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where people reach the gateway. An https:// URL makes cookies Secure and adds HSTS.",
    )

    # --- Calls to the services (RPC over RabbitMQ) ---------------------------------------
    query_timeout_seconds: float = Field(
        default=3.0, gt=0, le=60, description="How long a read waits for the owning service before answering 503."
    )
    command_timeout_seconds: float = Field(
        default=8.0,
        gt=0,
        le=120,
        description=(
            "How long an action waits for its outcome. Commands are durable: on timeout the API answers 503 "
            "(retrying with the same Idempotency-Key is safe) and the email-link page shows 'in progress'."
        ),
    )

    export_page_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description=(
            "How long each page of a CSV export waits for the revocation service. The download is already "
            "streaming when a later page is read, so a page that timed out would cut the file short."
        ),
    )

    expiring_soon_hours: int = Field(
        default=EXPIRING_SOON_HOURS,
        ge=1,
        le=24 * 366,
        description='The History\'s "expiring soon" filter: a window closes within this many hours.',
    )

    # --- API clients: Bearer JWTs ------------------------------------------------------------
    auth_jwks_url: str | None = Field(default=None, description="JWKS URL of the identity provider.")
    auth_public_key_file: Path | None = Field(default=None, description="A PEM public key (static-key mode).")
    auth_issuer: str | None = Field(default=None, description="Required `iss` of API tokens.")
    auth_audience: str = Field(default="graceperiod-api", description="Required `aud` of API tokens.")
    auth_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)
    auth_jwks_cache_seconds: int = Field(default=300, ge=10)
    auth_email_claim: str = "email"
    auth_name_claim: str = "name"
    auth_roles_claim: str = "roles"

    role_permissions: dict[str, list[Permission]] = Field(
        default_factory=lambda: {role: list(perms) for role, perms in DEFAULT_ROLE_PERMISSIONS.items()},
        description="Role → permissions. Roles come from the token's roles claim or the session.",
    )

    # --- Dashboard sessions ------------------------------------------------------------------
    session_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Secret the session cookie is encrypted with and CSRF tokens are signed with (any length; "
            "at least 32 characters recommended). Unset: a random one per process, so sessions end "
            "at restart and do not work across replicas."
        ),
    )
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool | None = Field(
        default=None, description="Secure cookies; default: whether public_base_url is https."
    )
    dev_sign_in: bool = Field(
        default=False,
        description=(
            "Offer the seeded demo users on /sign-in (an admin, two users). Local use only: the gateway "
            "refuses to start with it on when public_base_url is https or http_host is not a loopback address."
        ),
    )
    session_purge_interval_seconds: float = Field(
        default=300, gt=0, description="How often expired session records are deleted (FerretDB has no TTL index)."
    )

    # --- Sign-in through the organisation's identity provider (OpenID Connect) --------------
    oidc_issuer: str | None = Field(
        default=None,
        description=(
            "Issuer URL of the identity provider; its discovery document is "
            "<issuer>/.well-known/openid-configuration. Unset: no 'Sign in with ...' button."
        ),
    )
    oidc_provider_name: str = Field(
        default="your identity provider", description="Shown on the button: 'Sign in with <name>'."
    )
    oidc_client_id: str | None = Field(default=None, description="The gateway's client id at the provider.")
    oidc_client_auth: Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] = Field(
        default="client_secret_basic",
        description="How the gateway authenticates at the token endpoint; 'none' for a public client (PKCE only).",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="Client secret (client_secret_basic / client_secret_post)."
    )
    oidc_private_key_file: Path | None = Field(
        default=None,
        description="PEM private key (RSA) for private_key_jwt; its public key is registered at the provider.",
    )
    oidc_private_key_id: str | None = Field(default=None, description="The kid of that key, if the provider wants one.")
    oidc_scopes: list[str] = Field(
        default_factory=lambda: ["openid", "email", "profile"],
        description="Scopes asked for; add the one that releases groups or roles where the provider needs it.",
    )
    oidc_role_claims: list[str] = Field(
        default_factory=lambda: ["groups"],
        description=(
            "ID-token claims whose values are looked up in oidc_role_mapping: a claim name, or a dotted path "
            "into nested claims (realm_access.roles). 'email' counts only when email_verified is true."
        ),
    )
    oidc_role_mapping: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Claim value (a group, role, Entra ID group object id, Google hosted domain) → Grace Period roles. "
            "Nothing maps to any role by default: a person none of whose values is mapped is refused."
        ),
    )
    oidc_provider_logout: bool = Field(
        default=True,
        description="On sign-out, also end the session at the provider when it offers RP-initiated logout.",
    )
    oidc_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Timeout of calls to the provider.")
    oidc_discovery_cache_seconds: int = Field(default=3600, ge=10)

    # --- Email links (the notifier's public keys: LinkKeySettings) ------------------------------
    assertion_keys_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of the gateway's Ed25519 private keys (<kid>.pem, newest signs) that sign the actor assertion "
            "of every command and query (docs/security.md); the services verify with the public halves "
            "(ASSERTION_PUBLIC_KEYS_DIR). Required to reach the services."
        ),
    )
    link_record_margin_hours: int = Field(
        default=24, ge=1, description="Consumed-link records are kept this long past the token's expiry."
    )
    link_view_seconds: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description=(
            "An email-link page shows its recipient's view of the purchase again for this long after reading it "
            "(never past a window instant; an action through this gateway forgets it at once), so a crowd of views "
            "of one link makes one RPC a second: other replicas' changes show within this. 0 reads on every view."
        ),
    )
    purge_interval_seconds: float = Field(default=600, gt=0)

    # --- Protection ---------------------------------------------------------------------------
    sign_in_rate_per_minute: PerMinute = Field(default=10, description="Per client address; 0 turns it off.")
    public_rate_per_minute: PerMinute = Field(
        default=60, description="Email-link pages, per client address; 0 turns it off."
    )
    http_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    trusted_proxies: CommaSeparated = Field(
        default_factory=list,
        description=(
            "Addresses or networks of the reverse proxies in front of the gateway, comma-separated "
            "(e.g. the ingress controller's pod network). X-Forwarded-For/-Proto are believed from these "
            "only, and the client address they name is what rate limits count; default: none, so the "
            "connection's own address counts."
        ),
    )
    reapply_bundle_docs: str = Field(
        default="docs/operations.md#reapply-the-onboarding-bundle",
        description="Where the 're-apply the onboarding bundle' instructions live.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                msg = f"trusted_proxies: {entry!r} is not an IP address or network"
                raise ValueError(msg) from exc
        return value

    @field_validator("auth_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        unsafe = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if unsafe:
            msg = f"auth_algorithms may only name asymmetric JWS algorithms; not allowed: {unsafe}"
            raise ValueError(msg)
        if not value:
            msg = "auth_algorithms must name at least one algorithm"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _dev_sign_in_stays_local(self) -> Self:
        if self.dev_sign_in and (self.public_base_url.startswith("https://") or not _loopback(self.http_host)):
            msg = (
                "GATEWAY_DEV_SIGN_IN=true lets anyone sign in as a demo admin: it is refused when the gateway "
                f"is public (public_base_url {self.public_base_url!r}, http_host {self.http_host!r}). "
                "Turn it off and configure GATEWAY_OIDC_* (docs/gateway.md)."
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Self:
        if self.oidc_issuer is None:
            return self
        missing = []
        if not self.oidc_client_id:
            missing.append("GATEWAY_OIDC_CLIENT_ID")
        if self.oidc_client_auth.startswith("client_secret") and self.oidc_client_secret is None:
            missing.append("GATEWAY_OIDC_CLIENT_SECRET")
        if self.oidc_client_auth == "private_key_jwt" and self.oidc_private_key_file is None:
            missing.append("GATEWAY_OIDC_PRIVATE_KEY_FILE")
        if "openid" not in self.oidc_scopes:
            missing.append("the 'openid' scope in GATEWAY_OIDC_SCOPES")
        if missing:
            msg = f"GATEWAY_OIDC_ISSUER is set, so these are needed too: {', '.join(missing)}"
            raise ValueError(msg)
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

    @property
    def oidc_redirect_uri(self) -> str:
        return self.public_base_url.rstrip("/") + "/sign-in/callback"

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.public_base_url.startswith("https://")

    def derived_key(self, purpose: str, fallback: bytes) -> bytes:
        """A 32-byte key for one purpose (session encryption, CSRF signing) from the one secret."""
        secret = self.session_secret.get_secret_value().encode() if self.session_secret else fallback
        return hashlib.sha256(purpose.encode() + b"\0" + secret).digest()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
