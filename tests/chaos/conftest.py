"""The chaos stack: private RabbitMQ, FerretDB, SMTP sink and AWS endpoint that scenarios
may stop, kill and restart (never the servers the rest of the suite shares)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from graceperiod.devstack.chaos import scenarios  # noqa: F401 - registers the scenarios
from graceperiod.devstack.chaos.core import CI, LONG, Size
from graceperiod.devstack.chaos.stack import ChaosStack


@pytest.fixture(scope="session")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    with ChaosStack.running(tmp_path_factory.mktemp("chaos")) as stack:
        yield stack


@pytest.fixture(scope="session")
def chaos_size() -> Size:
    """CI-short sizes unless GP_CHAOS_SIZE=long (what `make chaos` runs)."""
    return {"ci": CI, "long": LONG}[os.environ.get("GP_CHAOS_SIZE", "ci")]
