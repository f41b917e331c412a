"""A purchase as one person sees it: the phase worked out now, and the actions theirs to take."""

from __future__ import annotations

from datetime import datetime

from graceperiod.contracts.revocation_views import PurchaseView, Unavailability, UnavailableReason
from graceperiod.revocation.domain.authorization import Asker
from graceperiod.revocation.domain.aws_answers import partition_of_region
from graceperiod.revocation.domain.lifecycle import assessment
from graceperiod.revocation.domain.phase import case_url
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord

_NOT_PERMITTED = Unavailability(
    reason=UnavailableReason.NOT_PERMITTED,
    message=(
        "You may act only on purchases you requested (revoke-own:purchases), unless you hold revoke-any:purchases."
    ),
)


def view_of(record: PurchaseRecord, account: AccountRecord | None, asker: Asker | None, now: datetime) -> PurchaseView:
    """``asker`` None: as the service sees it (every allowed action)."""
    found = assessment(record, account, now)
    actions, unavailable = list(found.actions), found.unavailable
    if asker is not None and actions and not asker.may_act_on(record):
        actions, unavailable = [], _NOT_PERMITTED
    return PurchaseView(
        purchase=record.purchase,
        source=record.source,
        aliases=record.aliases,
        windows=record.windows,
        phase=found.phase,
        aws_state=record.state_word,
        refund=record.refund,
        allowed_actions=actions,
        unavailable=unavailable,
        audit=record.audit,
        timeline=record.timeline,
        updated_at=record.updated_at,
        support_case_url=case_url(
            partition_of_region(record.purchase.location or ""), record.audit.support_case_display_id
        )
        if record.purchase.commitment is not None
        else None,
    )
