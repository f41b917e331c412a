"""The email-link pages: ``/api/purchases/{id}/revoke?token=…``.

GET verifies the token and shows what can be done now (it changes nothing: mail scanners
prefetch links). POST, a CSRF-protected form, consumes the token once (an insert keyed by
its ``jti``) and then sends the same revocation command the dashboard sends, marked
``via_link_token``; a second POST finds the first one's record and shows its outcome.

A session, when present, must belong to the token's recipient or hold
``revoke-any:purchases``; a logged-out recipient needs nothing but the token.

Statuses: 200 page; 202 in progress (refreshes); 400 missing/malformed token or form;
403 invalid signature/algorithm/key/issuer, wrong audience, wrong purchase, someone else's
session; 404 unknown purchase; 409 link already used (POST) or the service refused; 410
expired; 429 too many requests; 503 the revocation service is not answering.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Template

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.revocation import (
    AllowedAction,
    CommandReply,
    GetSupportCaseDraft,
    Phase,
    PurchaseView,
    RevokePurchase,
    SubmitSupportCase,
    SupportCaseDraft,
)
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.gateway import explain
from graceperiod.gateway.auth.guards import identity_of
from graceperiod.gateway.auth.identity import Identity, link_recipient_actor
from graceperiod.gateway.links.tokens import LinkClaims, LinkFailure, LinkTokenError, LinkTokenVerifier
from graceperiod.gateway.purchases.service import Actions
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.store import ConsumedLink, LinkOutcome
from graceperiod.gateway.web.params import PurchaseId
from graceperiod.gateway.web.problems import STATUS_FOR_CODE, ProblemException
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.middleware import current_correlation_id
from graceperiod.runtime.rpc import BadReply, ServiceUnavailable

Token = Annotated[str | None, QueryParameter(max_length=4096, description="The signed link token.", required=False)]

FAILURE_TEXT: dict[LinkFailure, tuple[str, str]] = {
    LinkFailure.MISSING: ("This link is incomplete", "The link has no token. Copy the whole link from the email."),
    LinkFailure.MALFORMED: (
        "This link is damaged",
        "The link's token is not readable; the email client may have cut it. Copy the whole link from the email.",
    ),
    LinkFailure.INVALID: (
        "This link is not valid",
        "The link was not issued by Grace Period, or it was changed after it was sent. Nothing was done.",
    ),
    LinkFailure.WRONG_AUDIENCE: ("This link is not valid here", "The token in this link is not meant for this page."),
    LinkFailure.WRONG_PURCHASE: (
        "This link belongs to another purchase",
        "The token in this link was issued for a different purchase than the one in the address. Nothing was done.",
    ),
    LinkFailure.EXPIRED: ("The revocation window has closed", ""),
}


@dataclass
class LinkForm:
    action: Literal["revoke", "submit-support-case"]
    subject: str | None = None
    body: str | None = None


def _page(name: str, status: int, **context: Any) -> Template:
    return Template(name, context=context, status_code=status, headers={"Cache-Control": "no-store"})


def failure_page(error: LinkTokenError) -> Template:
    title, text = FAILURE_TEXT[error.failure]
    if error.failure is LinkFailure.EXPIRED:
        text = (
            f"The revocation window closed on {explain.iso(error.expired_at)}, so this link no longer works. "
            + explain.CLOSED_TOOLTIP
        )
    return _page("link/problem.html", error.failure.status, title=title, text=text, failure=error.failure.value)


def _idempotency_key(jti: str, action: str) -> str:
    # Per action: after a refused revoke (nothing changed, link released) the same link may
    # still file the support case, which must not be mistaken for a retry of the revoke.
    return "link-" + hashlib.sha256(f"{jti}:{action}".encode()).hexdigest()[:40]


class LinkPages(Controller):
    path = "/api/purchases/{purchase_id:str}/revoke"
    tags = ["email links"]  # noqa: RUF012 - Litestar reads a class attribute
    opt = {"page": "link"}  # noqa: RUF012 - Litestar reads a class attribute

    @get(
        "/",
        operation_id="emailLinkPage",
        summary="Email link: confirmation page for the purchase's current phase (changes nothing)",
        media_type="text/html",
        include_in_schema=False,
    )
    async def show(  # noqa: PLR0911 - one page per outcome
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        verifier: NamedDependency[LinkTokenVerifier],
        purchase_id: PurchaseId,
        token: Token = None,
    ) -> Template:
        try:
            claims = verifier.verify(token, purchase_id=purchase_id)
        except LinkTokenError as error:
            return failure_page(error)
        identity = identity_of(request)
        if (refusal := _session_refusal(identity, claims)) is not None:
            return refusal
        link_url = request.url.path + "?token=" + (token or "")
        actor = _actor(identity, claims)
        used = await actions.store.find(claims.jti)
        try:
            view = await actions.purchase(actor, purchase_id, via_link_token=actor.email == claims.recipient)
        except ServiceUnavailable:
            if used is not None:
                return _used_page(used, None, link_url, status=200)
            return _unavailable_page()
        except ProblemException as exc:
            return _refused_page(exc)
        if used is not None:
            return _used_page(used, view, link_url, status=200)
        return await _confirmation(
            actions, actor=actor, view=view, claims=claims, link_url=link_url, clock=actions.clock
        )

    @post(
        "/",
        operation_id="emailLinkAction",
        summary="Email link: perform the action once (CSRF-protected form)",
        media_type="text/html",
        include_in_schema=False,
        status_code=200,
    )
    async def act(  # noqa: PLR0911 - one page per outcome
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        verifier: NamedDependency[LinkTokenVerifier],
        settings: NamedDependency[GatewaySettings],
        purchase_id: PurchaseId,
        data: URLEncodedBody[LinkForm],
        token: Token = None,
    ) -> Template:
        try:
            claims = verifier.verify(token, purchase_id=purchase_id)
        except LinkTokenError as error:
            return failure_page(error)
        identity = identity_of(request)
        if (refusal := _session_refusal(identity, claims)) is not None:
            return refusal
        link_url = request.url.path + "?token=" + (token or "")
        if data.action == "submit-support-case" and not _valid_case_text(data):
            return _page(
                "link/problem.html",
                400,
                title="The support case text is not valid",
                text="The subject must be 1-512 characters and the description 1-8000. Go back and edit it.",
                failure="form",
            )
        now = actions.clock.now()
        earlier = await actions.store.consume(
            claims,
            action=data.action,
            now=now,
            keep_until=claims.expires_at + timedelta(hours=settings.link_record_margin_hours),
            request_id=current_correlation_id(),
        )
        if earlier is not None:
            return _used_page(earlier, None, link_url, status=409)
        actor = _actor(identity, claims)
        via_link = actor.email == claims.recipient
        command: RevokePurchase | SubmitSupportCase
        if data.action == "revoke":
            command = RevokePurchase(
                actor=actor,
                idempotency_key=_idempotency_key(claims.jti, data.action),
                purchase_id=purchase_id,
                via_link_token=via_link,
            )
        else:
            command = SubmitSupportCase(
                actor=actor,
                idempotency_key=_idempotency_key(claims.jti, data.action),
                purchase_id=purchase_id,
                subject=(data.subject or "").strip() or None,
                body=(data.body or "").strip() or None,
                via_link_token=via_link,
            )
        try:
            reply = await actions.link_command(command)
        except ServiceUnavailable:
            outcome = LinkOutcome(
                status="queued",
                message="The revocation service is busy; your request is queued and will be carried out.",
                at=actions.clock.now(),
            )
            await actions.store.record_outcome(claims.jti, outcome)
            return _page("link/progress.html", 202, outcome=outcome, refresh_url=link_url, view=None)
        except BadReply:
            outcome = LinkOutcome(status="unknown", message="The outcome is not known yet.", at=actions.clock.now())
            await actions.store.record_outcome(claims.jti, outcome)
            return _page("link/progress.html", 202, outcome=outcome, refresh_url=link_url, view=None)
        outcome = _outcome(reply, actions.clock)
        await actions.store.record_outcome(claims.jti, outcome)
        if reply.status is CommandStatus.REJECTED:
            # Refused means nothing changed: give the link back, so its recipient can still
            # take the action the purchase allows now (the page they saw may have been stale).
            await actions.store.release(claims.jti)
        return _outcome_page(reply, outcome, link_url)


def _valid_case_text(form: LinkForm) -> bool:
    subject, body = (form.subject or "").strip(), (form.body or "").strip()
    return 0 < len(subject) <= 512 and 0 < len(body) <= 8000


def _session_refusal(identity: Identity | None, claims: LinkClaims) -> Template | None:
    if identity is None or identity.is_recipient(claims.recipient) or identity.can(Permission.REVOKE_ANY_PURCHASES):
        return None
    return _page(
        "link/problem.html",
        403,
        title="This link was sent to someone else",
        text=(
            f"You are signed in as {identity.email}, but this link was sent to another person, and your role "
            "may not act on other people's purchases. Sign out, or open the link in a private window, "
            "to use it as its recipient."
        ),
        failure="other-session",
        show_sign_out=True,
    )


def _actor(identity: Identity | None, claims: LinkClaims) -> Actor:
    if identity is not None:
        return identity.actor(ActionPath.EMAIL_LINK)
    return link_recipient_actor(claims.recipient)


async def _confirmation(
    actions: Actions, *, actor: Actor, view: PurchaseView, claims: LinkClaims, link_url: str, clock: Clock
) -> Template:
    now = actions.clock.now()
    context: dict[str, Any] = {
        "view": view,
        "claims": claims,
        "link_url": link_url,
        "explain": explain,
        "now": now,
        "phase": view.phase.value,
    }
    if view.phase is Phase.SELF_SERVICE and AllowedAction.REVOKE in view.allowed_actions:
        return _page("link/confirm.html", 200, state="revoke", **context)
    if view.phase is Phase.SUPPORT_CASE and AllowedAction.REQUEST_SUPPORT_CASE in view.allowed_actions:
        draft = await _draft(actions, actor, view, via_link=actor.email == claims.recipient)
        return _page("link/confirm.html", 200, state="support-case", draft=draft, **context)
    if view.phase in explain.FINISHED_PHASES:
        return _page("link/confirm.html", 200, state="done", **context)
    if view.phase is Phase.CLOSED:
        return _page("link/confirm.html", 200, state="closed", **context)
    return _page("link/confirm.html", 200, state="unavailable", **context)


async def _draft(actions: Actions, actor: Actor, view: PurchaseView, *, via_link: bool) -> SupportCaseDraft | None:
    try:
        reply = await actions.clients.get_support_case_draft(
            GetSupportCaseDraft(actor=actor, purchase_id=view.purchase.purchase_id, via_link_token=via_link)
        )
    except (ServiceUnavailable, BadReply):
        return None
    return reply.draft


def _outcome(reply: CommandReply, clock: Clock) -> LinkOutcome:
    status: Literal["done", "in-progress", "rejected"] = {
        CommandStatus.DONE: "done",
        CommandStatus.IN_PROGRESS: "in-progress",
        CommandStatus.REJECTED: "rejected",
    }[reply.status]  # type: ignore[assignment]
    return LinkOutcome(
        status=status,
        message=reply.problem.message if reply.problem else reply.message,
        code=reply.problem.code if reply.problem else None,
        phase=reply.purchase.phase.value if reply.purchase else None,
        at=clock.now(),
    )


def _outcome_page(reply: CommandReply, outcome: LinkOutcome, link_url: str) -> Template:
    if reply.status is CommandStatus.IN_PROGRESS:
        return _page("link/progress.html", 202, outcome=outcome, refresh_url=link_url, view=reply.purchase)
    status = 200
    if reply.status is CommandStatus.REJECTED:
        status = STATUS_FOR_CODE[reply.problem.code] if reply.problem else 409
    return _page("link/outcome.html", status, outcome=outcome, view=reply.purchase, explain=explain)


def _used_page(used: ConsumedLink, view: PurchaseView | None, link_url: str, *, status: int) -> Template:
    pending = used.outcome is None or used.outcome.status in ("in-progress", "queued", "unknown")
    if view is not None:
        pending = view.phase is Phase.REVOCATION_PENDING or (pending and view.phase not in explain.FINISHED_PHASES)
    return _page(
        "link/used.html",
        status,
        used=used,
        view=view,
        explain=explain,
        refresh_url=link_url if pending else None,
    )


def _unavailable_page() -> Template:
    return _page(
        "link/problem.html",
        503,
        title="Grace Period cannot reach the revocation service right now",
        text="Nothing was done. Try the link again in a minute; it stays valid until the revocation window closes.",
        failure="unavailable",
    )


def _refused_page(exc: ProblemException) -> Template:
    title = "We could not find this purchase" if exc.status_code == 404 else "This purchase cannot be shown"
    return _page("link/problem.html", exc.status_code, title=title, text=exc.detail, failure="refused")
