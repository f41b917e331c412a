"""Signing in and out, whichever way someone signs in (identity provider, dev sign-in, an API
token turned into a session): session records started, read on every request, and ended.

The cookie holds ``{"sid": <random id>}`` once someone signed in, and, while a sign-in at the
identity provider is under way, that sign-in's :class:`~graceperiod.gateway.auth.oidc.PendingSignIn`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from litestar import Request

from graceperiod.contracts.enums import Permission
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.auth.oidc import SIGN_IN_SECONDS, PendingSignIn, ProviderPerson
from graceperiod.gateway.auth.session import (
    SESSION_ID,
    SessionRecord,
    SessionSource,
    SessionStore,
    UsedSignInState,
    digest,
    new_session_id,
    record_identity,
)
from graceperiod.runtime.clock import Clock

PENDING = "oidc"


class Person(Protocol):
    """Someone signed in with roles of their own: an API token's bearer, a demo person."""

    @property
    def user_id(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def roles(self) -> Sequence[str]: ...


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        *,
        clock: Clock,
        max_age: timedelta,
        role_permissions: Mapping[str, Sequence[Permission]],
        role_mapping: Mapping[str, Sequence[str]],
    ) -> None:
        self.store = store
        self._clock = clock
        self._max_age = max_age
        self._role_permissions = role_permissions
        self._role_mapping = role_mapping

    async def identity(self, cookie: Mapping[str, Any] | None) -> Identity | None:
        """Who the cookie's session record says is signed in (None: nobody, or it ended)."""
        session_id = cookie.get(SESSION_ID) if cookie else None
        if not isinstance(session_id, str) or not session_id:
            return None
        record = await self.store.find(digest(session_id))
        if record is None:
            return None
        return record_identity(
            record, now=self._clock.now(), role_permissions=self._role_permissions, role_mapping=self._role_mapping
        )

    async def start(self, request: Request[Any, Any, Any], person: Person, *, source: SessionSource) -> None:
        """A new session (a new id: never one the browser had before) for someone signed in
        with roles of their own (a demo person, the bearer of an API token)."""
        email = person.email.strip().lower() if person.email else None
        await self._start(
            request, user_id=person.user_id, email=email, name=person.name, source=source, roles=person.roles
        )

    async def start_provider(self, request: Request[Any, Any, Any], person: ProviderPerson) -> None:
        await self._start(
            request,
            user_id=person.user_id,
            email=person.email,
            name=person.name,
            source="oidc",
            claim_values=person.claim_values,
            issuer=person.issuer,
            subject=person.subject,
            id_token=person.id_token,
        )

    async def _start(self, request: Request[Any, Any, Any], **fields: Any) -> None:
        await self.end(request)
        session_id, now = new_session_id(), self._clock.now()
        await self.store.create(
            SessionRecord(key=digest(session_id), created_at=now, expires_at=now + self._max_age, **fields)
        )
        request.set_session({SESSION_ID: session_id})

    async def end(self, request: Request[Any, Any, Any]) -> SessionRecord | None:
        """Delete the browser's session record (its cookie is refused from now on) and clear
        the cookie; the record that was ended, if any."""
        session_id = request.session.get(SESSION_ID) if request.session else None
        record = None
        if isinstance(session_id, str) and session_id:
            key = digest(session_id)
            record = await self.store.find(key)
            await self.store.delete(key)
        request.clear_session()
        return record

    # --- a sign-in at the identity provider, between its start and its callback -------------

    @staticmethod
    def remember_pending(request: Request[Any, Any, Any], pending: PendingSignIn) -> None:
        current = request.session if isinstance(request.session, dict) else {}
        request.set_session({**current, PENDING: pending.to_cookie()})

    @staticmethod
    def pending(request: Request[Any, Any, Any]) -> PendingSignIn | None:
        session = request.session if isinstance(request.session, dict) else {}
        return PendingSignIn.from_cookie(session.get(PENDING))

    @staticmethod
    def forget_pending(request: Request[Any, Any, Any]) -> None:
        session = request.session if isinstance(request.session, dict) else {}
        if PENDING in session:
            request.set_session({key: value for key, value in session.items() if key != PENDING})

    async def use_state(self, state: str) -> bool:
        now = self._clock.now()
        return await self.store.use_state(
            UsedSignInState(key=digest(state), used_at=now, expires_at=now + timedelta(seconds=2 * SIGN_IN_SECONDS))
        )
