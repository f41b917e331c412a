"""The dashboard's purchase pages: History, one purchase, and the revoke, support-case and
mark-resolved forms. Every form posts back with Litestar's CSRF token; every action goes
through :class:`~graceperiod.gateway.purchases.service.PurchaseService`, like the API's."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import URLEncodedBody
from litestar.response import Template

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import CommandReply
from graceperiod.contracts.revocation_views import CASE_TEXT_RULE, Phase, PurchaseSource, PurchaseView, valid_case_text
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.gateway.auth.guards import IDENTITY, REVOKERS, SignedIn, requires
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.clients import NOTIFIER, REVOCATION
from graceperiod.gateway.configuration.access import needing_bundle
from graceperiod.gateway.configuration.service import SettingsService
from graceperiod.gateway.purchases.controls import Control, controls_for
from graceperiod.gateway.purchases.forms import ResolveForm, RevokeForm, SupportCaseForm
from graceperiod.gateway.purchases.history import COLUMNS, from_page
from graceperiod.gateway.purchases.schemas import Resolution
from graceperiod.gateway.purchases.service import PurchaseService
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.commands import accepted_status
from graceperiod.gateway.web.controllers import DashboardController
from graceperiod.gateway.web.pages import checked_key, form_key, page, section
from graceperiod.gateway.web.params import Cursor, PurchaseId
from graceperiod.gateway.web.problems import ProblemException

Purchases = NamedDependency[PurchaseService]
#: Rows on the History's first screen (and each next page).
HISTORY_PAGE = 50
ACTS = requires(*REVOKERS)
RevokeData = URLEncodedBody[RevokeForm]
SupportCaseData = URLEncodedBody[SupportCaseForm]
ResolveData = URLEncodedBody[ResolveForm]


def purchase_page(name: str, me: Identity, status: int = 200, **context: Any) -> Template:
    """A page showing purchase controls (the templates' ``purchase_controls`` macro)."""
    return page(name, me, status, Control=Control, **context)


def require(view: PurchaseView, identity: Identity, control: Control, unavailable: str) -> None:
    """Refuse a page whose action this person may not take on this purchase now: 403 when it
    is someone else's purchase, 409 when the purchase's phase does not allow it."""
    controls = controls_for(view, identity)
    if control not in controls:
        raise ProblemException(409 if Control.NOT_YOURS not in controls else 403, controls.note or unavailable)


def outcome(me: Identity, reply: CommandReply, purchase_id: str, what: str) -> Template:
    return purchase_page(
        "outcome.html",
        me,
        status=accepted_status(reply.status),
        reply=reply,
        purchase_id=purchase_id,
        what=what,
        view=reply.purchase,
        refresh=reply.status is CommandStatus.IN_PROGRESS,
    )


class PurchasePages(DashboardController):
    dependencies = {
        "identity": IDENTITY,
        "purchases": provide(PurchaseService),
        "configuration": provide(SettingsService),
        "settings": provide(GatewaySettings),
    }

    @get("/", name="history")
    async def history(
        self,
        *,
        request: Request[Any, Any, Any],
        purchases: Purchases,
        configuration: NamedDependency[SettingsService],
        settings: NamedDependency[GatewaySettings],
        identity: SignedIn,
        cursor: Cursor = None,
    ) -> Template:
        """The History table: searched, filtered and sorted by the revocation service over all
        purchases, 50 rows a screen, with what is refundable now above it."""
        query = from_page(request.query_params)
        actor = identity.actor(ActionPath.DASHBOARD)
        listed, summary, access = await asyncio.gather(
            section(purchases.find(actor, query, limit=HISTORY_PAGE, cursor=cursor), REVOCATION),
            section(purchases.summary(actor), REVOCATION),
            section(configuration.account_access(actor), REVOCATION),
        )
        views = listed.value.items if listed.value is not None else []
        return purchase_page(
            "history.html",
            identity,
            status=200 if listed.ok else 503,
            rows=[(view, controls_for(view, identity)) for view in views],
            purchases=listed,
            summary=summary,
            bundle_accounts=needing_bundle(access.value),
            query=query,
            columns=COLUMNS,
            sort_heading=dict(COLUMNS)[query.sort],
            phases=list(Phase),
            sources=list(PurchaseSource),
            expiring_hours=settings.expiring_soon_hours,
            first_page=cursor is None,
            now=purchases.clock.now(),
        )

    @get("/purchases/{purchase_id:str}", name="purchase")
    async def purchase(self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        view = await purchases.get(actor, purchase_id)
        deliveries = await section(purchases.deliveries(actor, purchase_id), NOTIFIER)
        return purchase_page(
            "purchase.html",
            identity,
            view=view,
            controls=controls_for(view, identity),
            deliveries=deliveries,
            now=purchases.clock.now(),
            form_key=form_key(),
            refresh=view.phase is Phase.REVOCATION_PENDING,
        )

    @get("/purchases/{purchase_id:str}/revoke", name="revoke-confirm")
    async def revoke_confirm(self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId) -> Template:
        view = await purchases.get(identity.actor(ActionPath.DASHBOARD), purchase_id)
        require(view, identity, Control.REVOKE, "This purchase cannot be revoked through the AWS API now.")
        return purchase_page("revoke_confirm.html", identity, view=view, form_key=form_key(), now=purchases.clock.now())

    @post("/purchases/{purchase_id:str}/revoke", guards=[ACTS], status_code=200)
    async def revoke(
        self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId, data: RevokeData
    ) -> Template:
        key = checked_key(data.idempotency_key)
        reply = await purchases.revoke(identity, purchase_id, path=ActionPath.DASHBOARD, idempotency_key=key)
        return outcome(identity, reply, purchase_id, "Revocation")

    @get("/purchases/{purchase_id:str}/support-case", name="support-case")
    async def support_case(self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        view = await purchases.get(actor, purchase_id)
        unavailable = "A support case cannot be filed through the API for this purchase now."
        require(view, identity, Control.SUPPORT_CASE, unavailable)
        draft = await purchases.draft(actor, purchase_id)
        if draft is None:
            raise NotFoundException("There is no support-case draft for this purchase.")
        return purchase_page("support_case.html", identity, view=view, draft=draft, form_key=form_key())

    @post("/purchases/{purchase_id:str}/support-case", guards=[ACTS], status_code=200)
    async def submit_support_case(
        self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId, data: SupportCaseData
    ) -> Template:
        subject, body = data.subject.strip(), data.body.strip()
        if not valid_case_text(subject, body):
            raise ProblemException(400, CASE_TEXT_RULE)
        key = checked_key(data.idempotency_key)
        reply = await purchases.submit_support_case(
            identity, purchase_id, subject=subject, body=body, path=ActionPath.DASHBOARD, idempotency_key=key
        )
        return outcome(identity, reply, purchase_id, "Support case")

    @post("/purchases/{purchase_id:str}/resolve", guards=[ACTS], status_code=200)
    async def resolve(
        self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId, data: ResolveData
    ) -> Template:
        note, key = data.note.strip()[:2000], checked_key(data.idempotency_key)
        try:
            refund = data.refund()
        except ValueError as exc:
            raise ProblemException(400, str(exc)) from exc
        reply = await purchases.mark_case_resolved(
            identity,
            purchase_id,
            Resolution(
                note=note,
                outcome=decided.value if (decided := data.case_outcome()) else None,
                refund_amount=str(refund) if refund is not None else "",
            ),
            path=ActionPath.DASHBOARD,
            idempotency_key=key,
        )
        return outcome(identity, reply, purchase_id, "Support case")
