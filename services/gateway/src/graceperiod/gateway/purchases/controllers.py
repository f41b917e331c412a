"""The purchases' JSON API: list and read them (phase, windows, allowed actions, why not),
revoke, draft/edit/submit the support case, mark it resolved, and the emails sent about them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import MediaType, Response, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream

from graceperiod.contracts.base import AwsAccountId
from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import EXPIRING_SOON_HOURS, PurchaseSort, PurchaseSummaryReply
from graceperiod.contracts.revocation_views import Phase, PurchaseSource, PurchaseView, SupportCaseDraft
from graceperiod.gateway.auth.guards import IDENTITY, REVOKERS, SignedIn, requires
from graceperiod.gateway.purchases.export import csv_stream
from graceperiod.gateway.purchases.history import MAX_EXPIRING_HOURS, HistoryQuery, SortOrder, descending
from graceperiod.gateway.purchases.schemas import DeliveryList, PurchasePage, Resolution, SupportCaseSubmission
from graceperiod.gateway.purchases.service import PurchaseService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.commands import CommandResult, command_response
from graceperiod.gateway.web.controllers import ApiController
from graceperiod.gateway.web.params import ACTION_KEY, ActionKey, Cursor, PurchaseId, optional_choice, optional_text
from graceperiod.gateway.web.problems import ProblemException
from graceperiod.gateway.web.routes import READ, READ_ONE, api_get, api_get_one, api_post
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
Search = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=128,
        description=(
            "A purchase id, commitment id, account id or account name (exact; commitment ids and names ignore case)."
        ),
        schema_extra=optional_text(),
    ),
]
Day = Annotated[
    date | None,
    QueryParameter(
        description="A day (UTC), e.g. 2026-05-31; both ends are included.", schema_extra=optional_text(format="date")
    ),
]
Expiring = Annotated[
    int | None,
    QueryParameter(
        ge=1,
        le=MAX_EXPIRING_HOURS,
        description=f"Only purchases whose open window closes within this many hours (the dashboard's "
        f'"expiring soon" uses {EXPIRING_SOON_HOURS} unless configured otherwise).',
        schema_extra={"one_of": None, "type": "integer"},
    ),
]
Sort = Annotated[
    PurchaseSort | None,
    QueryParameter(
        description="The column to sort by, over all purchases (default: executed).",
        schema_extra=optional_choice(PurchaseSort),
    ),
]
Order = Annotated[
    SortOrder | None,
    QueryParameter(
        description="asc or desc; default: newest/largest first for executed and upfront, else ascending.",
        schema_extra=optional_choice(SortOrder),
    ),
]


def history_query(
    *,
    search: Search = None,
    account_id: AccountFilter = None,
    phase: PhaseFilter = None,
    source: SourceFilter = None,
    executed_from: Day = None,
    executed_to: Day = None,
    expiring_within_hours: Expiring = None,
    mine: Mine = False,
    sort: Sort = None,
    order: Order = None,
) -> HistoryQuery:
    """The filters, search and sort of ``GET /api/purchases`` and of its CSV export."""
    sort = sort or PurchaseSort.EXECUTED
    return HistoryQuery(
        search=search,
        account_id=account_id,
        phase=phase,
        source=source,
        executed_from=executed_from,
        executed_to=executed_to,
        expiring_within_hours=expiring_within_hours,
        mine=mine,
        sort=sort,
        descending=descending(sort, order),
    )


History = NamedDependency[HistoryQuery]

Submission = JSONBody[SupportCaseSubmission]
ResolutionBody = JSONBody[Resolution]
ACTS = requires(*REVOKERS)
#: A list's problems: a cursor the service did not issue (or of another sort) is refused (422).
LISTED = (*READ, 422)
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
    dependencies = {
        "identity": IDENTITY,
        "key": ACTION_KEY,
        "purchases": provide(PurchaseService),
        "history": Provide(history_query, sync_to_thread=False),
    }

    @api_get(
        "/",
        "listPurchases",
        "Purchases with their phase and the caller's allowed actions: searched, filtered and sorted over all "
        "purchases, a page at a time (newest first by default)",
        problems=LISTED,
    )
    async def list_purchases(
        self, *, purchases: Purchases, identity: SignedIn, history: History, limit: Limit = 50, cursor: Cursor = None
    ) -> Response[PurchasePage]:
        reply = await purchases.find(identity.actor(ActionPath.API), history, limit=limit, cursor=cursor)
        # pydantic writes the page's JSON itself: the same bytes the route's encoder makes of a
        # returned PurchasePage (model_dump to dicts, then msgspec), in about half the time.
        body: Any = PurchasePage(items=reply.items, next_cursor=reply.next_cursor).model_dump_json().encode()
        return Response(body, media_type=MediaType.JSON)

    @api_get(
        "/export.csv",
        "exportPurchases",
        "Every purchase the filters select, as CSV (streamed; cells escaped against spreadsheet formulas)",
        problems=LISTED,
        media_type="text/csv",
    )
    async def export(self, purchases: Purchases, identity: SignedIn, history: History) -> Stream:
        actor = identity.actor(ActionPath.API)
        first = await purchases.export_page(actor, history, cursor=None)  # a silent service: 503, not a cut file
        stamp = purchases.clock.now().strftime("%Y%m%d-%H%M")
        return Stream(
            csv_stream(purchases.export(actor, history, first)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="purchases-{stamp}.csv"'},
        )

    @api_get("/summary", "summarizePurchases", "What is refundable now (per currency) and the next deadline")
    async def summary(self, purchases: Purchases, identity: SignedIn) -> PurchaseSummaryReply:
        return await purchases.summary(identity.actor(ActionPath.API))

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
            identity, purchase_id, data, path=ActionPath.API, idempotency_key=key
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
