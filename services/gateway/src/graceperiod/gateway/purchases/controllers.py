"""Purchases: list and read them (phase, windows, allowed actions, why not), revoke,
draft/edit/submit the support case, mark it resolved, and the emails sent about them."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter

from graceperiod.contracts.base import AwsAccountId
from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.notifier import ListDeliveries
from graceperiod.contracts.revocation import (
    CommandReply,
    GetSupportCaseDraft,
    ListPurchases,
    Phase,
    PurchaseView,
    SupportCaseDraft,
)
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.gateway.auth.guards import REVOKERS, requires
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.purchases.service import NOTIFIER, REVOCATION, Actions
from graceperiod.gateway.web.params import (
    Cursor,
    IdempotencyKey,
    PurchaseId,
    idempotency,
    optional_choice,
    optional_text,
)
from graceperiod.gateway.web.problems import ProblemException, ensure_ok, problem_responses
from graceperiod.gateway.web.schemas import (
    ACCOUNT_ID_PATTERN,
    CommandResult,
    DeliveryList,
    PurchasePage,
    Resolution,
    SupportCaseSubmission,
)

READ_ERRORS = problem_responses(401, 404, 429, 502, 503)
ACTION_ERRORS = problem_responses(401, 403, 404, 409, 422, 502, 503)
#: Actions that take a JSON body: it may also be too large.
BODY_ACTION_ERRORS = problem_responses(401, 403, 404, 409, 413, 422, 502, 503)
ACCEPTED = {
    202: ResponseSpec(
        data_container=CommandResult, description="Accepted; the outcome follows.", generate_examples=False
    )
}


def command_response(reply: CommandReply) -> Response[CommandResult]:
    body = CommandResult(status=reply.status, message=reply.message, purchase=reply.purchase)
    return Response(body, status_code=202 if reply.status is CommandStatus.IN_PROGRESS else 200)


class PurchasesController(Controller):
    path = "/api/purchases"
    tags = ["purchases"]  # noqa: RUF012 - Litestar reads a class attribute

    @get(
        "/",
        operation_id="listPurchases",
        summary="Executed purchases, newest first, with their phase and the caller's allowed actions",
        responses=problem_responses(401, 429, 502, 503),
    )
    async def list_purchases(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        account_id: Annotated[
            AwsAccountId | None, QueryParameter(pattern=ACCOUNT_ID_PATTERN, schema_extra=optional_text())
        ] = None,
        phase: Annotated[Phase | None, QueryParameter(schema_extra=optional_choice(Phase))] = None,
        mine: Annotated[bool, QueryParameter(description="Only purchases the caller requested.")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Cursor = None,
    ) -> PurchasePage:
        reply = ensure_ok(
            await actions.clients.list_purchases(
                ListPurchases(
                    actor=identity.actor(ActionPath.API),
                    account_id=account_id,
                    phase=phase,
                    requested_by_user_id=identity.user_id if mine else None,
                    limit=limit,
                    cursor=cursor,
                )
            ),
            REVOCATION,
        )
        return PurchasePage(items=reply.items, next_cursor=reply.next_cursor)

    @get(
        "/{purchase_id:str}",
        operation_id="getPurchase",
        summary="One purchase with its windows, audit and timeline",
        responses=READ_ERRORS,
    )
    async def get_purchase(
        self, actions: NamedDependency[Actions], identity: NamedDependency[Identity], purchase_id: PurchaseId
    ) -> PurchaseView:
        return await actions.purchase(identity.actor(ActionPath.API), purchase_id)

    @post(
        "/{purchase_id:str}/revocation",
        operation_id="revokePurchase",
        summary="Undo the purchase through the AWS API (self-service phase only)",
        guards=[requires(*REVOKERS)],
        status_code=200,
        responses={**ACCEPTED, **ACTION_ERRORS},
    )
    async def revoke(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CommandResult]:
        reply = await actions.revoke(
            identity, purchase_id, path=ActionPath.API, idempotency_key=idempotency(idempotency_key)
        )
        return command_response(reply)

    @get(
        "/{purchase_id:str}/support-case-draft",
        operation_id="getSupportCaseDraft",
        summary="The pre-filled AWS Support refund request, to edit before submitting",
        responses=problem_responses(401, 404, 409, 429, 502, 503),
    )
    async def support_case_draft(
        self, actions: NamedDependency[Actions], identity: NamedDependency[Identity], purchase_id: PurchaseId
    ) -> SupportCaseDraft:
        reply = ensure_ok(
            await actions.clients.get_support_case_draft(
                GetSupportCaseDraft(actor=identity.actor(ActionPath.API), purchase_id=purchase_id)
            ),
            REVOCATION,
        )
        if reply.draft is None:
            raise ProblemException(404, f"There is no support-case draft for {purchase_id}.", code="not-found")
        return reply.draft

    @post(
        "/{purchase_id:str}/support-case",
        operation_id="submitSupportCase",
        summary="File the (edited) AWS Support refund request",
        guards=[requires(*REVOKERS)],
        status_code=200,
        responses={**ACCEPTED, **BODY_ACTION_ERRORS},
    )
    async def submit_support_case(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
        data: JSONBody[SupportCaseSubmission],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CommandResult]:
        reply = await actions.submit_support_case(
            identity,
            purchase_id,
            subject=data.subject.strip() or None,
            body=data.body.strip() or None,
            path=ActionPath.API,
            idempotency_key=idempotency(idempotency_key),
        )
        return command_response(reply)

    @post(
        "/{purchase_id:str}/support-case/resolution",
        operation_id="markSupportCaseResolved",
        summary="Record that the AWS Support case was resolved (cases resolve by people)",
        guards=[requires(*REVOKERS)],
        status_code=200,
        responses={**ACCEPTED, **BODY_ACTION_ERRORS},
    )
    async def mark_resolved(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
        data: JSONBody[Resolution],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CommandResult]:
        reply = await actions.mark_case_resolved(
            identity, purchase_id, note=data.note, path=ActionPath.API, idempotency_key=idempotency(idempotency_key)
        )
        return command_response(reply)

    @get(
        "/{purchase_id:str}/deliveries",
        operation_id="listDeliveries",
        summary="The emails sent about the purchase, per recipient",
        responses=READ_ERRORS,
    )
    async def deliveries(
        self, actions: NamedDependency[Actions], identity: NamedDependency[Identity], purchase_id: PurchaseId
    ) -> DeliveryList:
        reply = ensure_ok(
            await actions.clients.list_deliveries(
                ListDeliveries(actor=identity.actor(ActionPath.API), purchase_id=purchase_id)
            ),
            NOTIFIER,
        )
        return DeliveryList(items=reply.items)
