"""What the emails say, as HTML (inline styles, a real button) and as plain text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import ActorRef, Audit, CaseOutcome, Phase, RevokedVia, Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.contracts.vocabulary import expected_refund
from graceperiod.devstack.testkit.samples import purchase_payload, sample_purchase
from graceperiod.notifier.adapters.mail import to_bytes
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
from graceperiod.notifier.rendering import EmailRenderer

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
URL = "https://gp.example.com/api/purchases/pur-1/revoke?token=aaa.bbb.ccc"
DASHBOARD = "https://gp.example.com/purchases/pur-1"


@pytest.fixture(scope="module")
def renderer() -> EmailRenderer:
    return EmailRenderer()


def executed(
    renderer: EmailRenderer,
    purchase: PurchaseExecuted,
    windows: Windows,
    phase: Phase = Phase.SELF_SERVICE,
    *,
    url: str | None = URL,
) -> Email:
    notice = window_notice(windows, phase, NOW)
    return renderer.executed(
        ExecutedEmail(
            brand="Grace Period",
            subject=executed_subject(purchase, "Grace Period"),
            facts=PurchaseFacts.of(purchase),
            notice=notice,
            revoke_url=url if notice.button else None,
            dashboard_url=DASHBOARD,
            recipient="owner@example.com",
            now=NOW,
        )
    )


WINDOWS = Windows(
    self_service_until=NOW + timedelta(days=7),
    support_case_until=NOW + timedelta(days=7),
    closes_at=NOW + timedelta(days=7),
)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []
        self.cells: list[dict[str, str | None]] = []
        self.styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))
        if tag == "td":
            self.cells.append(dict(attrs))
        if tag == "style":
            self.styles += 1


def test_subject_names_brand_service_sku_and_account(renderer: EmailRenderer) -> None:
    purchase = sample_purchase(executed_at=NOW)
    email = executed(renderer, purchase, WINDOWS)
    assert email.subject == (
        "[Grace Period] Purchase executed: aws/savingsplans Compute Savings Plan, 1yr, $1.50/h "
        "in Payments Production (123456789012)"
    )
    assert executed_subject(purchase, "ACME FinOps").startswith("[ACME FinOps] Purchase executed: ")


def test_plain_text_has_every_fact_the_window_line_and_the_url(renderer: EmailRenderer) -> None:
    purchase = sample_purchase(executed_at=NOW, direct_execute=True, region="eu-west-1")
    text = executed(renderer, purchase, WINDOWS).text
    for fingerprint in [
        "Account:     Payments Production (123456789012)",
        "Service:     AWS Savings Plans",
        "SKU:         Compute Savings Plan, 1yr, $1.50/h",
        "Region:      eu-west-1",
        f"Commitment:  Savings Plan {purchase.commitment_id}",
        "Term:        1 year",
        "Payment:     All Upfront",
        "Cost:        $13,140.00 upfront. Total over term: $13,140.00",
        "Requested by Alice Example <alice@example.com>",
        "Executed directly (grant: execute-direct:purchases), by Bob Example",
        "Executed at: 2026-05-01 12:00 UTC",
        "Revocable until: 2026-05-08 12:00 UTC (7 days left)",
        f"Purchase id: {purchase.purchase_id}",
        "You can revoke this purchase until 2026-05-08 12:00 UTC (7 days left); "
        "after that, it can no longer be undone.",
        f"Revoke this purchase:\n{URL}",
        f"Dashboard: {DASHBOARD}",
    ]:
        assert fingerprint in text


def test_approval_path_says_so_instead_of_a_grant(renderer: EmailRenderer) -> None:
    text = executed(renderer, sample_purchase(executed_at=NOW), WINDOWS).text
    assert "Executed after approval by email" in text
    assert "grant" not in text


def test_html_has_inline_styles_and_a_table_based_button(renderer: EmailRenderer) -> None:
    html = executed(renderer, sample_purchase(executed_at=NOW), WINDOWS).html
    assert html is not None
    parsed = Links()
    parsed.feed(html)
    assert parsed.styles == 0  # inlined: no <style> block left for clients to drop
    button = [a for a in parsed.anchors if a.get("class") == "button-link"]
    assert len(button) == 1
    assert button[0]["href"] == URL
    assert "padding: 12px 26px" in (button[0]["style"] or "")
    assert "background-color: #b42318" in (
        next(c for c in parsed.cells if c.get("class") == "button-cell")["style"] or ""
    )
    assert ">Revoke this purchase</a>" in html
    assert "$13,140.00 upfront. Total over term: $13,140.00" in html
    assert "/mo" not in html  # All Upfront: no monthly figure
    assert any(a["href"] == DASHBOARD for a in parsed.anchors)


def test_upstream_text_is_escaped_in_html_and_kept_out_of_headers(renderer: EmailRenderer) -> None:
    body = purchase_payload(executed_at=NOW)
    body["account"]["name"] = '<script>alert("x")</script> & Co'
    body["sku"] = "m6i.large\r\nBcc: victim@example.com"
    purchase = PurchaseExecuted.model_validate(body)
    email = executed(renderer, purchase, WINDOWS)
    assert email.html is not None
    assert "<script" not in email.html
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; Co' in email.html
    assert "\n" not in email.subject
    assert "\r" not in email.subject
    parsed = message_from_bytes(to_bytes(email, "Grace Period <gp@example.com>"), policy=policy.default)
    assert parsed["Bcc"] is None


def test_closed_purchase_gets_no_button_and_says_so(renderer: EmailRenderer) -> None:
    closed = Windows(
        self_service_until=None, support_case_until=NOW - timedelta(hours=1), closes_at=NOW - timedelta(hours=1)
    )
    email = executed(renderer, sample_purchase(executed_at=NOW - timedelta(days=8)), closed, Phase.CLOSED)
    assert email.html is not None
    assert "button-link" not in email.html
    assert "/revoke?token=" not in email.text
    assert "The revocation window closed on 2026-05-01 11:00 UTC" in email.text


def test_support_case_phase_offers_a_refund_request_not_a_revoke(renderer: EmailRenderer) -> None:
    windows = Windows(
        self_service_until=None, support_case_until=NOW + timedelta(days=7), closes_at=NOW + timedelta(days=7)
    )
    email = executed(renderer, sample_purchase(executed_at=NOW, kind="reserved_instance", service="ec2"), windows)
    assert "Request a refund from AWS Support" in email.text
    assert "You can revoke" not in email.text


def test_mime_is_multipart_alternative_with_stable_ids(renderer: EmailRenderer) -> None:
    email = executed(renderer, sample_purchase(executed_at=NOW, purchase_id="pur-1"), WINDOWS)
    again = executed(renderer, sample_purchase(executed_at=NOW, purchase_id="pur-1"), WINDOWS)
    assert email.message_id == again.message_id
    parsed = message_from_bytes(
        to_bytes(email, "Grace Period <gp@example.com>", reply_to="finops@example.com"), policy=policy.default
    )
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["Message-ID"] == email.message_id
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Reply-To"] == "finops@example.com"
    assert parsed["X-Grace-Period-Purchase"] == "pur-1"
    assert parsed["X-Grace-Period-Email"] == "purchase-executed"


def _outcome(renderer: EmailRenderer, change: PurchaseChangeKind, audit: Audit) -> Email:
    purchase = sample_purchase(executed_at=NOW)
    actor = ActorRef(user_id="u-alice", email="alice@example.com", name="Alice Example", path=ActionPath.EMAIL_LINK)
    notice = window_notice(WINDOWS, Phase.SELF_SERVICE, NOW)
    what, details, next_step = outcome_story(
        change,
        summary="Summary from revocation",
        audit=audit,
        actor=actor,
        occurred_at="2026-05-01 12:00 UTC",
        notice=notice,
        refund=expected_refund(purchase, "returned"),
    )
    return renderer.outcome(
        OutcomeEmail(
            brand="Grace Period",
            subject=outcome_subject(change, purchase, "Grace Period"),
            headline=OUTCOME_HEADLINES[change],
            change=change,
            what_happened=what,
            details=details,
            next_step=next_step,
            facts=PurchaseFacts.of(purchase),
            dashboard_url=DASHBOARD,
            recipient="owner@example.com",
        ),
        purchase_id=purchase.purchase_id,
        occurrence="evt-1",
    )


@pytest.mark.parametrize(
    ("change", "audit", "fingerprints"),
    [
        (
            PurchaseChangeKind.REVOKED,
            Audit(revoked_at=NOW, revoked_via=RevokedVia.SELF_SERVICE_API),
            [
                "The purchase was revoked: AWS confirmed it.",
                "Revoked at: 2026-05-01 12:00 UTC",
                "Route: Undone through the AWS API (self-service)",
                "Refund: Expected refund: $13,140.00, the upfront payment in full",
            ],
        ),
        (
            PurchaseChangeKind.REVOCATION_FAILED,
            Audit(failure="ReturnSavingsPlan: ValidationException"),
            [
                "The attempt to revoke the purchase failed",
                "Reason: ReturnSavingsPlan: ValidationException",
                "You can revoke this purchase until",
            ],
        ),
        (
            PurchaseChangeKind.SUPPORT_CASE_OPENED,
            Audit(support_case_id="case-123"),
            ["An AWS Support case (case-123) was opened", "You will get another email when the case is resolved."],
        ),
        (
            PurchaseChangeKind.SUPPORT_CASE_OPENED,
            Audit(support_case_id="case-123", support_case_display_id="174839201"),
            ["An AWS Support case (174839201) was opened", "Support case: 174839201"],
        ),
        (
            PurchaseChangeKind.SUPPORT_CASE_RESOLVED,
            Audit(support_case_id="case-123", support_case_status="resolved"),
            ["The AWS Support case (case-123) about this purchase was resolved.", "Case status: resolved"],
        ),
        (
            PurchaseChangeKind.SUPPORT_CASE_RESOLVED,
            Audit(
                support_case_id="case-123",
                support_case_status="resolved",
                support_case_outcome=CaseOutcome.PARTIALLY_GRANTED,
                support_case_refund=Decimal("1200.5"),
                support_case_resolution_note="AWS refunded the upfront fee",
            ),
            [
                "The AWS Support case (case-123) about this purchase was resolved: refund partly granted.",
                "Outcome: Refund partly granted",
                "Refund: $1,200.50",
                "Resolution note: AWS refunded the upfront fee",
            ],
        ),
    ],
)
def test_outcome_emails_say_what_happened_with_the_dashboard_link(
    renderer: EmailRenderer, change: PurchaseChangeKind, audit: Audit, fingerprints: list[str]
) -> None:
    email = _outcome(renderer, change, audit)
    label = "aws/savingsplans Compute Savings Plan, 1yr, $1.50/h in Payments Production (123456789012)"
    assert email.subject == f"[Grace Period] {OUTCOME_HEADLINES[change]}: {label}"
    for fingerprint in [
        *fingerprints,
        "By: Alice Example <alice@example.com> from an email link",
        f"Open the purchase: {DASHBOARD}",
    ]:
        assert fingerprint in email.text
    assert email.html is not None
    assert f'href="{DASHBOARD}"' in email.html
    assert "/revoke?token=" not in email.text
    assert re.search(r"<style", email.html) is None


def test_the_html_of_a_usual_email_needs_no_transfer_encoding(renderer: EmailRenderer) -> None:
    email = executed(renderer, sample_purchase(executed_at=NOW), WINDOWS, url=URL + "x" * 600)
    assert email.html is not None
    assert max(len(line) for line in email.html.splitlines()) <= 998
    parsed = message_from_bytes(to_bytes(email, "gp@example.com"), policy=policy.default)
    assert [p["Content-Transfer-Encoding"] for p in parsed.iter_parts()] == ["7bit", "7bit"]


def test_a_discovered_purchase_says_it_was_found_in_the_account(renderer: EmailRenderer) -> None:
    purchase = sample_purchase(executed_at=NOW, discovered=True)
    email = executed(renderer, purchase, WINDOWS)
    assert email.subject.startswith("[Grace Period] Purchase found in your account: aws/savingsplans ")
    assert "Grace Period found a commitment in Payments Production (123456789012) that was bought outside" in email.text
    assert "Requested by nobody through Grace Period: found in the account" in email.text
    assert "Found in your account by Grace Period: bought outside Grace Period" in email.text
    assert email.html is not None
    assert ">Purchase found in your account</h1>" in email.html
    assert f"Revoke this purchase:\n{URL}" in email.text  # revocable like an executed one


def test_a_deadline_under_24_hours_is_red_and_counts_down(renderer: EmailRenderer) -> None:
    soon = Windows(
        self_service_until=NOW + timedelta(hours=5, minutes=30),
        support_case_until=NOW + timedelta(days=7),
        closes_at=NOW + timedelta(days=7),
    )
    for windows, red in ((soon, True), (WINDOWS, False)):
        email = executed(renderer, sample_purchase(executed_at=NOW), windows)
        assert email.html is not None
        parsed = Links()
        parsed.feed(email.html)
        [cell] = [c for c in parsed.cells if "deadline" in (c.get("class") or "")]
        assert ("urgent" in (cell.get("class") or "")) is red
        assert ("color: #b42318" in (cell.get("style") or "")) is red
    assert "Revocable until: 2026-05-01 17:30 UTC (5 hours 30 minutes left)" in email_text(renderer, soon)


def email_text(renderer: EmailRenderer, windows: Windows) -> str:
    return executed(renderer, sample_purchase(executed_at=NOW), windows).text


@pytest.mark.parametrize("direct", [True, False])
def test_no_internal_name_reaches_an_email(renderer: EmailRenderer, direct: bool) -> None:
    purchase = sample_purchase(executed_at=NOW, direct_execute=direct)
    revoked = _outcome(
        renderer, PurchaseChangeKind.REVOKED, Audit(revoked_at=NOW, revoked_via=RevokedVia.SELF_SERVICE_API)
    )
    for text in (executed(renderer, purchase, WINDOWS).text, revoked.text):
        body = text.split("\n", 1)[1]
        for internal in ("savings_plan", "approval_email", "direct_execute", "email-link", "self-service-api", "/mo"):
            assert internal not in body


def test_the_revoked_email_says_a_deleted_queued_purchase_refunds_nothing() -> None:
    queued = expected_refund(sample_purchase(executed_at=NOW), "queued-deleted")
    assert queued.startswith("Nothing to refund: the queued purchase never starts")
    returned = expected_refund(sample_purchase(executed_at=NOW), "returned")
    assert returned.startswith("Expected refund: $13,140.00, the upfront payment in full")
