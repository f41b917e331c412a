"""The email-link pages, one per outcome. Every one is ``Cache-Control: no-store``: the
address carries the token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar.response import Template

from graceperiod.contracts.formatting import utc
from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.revocation import CommandReply
from graceperiod.contracts.revocation_views import (
    CASE_TEXT_RULE,
    FINISHED_PHASES,
    AllowedAction,
    Phase,
    PurchaseView,
    SupportCaseDraft,
)
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.gateway import explain
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.store import ConsumedLink, LinkOutcome
from graceperiod.gateway.web.problems import STATUS_FOR_CODE, ProblemException
from graceperiod.runtime.link_tokens import LinkFailure, LinkTokenError

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


def link_page(name: str, status: int, **context: Any) -> Template:
    return Template(name, context=context, status_code=status, headers={"Cache-Control": "no-store"})


def problem(status: int, title: str, text: str, failure: str, **context: Any) -> Template:
    return link_page("link/problem.html", status, title=title, text=text, failure=failure, **context)


def failure(error: LinkTokenError) -> Template:
    title, text = FAILURE_TEXT[error.failure]
    if error.failure is LinkFailure.EXPIRED:
        text = (
            f"The revocation window closed on {utc(error.expired_at)}, so this link no longer works. "
            + explain.closed_for(error.provider)
        )
    return problem(error.failure.status, title, text, error.failure.value)


def other_session(identity: Identity) -> Template:
    text = (
        f"You are signed in as {identity.email}, but this link was sent to another person, and your role "
        "may not act on other people's purchases. Sign out, or open the link in a private window, "
        "to use it as its recipient."
    )
    return problem(403, "This link was sent to someone else", text, "other-session", show_sign_out=True)


def invalid_form() -> Template:
    return problem(400, "The support case text is not valid", f"{CASE_TEXT_RULE} Go back and edit it.", "form")


def unavailable() -> Template:
    return problem(
        503,
        "Grace Period cannot reach the revocation service right now",
        "Nothing was done. Try the link again in a minute; it stays valid until the revocation window closes.",
        "unavailable",
    )


def refused(exc: ProblemException) -> Template:
    title = "We could not find this purchase" if exc.status_code == 404 else "This purchase cannot be shown"
    return problem(exc.status_code, title, exc.detail, "refused")


def confirmation_state(view: PurchaseView) -> str:
    """What the GET page offers for the purchase's phase."""
    if view.phase is Phase.SELF_SERVICE and AllowedAction.REVOKE in view.allowed_actions:
        return "revoke"
    if view.phase is Phase.SUPPORT_CASE and AllowedAction.REQUEST_SUPPORT_CASE in view.allowed_actions:
        return "support-case"
    if view.phase in FINISHED_PHASES:
        return "done"
    return "closed" if view.phase is Phase.CLOSED else "unavailable"


def confirmation(
    view: PurchaseView, claims: LinkClaims, link_url: str, *, state: str, draft: SupportCaseDraft | None, now: datetime
) -> Template:
    return link_page(
        "link/confirm.html",
        200,
        view=view,
        claims=claims,
        link_url=link_url,
        phase=view.phase.value,
        state=state,
        draft=draft,
        now=now,
    )


def used(link: ConsumedLink, view: PurchaseView | None, link_url: str, *, status: int) -> Template:
    pending = link.outcome is None or link.outcome.status in ("in-progress", "queued", "unknown")
    if view is not None:
        pending = view.phase is Phase.REVOCATION_PENDING or (pending and view.phase not in FINISHED_PHASES)
    return link_page("link/used.html", status, used=link, view=view, refresh_url=link_url if pending else None)


def outcome(reply: CommandReply | None, result: LinkOutcome, link_url: str) -> Template:
    """After the POST: in progress (refreshing) until the service answered for good."""
    if reply is None or reply.status is CommandStatus.IN_PROGRESS:
        view = reply.purchase if reply is not None else None
        return link_page("link/progress.html", 202, outcome=result, refresh_url=link_url, view=view)
    status = 200
    if reply.status is CommandStatus.REJECTED:
        status = STATUS_FOR_CODE[reply.problem.code] if reply.problem else 409
    return link_page("link/outcome.html", status, outcome=result, view=reply.purchase)
