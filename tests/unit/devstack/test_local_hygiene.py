"""Local stack hygiene (issue 13): var/ is owner-only, stack.env is owner-only and says it is
for local use only, and the SMTP sink's messages (live revoke links) are owner-only."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.devstack.local.stack import STACK_ENV_HEADER, newcomer_environment, private_dir, write_stack_env
from graceperiod.devstack.servers.credentials import BrokerAccounts
from graceperiod.devstack.servers.smtp_sink import MaildirHandler


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_is_made_owner_only_even_when_it_existed(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    private_dir(var)
    assert _mode(var) == 0o700


def test_stack_env_is_owner_only_and_marked_local_only(tmp_path: Path) -> None:
    path = tmp_path / "stack.env"
    path.write_text("old")
    path.chmod(0o644)
    write_stack_env({"AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/"}, path)
    assert _mode(path) == 0o600
    text = path.read_text()
    assert text.startswith(STACK_ENV_HEADER)
    assert "LOCAL DEVELOPMENT ONLY" in text
    assert "export AMQP_URL=amqp://guest:guest@127.0.0.1:5672/\n" in text


def test_a_stored_message_is_owner_only(tmp_path: Path) -> None:
    handler = MaildirHandler(tmp_path)
    envelope = SimpleNamespace(original_content=b"Subject: x\r\n\r\nrevoke link", mail_from="a@b.c", rcpt_tos=["d@e.f"])
    answer = asyncio.run(handler.handle_DATA(cast(Any, None), cast(Any, None), cast(Any, envelope)))
    assert answer.startswith("250")
    (message,) = tmp_path.glob("*.eml")
    assert _mode(message) == 0o600


def test_stack_env_hands_out_an_upstream_publishers_broker_url_never_a_services() -> None:
    accounts = BrokerAccounts.generated()
    env = newcomer_environment({"AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/", "MONGODB_URL": "m"}, accounts)

    assert urlsplit(env["AMQP_URL"]).username == BrokerIdentity.PURCHASE_EXECUTOR
    assert urlsplit(env["LEASE_MANAGER_AMQP_URL"]).username == BrokerIdentity.LEASE_MANAGER
    services = {BrokerIdentity.GATEWAY, BrokerIdentity.REVOCATION, BrokerIdentity.NOTIFIER, BrokerIdentity.COOLDOWN}
    text = "\n".join(env.values())
    assert not any(accounts.passwords[identity] in text for identity in services)
    assert "guest" not in text
