"""How long each kind of gateway call waits for the revocation service (clients.py)."""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import ExportPurchases, ListPurchases
from graceperiod.contracts.rpc import Actor
from graceperiod.gateway.clients import RpcServiceClients
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.rpc import RpcClient

ACTOR = Actor(user_id="u-alice", email="alice@example.com", path=ActionPath.DASHBOARD)


class TimeoutRecorder:
    """Stands in for the RPC client: notes each call's timeout and answers nothing."""

    def __init__(self) -> None:
        self.timeouts: dict[str, float] = {}

    async def call(self, binding: Any, request: BaseModel, reply_type: type[Any], *, timeout: float) -> Any:
        self.timeouts[type(request).__name__] = timeout
        return reply_type.model_construct()


async def test_an_export_page_waits_longer_than_a_page_read() -> None:
    """A CSV export is already streaming when its later pages are read: a page that timed out
    at a page read's 3 s (seen on a loaded machine) cut the downloaded file short."""
    settings = GatewaySettings()
    recorder = TimeoutRecorder()
    clients = RpcServiceClients(
        cast(RpcClient, recorder),
        query_timeout=settings.query_timeout_seconds,
        command_timeout=settings.command_timeout_seconds,
        export_timeout=settings.export_page_timeout_seconds,
    )
    await clients.list_purchases(ListPurchases(actor=ACTOR))
    await clients.export_purchases(ExportPurchases(actor=ACTOR))
    assert recorder.timeouts["ListPurchases"] == settings.query_timeout_seconds == 3.0
    assert recorder.timeouts["ExportPurchases"] == settings.export_page_timeout_seconds == 30.0
