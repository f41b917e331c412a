"""Dashboard sessions: a server-side record per signed-in browser, checked on every request.

The cookie (Litestar's client-side session: encrypted and authenticated with AES-GCM,
HttpOnly, SameSite=Lax, Secure behind TLS) carries only an opaque random session id; the
database holds the record under the id's SHA-256, so reading the database does not give
anyone a usable session. Every request looks the record up, so:

* signing out deletes the record, and the old cookie is refused at once, even replayed;
* permissions come from the role table on every request, and roles of people who signed in
  through the identity provider come from their recorded claim values through the current
  role mapping, so a change of either applies at the next request (after the restart that
  loads new settings); a person left without a role is signed out;
* records expire at ``expires_at`` (refused from then on) and are purged on a schedule,
  since FerretDB has no TTL index.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from graceperiod.contracts.enums import Permission
from graceperiod.gateway.auth.identity import Identity, permissions_for, roles_for

#: The one key of the cookie session once someone signed in.
SESSION_ID = "sid"

SessionSource = Literal["dev", "api-token", "oidc"]


class SessionRecord(BaseModel):
    """One signed-in browser, as stored in the gateway's ``sessions`` collection."""

    model_config = ConfigDict(frozen=True)

    key: str
    """SHA-256 of the session id in the cookie (the document's ``_id``)."""
    user_id: str
    email: str | None
    """Lower-cased, and only when verified (the identity provider said so)."""
    name: str | None
    source: SessionSource
    roles: list[str] = []
    """Roles granted as such (demo people, an API token's roles claim)."""
    claim_values: list[str] = []
    """For ``oidc``: the values of the role claims, mapped to roles on every request."""
    issuer: str | None = None
    subject: str | None = None
    id_token: str | None = None
    """For ``oidc``: the ID token, sent back as ``id_token_hint`` when signing out at the provider."""
    created_at: datetime
    expires_at: datetime


class UsedSignInState(BaseModel):
    """A finished sign-in's ``state``, kept until it would have expired anyway, so a replayed
    callback is recognised whatever cookie comes with it."""

    model_config = ConfigDict(frozen=True)

    key: str
    """SHA-256 of the state (the document's ``_id``)."""
    used_at: datetime
    expires_at: datetime


class SessionStore(Protocol):
    async def create(self, record: SessionRecord) -> None: ...

    async def find(self, key: str) -> SessionRecord | None: ...

    async def delete(self, key: str) -> None: ...

    async def use_state(self, used: UsedSignInState) -> bool:
        """Record a sign-in state as used: True the first time, False for a replay."""
        ...

    async def purge(self, *, now: datetime) -> int:
        """Delete expired session records and used states."""
        ...


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The database key of a session id or sign-in state."""
    return hashlib.sha256(secret.encode()).hexdigest()


def record_identity(
    record: SessionRecord,
    *,
    now: datetime,
    role_permissions: Mapping[str, Sequence[Permission]],
    role_mapping: Mapping[str, Sequence[str]],
) -> Identity | None:
    """Who the record says is signed in, with today's roles; None when it expired or when a
    person who signed in through the identity provider no longer maps to any role."""
    if now >= record.expires_at:
        return None
    roles = roles_for(record.claim_values, role_mapping) if record.source == "oidc" else tuple(record.roles)
    if record.source == "oidc" and not roles:
        return None
    return Identity(
        user_id=record.user_id,
        email=record.email,
        name=record.name,
        roles=roles,
        permissions=permissions_for(roles, role_permissions),
        method="session",
    )
