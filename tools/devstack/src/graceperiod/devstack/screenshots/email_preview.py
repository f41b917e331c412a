"""Render sample emails to files, to look at them (in a browser, or screenshot them for the docs).

    python -m graceperiod.devstack.screenshots.email_preview --out var/preview

Writes ``<name>.html`` and ``<name>.txt`` for the executed-purchase email in each phase and for
each revocation outcome. Links are signed with a throwaway key: they point at a real path but
no gateway trusts them.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.formatting import utc
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import ActorRef, Audit, CaseOutcome, Phase, RevokedVia, Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.contracts.vocabulary import expected_refund
from graceperiod.notifier.domain.emails import (
    OUTCOME_HEADLINES,
    Email,
    ExecutedEmail,
    OutcomeEmail,
    PurchaseFacts,
    executed_subject,
    outcome_story,
    outcome_subject,
)
from graceperiod.notifier.domain.windows import window_notice
from graceperiod.notifier.links import LinkSigner
from graceperiod.notifier.rendering import EmailRenderer
from graceperiod.runtime import signing_keys as keys

BRAND = "Grace Period"
NOW = datetime(2026, 5, 1, 14, 22, tzinfo=UTC)
RECIPIENT = "owner@example.com"


def sample_purchase(*, kind: str = "savings_plan", direct: bool = True) -> PurchaseExecuted:
    savings_plan = kind == "savings_plan"
    return PurchaseExecuted.model_validate(
        {
            "schema_version": 1,
            "occurred_at": NOW.isoformat(),
            "purchase_id": "pur-7f3a9c2e41d0",
            "provider": "aws",
            "service": "savingsplans" if savings_plan else "ec2",
            "commitment": {
                "kind": kind,
                "id": "sp-0a1b2c3d4e5f67890" if savings_plan else "4b2a8d1e-1111-2222-3333-444455556666",
                "region": "us-east-1",
            },
            "sku": "Compute Savings Plan, 1yr, $1.50/h" if savings_plan else "m6i.large, Linux/UNIX, 1yr",
            "term_months": 12,
            "payment_option": "All Upfront" if savings_plan else "Partial Upfront",
            "cost": (
                {"currency": "USD", "upfront": "13140.00", "monthly": "0.00", "total": "13140.00"}
                if savings_plan
                else {"currency": "USD", "upfront": "372.00", "monthly": "31.03", "total": "744.36"}
            ),
            "account": {"id": "123456789012", "name": "Payments Production", "contact_emails": [RECIPIENT]},
            "requested_by": {"user_id": "u-alice", "name": "Alice Example", "email": "alice@example.com"},
            "execution": (
                {
                    "via": "direct_execute",
                    "permission": "execute-direct:purchases",
                    "executed_by": {"user_id": "u-bob", "name": "Bob Example", "email": "bob@example.com"},
                }
                if direct
                else {"via": "approval_email", "permission": None, "executed_by": None}
            ),
            "executed_at": NOW.isoformat(),
        }
    )


def samples(signer: LinkSigner, renderer: EmailRenderer) -> dict[str, Email]:
    """Every email variant: the purchase-executed email in each window state, then each outcome."""
    return {**_executed(signer, renderer), **_outcomes(signer, renderer)}


def _executed(signer: LinkSigner, renderer: EmailRenderer) -> dict[str, Email]:
    week = NOW + timedelta(days=7)
    cases = {
        "executed-self-service": (
            sample_purchase(),
            Windows(self_service_until=week, support_case_until=week, closes_at=week),
            Phase.SELF_SERVICE,
        ),
        "executed-support-case": (
            sample_purchase(kind="reserved_instance", direct=False),
            Windows(support_case_until=week, closes_at=week),
            Phase.SUPPORT_CASE,
        ),
        "executed-closed": (
            sample_purchase(kind="reserved_instance", direct=False),
            Windows(support_case_until=NOW - timedelta(hours=1), closes_at=NOW - timedelta(hours=1)),
            Phase.CLOSED,
        ),
    }
    out: dict[str, Email] = {}
    for name, (purchase, windows, phase) in cases.items():
        notice = window_notice(windows, phase, NOW)
        url = None
        if notice.button and windows.closes_at and windows.closes_at > NOW:
            token = signer.token(
                purchase_id=purchase.purchase_id, recipient=RECIPIENT, expires_at=windows.closes_at, now=NOW
            )
            url = signer.revoke_url(purchase.purchase_id, token)
        out[name] = renderer.executed(
            ExecutedEmail(
                brand=BRAND,
                subject=executed_subject(purchase, BRAND),
                facts=PurchaseFacts.of(purchase),
                notice=notice,
                revoke_url=url,
                dashboard_url=signer.dashboard_url(purchase.purchase_id),
                recipient=RECIPIENT,
                now=NOW,
            )
        )
    return out


def _outcomes(signer: LinkSigner, renderer: EmailRenderer) -> dict[str, Email]:
    out: dict[str, Email] = {}
    week = NOW + timedelta(days=7)
    purchase = sample_purchase()
    week_windows = Windows(self_service_until=week, support_case_until=week, closes_at=week)
    actor = ActorRef(user_id="u-alice", email="alice@example.com", name="Alice Example", path=ActionPath.EMAIL_LINK)
    audits = {
        PurchaseChangeKind.REVOKED: Audit(revoked_at=NOW, revoked_via=RevokedVia.SELF_SERVICE_API),
        PurchaseChangeKind.REVOCATION_FAILED: Audit(failure="ReturnSavingsPlan: the plan is no longer returnable"),
        PurchaseChangeKind.SUPPORT_CASE_OPENED: Audit(support_case_id="case-123456789012-muen-2026-1a2b3c"),
        PurchaseChangeKind.SUPPORT_CASE_RESOLVED: Audit(
            support_case_id="case-123456789012-muen-2026-1a2b3c",
            support_case_status="resolved",
            support_case_display_id="174839201",
            support_case_outcome=CaseOutcome.GRANTED,
            support_case_refund=Decimal("13140.00"),
            support_case_resolution_note="AWS refunded the upfront fee in full; the plan is cancelled.",
        ),
    }
    for change, audit in audits.items():
        what, details, next_step = outcome_story(
            change,
            summary=f"{OUTCOME_HEADLINES[change]} (sample)",
            audit=audit,
            actor=actor,
            occurred_at=utc(NOW),
            notice=window_notice(week_windows, Phase.SELF_SERVICE, NOW),
            refund=expected_refund(purchase, "returned") if change is PurchaseChangeKind.REVOKED else "",
        )
        out[f"outcome-{change}"] = renderer.outcome(
            OutcomeEmail(
                brand=BRAND,
                subject=outcome_subject(change, purchase, BRAND),
                headline=OUTCOME_HEADLINES[change],
                change=change,
                what_happened=what,
                details=details,
                next_step=next_step,
                facts=PurchaseFacts.of(purchase),
                dashboard_url=signer.dashboard_url(purchase.purchase_id),
                recipient=RECIPIENT,
            ),
            purchase_id=purchase.purchase_id,
            occurrence="preview",
        )
    return out


def sample_emails(public_base_url: str = "https://graceperiod.example.com") -> dict[str, Email]:
    """:func:`samples`, with links signed by a throwaway key."""
    with tempfile.TemporaryDirectory() as scratch:
        keys.generate(Path(scratch), "preview")
        signer = LinkSigner(keys.KeyRing.load(directory=Path(scratch)), public_base_url=public_base_url)
        return samples(signer, EmailRenderer())


def write(out: Path, public_base_url: str = "https://graceperiod.example.com") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    emails = sample_emails(public_base_url)
    written = []
    for name, email in emails.items():
        assert email.html is not None
        (out / f"{name}.html").write_text(email.html)
        (out / f"{name}.txt").write_text(f"Subject: {email.subject}\n\n{email.text}")
        written.append(out / f"{name}.html")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/preview"))
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(path)


if __name__ == "__main__":
    main()
