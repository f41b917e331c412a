"""Where a dead letter came from, read from the headers either dead-lettering path writes."""

from __future__ import annotations

from datetime import UTC, datetime

from graceperiod.runtime.dlq import Origin, origin_of, queue_names


def test_queue_names_accept_the_work_queue_or_its_dead_letter_queue() -> None:
    assert queue_names("notifier.revocation.purchase.recorded") == (
        "notifier.revocation.purchase.recorded",
        "notifier.revocation.purchase.recorded.dlq",
    )
    assert queue_names("cooldown.ticks.dlq") == ("cooldown.ticks", "cooldown.ticks.dlq")


def test_a_service_dead_letter_names_its_origin_in_x_gp_headers() -> None:
    headers = {"x-gp-original-exchange": "graceperiod.events", "x-gp-original-routing-key": "purchase.executed"}
    assert origin_of(headers, "revocation.purchase.executed") == Origin("graceperiod.events", "purchase.executed")


def test_an_rpc_command_dead_letter_goes_back_through_the_default_exchange() -> None:
    headers = {"x-gp-original-exchange": "", "x-gp-original-routing-key": "revocation.commands"}
    assert origin_of(headers, "revocation.commands") == Origin("", "revocation.commands")


def test_a_broker_dead_letter_is_traced_through_the_x_death_entry_of_its_queue() -> None:
    at = datetime(2026, 11, 21, tzinfo=UTC)
    headers = {
        "x-death": [
            {"queue": "other", "exchange": "graceperiod.events", "routing-keys": [b"x"], "reason": "expired"},
            {
                "queue": "cooldown.lease.terminated",
                "exchange": b"graceperiod.events",
                "routing-keys": [b"lease.terminated"],
                "reason": "delivery_limit",
                "count": 1,
                "time": at,
            },
        ]
    }
    assert origin_of(headers, "cooldown.lease.terminated") == Origin("graceperiod.events", "lease.terminated")
    assert origin_of(headers, "unknown.queue") == Origin("graceperiod.events", "x")  # newest entry otherwise


def test_x_gp_headers_win_over_x_death_and_nothing_means_unknown() -> None:
    headers = {
        "x-gp-original-exchange": "graceperiod.events",
        "x-gp-original-routing-key": "account.registered",
        "x-death": [{"queue": "q", "exchange": "elsewhere", "routing-keys": ["k"]}],
    }
    assert origin_of(headers, "q") == Origin("graceperiod.events", "account.registered")
    assert origin_of({}, "q") is None
    assert origin_of({"x-death": []}, "q") is None
