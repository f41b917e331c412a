"""The purchases' JSON API: list and read them (phase, windows, allowed actions, why not),
revoke, draft/edit/submit the support case, mark it resolved, and the emails sent about them."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from graceperiod.contracts.base import AwsAccountId
from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import Phase, PurchaseSource, PurchaseView, SupportCaseDraft
from graceperiod.gateway.auth.guards import IDENTITY, REVOKERS, SignedIn, requires
from graceperiod.gateway.purchases.schemas import DeliveryList, PurchasePage, Resolution, SupportCaseSubmission
from graceperiod.gateway.purchases.service import PurchaseService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.commands import CommandResult, command_response
from graceperiod.gateway.web.controllers import ApiController
from graceperiod.gateway.web.params import ACTION_KEY, ActionKey, Cursor, PurchaseId, optional_choice, optional_text
from graceperiod.gateway.web.problems import ProblemException
from graceperiod.gateway.web.routes import READ_ONE, api_get, api_get_one, api_post
from graceperiod.gateway.web.schemas import ACCOUNT_ID_PATTERN

Purchases = NamedDependency[PurchaseService]
AccountFilter = Annotated[AwsAccountId | None, QueryParameter(pattern=ACCOUNT_ID_PATTERN, schema_extra=optional_text())]
PhaseFilter = Annotated[Phase | None, QueryParameter(schema_extra=optional_choice(Phase))]
SourceFilter = Annotated[
    PurchaseSource | None,
    QueryParameter(
        description="executed: announced by an executor; discovered: found by Grace Period in the account.",
        schema_extra=optional_choice(PurchaseSource),
    ),
]
Mine = Annotated[bool, QueryParameter(description="Only purchases the caller requested.")]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]

Submission = JSONBody[SupportCaseSubmission]
ResolutionBody = JSONBody[Resolution]
ACTS = requires(*REVOKERS)
#: A purchase's support case.
CASE = "/{purchase_id:str}/support-case"


def action(path: str, operation_id: str, summary: str, *, body: bool = False) -> post:
    """An action on a purchase (revoke-own on one's own, or revoke-any): 200 done, 202 in
    progress; one taking a JSON body may also find it too large."""
    problems = (401, 403, 404, 409, *((413,) if body else ()), 422, 502, 503)
    return api_post(path, operation_id, summary, problems=problems, accepted=True, guards=[ACTS])


class PurchasesController(ApiController):
    path = "/api/purchases"
    tags = ["purchases"]
    dependencies = {"identity": IDENTITY, "key": ACTION_KEY, "purchases": provide(PurchaseService)}

    @api_get(
        "/",
        "listPurchases",
        "Purchases (executed or found in an account), newest first, with their phase and the caller's allowed actions",
    )
    async def list_purchases(
        self,
        *,
        purchases: Purchases,
        identity: SignedIn,
        account_id: AccountFilter = None,
        phase: PhaseFilter = None,
        source: SourceFilter = None,
        mine: Mine = False,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PurchasePage:
        actor = identity.actor(ActionPath.API)
        reply = await purchases.find(
            actor, account_id=account_id, phase=phase, source=source, mine=mine, limit=limit, cursor=cursor
        )
        return PurchasePage(items=reply.items, next_cursor=reply.next_cursor)

    @api_get_one("/{purchase_id:str}", "getPurchase", "One purchase with its windows, audit and timeline")
    async def get_purchase(self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId) -> PurchaseView:
        return await purchases.get(identity.actor(ActionPath.API), purchase_id)

    @action(
        "/{purchase_id:str}/revocation",
        "revokePurchase",
        "Undo the purchase through the AWS API (self-service phase only)",
    )
    async def revoke(
        self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId, key: ActionKey
    ) -> Response[CommandResult]:
        return command_response(await purchases.revoke(identity, purchase_id, path=ActionPath.API, idempotency_key=key))

    @api_get(
        "/{purchase_id:str}/support-case-draft",
        "getSupportCaseDraft",
        "The pre-filled AWS Support refund request, to edit before submitting",
        problems=(*READ_ONE, 409),
    )
    async def support_case_draft(
        self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId
    ) -> SupportCaseDraft:
        draft = await purchases.draft(identity.actor(ActionPath.API), purchase_id)
        if draft is None:
            raise ProblemException(404, f"There is no support-case draft for {purchase_id}.", code="not-found")
        return draft

    @action(CASE, "submitSupportCase", "File the (edited) AWS Support refund request", body=True)
    async def submit_support_case(
        self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId, data: Submission, key: ActionKey
    ) -> Response[CommandResult]:
        subject, body = data.subject.strip() or None, data.body.strip() or None
        reply = await purchases.submit_support_case(
            identity, purchase_id, subject=subject, body=body, path=ActionPath.API, idempotency_key=key
        )
        return command_response(reply)

    @action(
        f"{CASE}/resolution",
        "markSupportCaseResolved",
        "Record that the AWS Support case was resolved (cases resolve by people)",
        body=True,
    )
    async def mark_resolved(
        self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId, data: ResolutionBody, key: ActionKey
    ) -> Response[CommandResult]:
        reply = await purchases.mark_case_resolved(
            identity, purchase_id, note=data.note, path=ActionPath.API, idempotency_key=key
        )
        return command_response(reply)

    @api_get(
        "/{purchase_id:str}/deliveries",
        "listDeliveries",
        "The emails sent about the purchase, per recipient",
        problems=READ_ONE,
    )
    async def deliveries(self, purchases: Purchases, identity: SignedIn, purchase_id: PurchaseId) -> DeliveryList:
        return DeliveryList(items=(await purchases.deliveries(identity.actor(ActionPath.API), purchase_id)).items)
