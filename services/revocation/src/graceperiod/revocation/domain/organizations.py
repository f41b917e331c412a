"""The organisation-wide view of a management account, pure: when it is read, what a read or
a failure leaves on the account, and the view that marks what cannot be undone from here (a
member Grace Period has not onboarded)."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.revocation import OrganizationCommitment, OrganizationMember, OrganizationView
from graceperiod.revocation.domain.discovery import DiscoveryPolicy
from graceperiod.revocation.domain.records import AccountRecord, OrganizationRecord

#: How often a standalone account (or a member) is asked again whether it manages an organisation.
MANAGEMENT_RECHECK = timedelta(days=1)
NOT_ONBOARDED = "not onboarded: cannot be undone from here; apply the onboarding bundle in this account"


def organization_due(account: AccountRecord, now: datetime, policy: DiscoveryPolicy) -> bool:
    """Whether this scan reads the organisation view: a management account once per
    organisation interval; any other account once a day (it may become one)."""
    organization = account.organization
    read_at = organization.read_at if organization else None
    if account.management:
        return read_at is None or now - read_at >= policy.organization_interval
    checked = account.management_checked_at
    return checked is None or now - checked >= MANAGEMENT_RECHECK


def management_known(account: AccountRecord, now: datetime) -> AccountRecord:
    """The account manages no organisation (as of ``now``)."""
    return account.model_copy(update={"management": False, "management_checked_at": now, "organization": None})


def organization_read(account: AccountRecord, view: OrganizationRecord, now: datetime) -> AccountRecord:
    return account.model_copy(
        update={
            "management": True,
            "management_checked_at": now,
            "organization": view.model_copy(update={"read_at": now, "error": None}),
        }
    )


def organization_failed(account: AccountRecord, error: str, now: datetime) -> AccountRecord:
    """A read failed: the last view stays (with the error), tried again next interval."""
    previous = account.organization
    kept = previous.model_copy(update={"error": error, "read_at": now}) if previous else None
    return account.model_copy(update={"management_checked_at": now, "organization": kept})


def organization_view(account: AccountRecord, onboarded: set[str]) -> OrganizationView:
    """The view as shown: members, and every commitment with whether it can be undone from
    Grace Period (its account is onboarded) or what to do instead."""
    organization = account.organization
    assert organization is not None
    members = [
        OrganizationMember(account_id=member, name=name, onboarded=member in onboarded)
        for member, name in sorted(organization.members.items())
    ]
    commitments = [
        OrganizationCommitment(
            account_id=c.account_id,
            account_name=c.account_name or organization.members.get(c.account_id, ""),
            onboarded=c.account_id in onboarded,
            note=None if c.account_id in onboarded else NOT_ONBOARDED,
            service=c.service,
            kind=c.kind,
            commitment_id=c.commitment_id,
            region=c.region,
            state=c.state,
            start=c.start,
            end=c.end,
        )
        for c in organization.commitments
    ]
    return OrganizationView(
        management_account_id=account.account_id,
        organization_id=organization.organization_id,
        read_at=organization.read_at,
        error=organization.error,
        members=members,
        commitments=commitments,
    )
