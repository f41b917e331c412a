"""The sign-in pages: the sign-in page, the identity provider's start and callback, the dev
sign-in (``GATEWAY_DEV_SIGN_IN=true`` only) and sign-out.

Every refused sign-in gets a page in the layout saying why, with a way to try again, and a
log line with the reason; never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from graceperiod.gateway.auth.dev import DEMO_USERS, demo_user
from graceperiod.gateway.auth.guards import identity_of
from graceperiod.gateway.auth.identity import roles_for
from graceperiod.gateway.auth.oidc import OidcClient, SignInFailed
from graceperiod.gateway.auth.sign_in import Sessions
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.web.collaborators import provide, provide_optional
from graceperiod.gateway.web.pages import page
from graceperiod.gateway.web.request_ids import request_id_of
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.gateway.sign_in")

NextPath = Annotated[str | None, QueryParameter(name="next", max_length=2048)]


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "") if not parts.netloc else "/"


@dataclass
class SignInForm:
    user_id: str
    next: str = "/"


def _refused(request: Request[Any, Any, Any], failure: SignInFailed, *, next_path: str, **log_fields: Any) -> Template:
    """The page of a refused sign-in (in the layout, with a way to try again) and its log line."""
    log.warning(
        "sign-in refused",
        reason=failure.reason,
        status=failure.status,
        detail="; ".join(getattr(failure, "__notes__", ())) or None,
        **log_fields,
    )
    return page(
        "sign_in_failed.html",
        identity_of(request),
        status=failure.status,
        code=failure.status,
        detail=str(failure),
        retry=f"/sign-in?next={quote(next_path, safe='/')}",
        request_id=request_id_of(request.scope),
    )


class SignInPages(Controller):
    opt = {"page": "sign-in"}
    include_in_schema = False
    dependencies = {
        "settings": provide(GatewaySettings),
        "sessions": provide(Sessions),
        "oidc": provide_optional(OidcClient),
    }

    @get("/sign-in", name="sign-in")
    async def sign_in_page(
        self,
        *,
        request: Request[Any, Any, Any],
        settings: NamedDependency[GatewaySettings],
        oidc: NamedDependency[OidcClient | None],
        next_: NextPath = None,
    ) -> Template:
        target = safe_next(next_)
        return page(
            "sign_in.html",
            identity_of(request),
            dev=settings.dev_sign_in,
            users=DEMO_USERS,
            next=target,
            provider=oidc.provider_name if oidc else None,
            provider_start=f"/sign-in/provider?next={quote(target, safe='/')}",
        )

    @get("/sign-in/provider")
    async def start_at_provider(
        self,
        *,
        request: Request[Any, Any, Any],
        oidc: NamedDependency[OidcClient | None],
        sessions: NamedDependency[Sessions],
        next_: NextPath = None,
    ) -> Redirect | Template:
        """A link, not a form: the page's CSP (form-action 'self') would stop a form's
        redirect to the provider."""
        if oidc is None:
            raise NotFoundException("Sign-in through an identity provider is not configured here.")
        target = safe_next(next_)
        try:
            url, pending = await oidc.begin(target)
        except SignInFailed as failure:
            return _refused(request, failure, next_path=target)
        sessions.remember_pending(request, pending)
        return Redirect(url, status_code=303)

    @get("/sign-in/callback")
    async def provider_callback(
        self,
        *,
        request: Request[Any, Any, Any],
        settings: NamedDependency[GatewaySettings],
        oidc: NamedDependency[OidcClient | None],
        sessions: NamedDependency[Sessions],
    ) -> Redirect | Template:
        if oidc is None:
            raise NotFoundException("Sign-in through an identity provider is not configured here.")
        pending = sessions.pending(request)
        target = pending.next if pending else "/"
        params = {key: value for key, value in request.query_params.items() if isinstance(value, str)}
        try:
            person = await oidc.finish(pending, params, use_state=sessions.use_state)
        except SignInFailed as failure:
            sessions.forget_pending(request)
            return _refused(request, failure, next_path=target)
        if not roles_for(person.claim_values, settings.oidc_role_mapping):
            sessions.forget_pending(request)
            who = person.email or person.name or "this account"
            no_role = SignInFailed(
                "no-mapped-role",
                f"{oidc.provider_name} signed you in as {who}, but none of your groups gives you a role in "
                "Grace Period, so you cannot use it yet. Ask an administrator to add you to a group that "
                "Grace Period maps to a role.",
                status=403,
            )
            return _refused(request, no_role, next_path=target, user_id=person.user_id, values=person.claim_values)
        await sessions.start_provider(request, person)
        log.info("signed in", via="oidc", user_id=person.user_id, values=person.claim_values)
        return Redirect(safe_next(target), status_code=303)

    @post("/sign-in")
    async def dev_sign_in(
        self,
        *,
        request: Request[Any, Any, Any],
        settings: NamedDependency[GatewaySettings],
        sessions: NamedDependency[Sessions],
        data: URLEncodedBody[SignInForm],
    ) -> Redirect:
        user = demo_user(data.user_id) if settings.dev_sign_in else None
        if user is None:
            raise NotFoundException("There is no such sign-in.")
        await sessions.start(request, user, source="dev")
        return Redirect(safe_next(data.next), status_code=303)

    @post("/sign-out")
    async def sign_out(
        self,
        *,
        request: Request[Any, Any, Any],
        sessions: NamedDependency[Sessions],
        oidc: NamedDependency[OidcClient | None],
    ) -> Redirect | Template:
        """Ends the session record at once; then, for someone who came through the identity
        provider, ends their session there too when it supports RP-initiated logout (a page
        that goes on to the provider: a redirect from this form would break the CSP)."""
        ended = await sessions.end(request)
        if ended is not None:
            log.info("signed out", user_id=ended.user_id, source=ended.source)
        provider_logout = None
        if ended is not None and ended.source == "oidc" and oidc is not None:
            provider_logout = await oidc.logout_url(ended.id_token)
        if provider_logout is None:
            return Redirect("/sign-in", status_code=303)
        return page(
            "signed_out.html",
            None,
            provider=oidc.provider_name if oidc else "",
            refresh_to=provider_logout,
        )
