from __future__ import annotations

import pytest

from graceperiod.notifier.adapters.smtp import SmtpConfig


def test_plain_url_uses_starttls_when_offered() -> None:
    config = SmtpConfig.from_url("smtp://127.0.0.1:2525")
    assert (config.hostname, config.port, config.use_tls, config.start_tls) == (
        "127.0.0.1",
        2525,
        False,
        None,
    )


def test_credentials_and_required_starttls() -> None:
    config = SmtpConfig.from_url("smtp://user%40corp:p%2Fss@mail.example.com:587?starttls=require")
    assert (config.username, config.password, config.start_tls) == ("user@corp", "p/ss", True)


def test_smtps_means_implicit_tls_on_465_by_default() -> None:
    config = SmtpConfig.from_url("smtps://mail.example.com")
    assert (config.port, config.use_tls) == (465, True)


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="smtp:// or smtps://"):
        SmtpConfig.from_url("http://mail.example.com")


def test_starttls_can_be_switched_off_and_certificate_checks_relaxed() -> None:
    config = SmtpConfig.from_url("smtp://relay.internal:25?starttls=off&verify=false&timeout=5")
    assert (config.start_tls, config.validate_certs, config.timeout) == (False, False, 5.0)
