from __future__ import annotations

import pytest

from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.notifier.domain.recipients import normalise, resolve_recipients


def test_recipients_are_the_global_address_contacts_and_requester_deduplicated() -> None:
    purchase = sample_purchase(
        contacts=[" Owner@Example.com", "FINOPS@example.com", "owner@example.com"],
        requester_email="Alice@Example.COM",
    )
    assert resolve_recipients(purchase, "finops@example.com") == [
        "finops@example.com",
        "owner@example.com",
        "alice@example.com",
    ]


def test_without_a_global_address_only_contacts_and_requester_remain() -> None:
    purchase = sample_purchase(contacts=[], requester_email="alice@example.com")
    assert resolve_recipients(purchase, None) == ["alice@example.com"]


@pytest.mark.parametrize("bad", ["", "   ", "no-at-sign", "@example.com", "a@b", "a b@example.com", "a@b@c.com"])
def test_addresses_that_cannot_be_mailed_are_dropped(bad: str) -> None:
    assert normalise(bad) is None
    purchase = sample_purchase(contacts=[bad], requester_email="alice@example.com")
    assert resolve_recipients(purchase, None) == ["alice@example.com"]


def test_a_discovered_purchase_has_no_requester_to_email() -> None:
    purchase = sample_purchase(contacts=["owner@example.com"], discovered=True)
    assert resolve_recipients(purchase, "finops@example.com") == ["finops@example.com", "owner@example.com"]
