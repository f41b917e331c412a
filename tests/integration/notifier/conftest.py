"""Fixtures of the notifier's integration tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
from faststream.asgi import AsgiFastStream

from graceperiod.notifier.app import create_app
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.signing_keys import KeyRing
from tests.integration.notifier.helpers import NotifierFactory


@pytest.fixture
def make_notifier(amqp_url: str, mongodb_url: str, db_prefix: str, link_keys_dir: Path) -> NotifierFactory:
    def make(*, clock: Clock | None = None, **overrides: Any) -> AsgiFastStream:
        values: dict[str, Any] = {
            "amqp_url": amqp_url,
            "mongodb_url": mongodb_url,
            "mongodb_database": f"{db_prefix}_notifier",
            "link_keys_dir": link_keys_dir,
            "public_base_url": "https://gp.example.com",
            "retry_backoff_base_seconds": 0.05,
            "retry_backoff_cap_seconds": 0.5,
            **overrides,
        }
        return create_app(NotifierSettings(**values), clock=clock)

    return make


@pytest.fixture
def jwks(link_keys_dir: Path) -> jwt.PyJWKSet:
    """The public keys, as the gateway receives them."""
    return jwt.PyJWKSet.from_dict(KeyRing.load(directory=link_keys_dir).jwks())
