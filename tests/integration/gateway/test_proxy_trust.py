"""Forwarded headers are believed only from configured proxies (issue 13: 66 link GETs with
rotating ``X-Forwarded-For`` escaped the rate limit, since uvicorn trusts 127.0.0.1 by default).
The gateway runs under real uvicorn, configured as ``serve`` configures it."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from graceperiod.devstack.testkit.gateway_demo import demo_gateway
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.devstack.testkit.web import serving
from graceperiod.gateway.settings import GatewaySettings

LIMIT = 5


def _gateway() -> Litestar:
    return demo_gateway(LinkSigner(), GatewaySettings(public_rate_per_minute=LIMIT, sign_in_rate_per_minute=0))


async def _statuses(base_url: str, forwarded_for: list[str]) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        return [
            (
                await client.get("/api/purchases/pur-alice-sp/revoke?token=x", headers={"X-Forwarded-For": address})
            ).status_code
            for address in forwarded_for
        ]


def _rotating(count: int) -> list[str]:
    return [f"203.0.113.{n}" for n in range(1, count + 1)]


async def test_an_invented_forwarded_for_does_not_escape_the_rate_limit() -> None:
    async with serving(_gateway()) as base_url:
        statuses = await _statuses(base_url, _rotating(LIMIT + 3))
    assert statuses[:LIMIT] == [403] * LIMIT  # a damaged link, answered
    assert statuses[LIMIT:] == [429] * 3  # one client (this connection's address) over its limit


@pytest.mark.parametrize("proxy", ["127.0.0.1", "127.0.0.0/8"])
async def test_a_configured_proxy_names_the_client_whose_requests_are_counted(proxy: str) -> None:
    async with serving(_gateway(), trusted_proxies=[proxy]) as base_url:
        rotating = await _statuses(base_url, _rotating(LIMIT + 3))
        one_client = await _statuses(base_url, ["198.51.100.7"] * (LIMIT + 1))
    assert 429 not in rotating  # each named client is within its limit
    assert one_client[-1] == 429


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert GatewaySettings(trusted_proxies="10.0.0.0/8, 192.168.1.10").trusted_proxies == [  # type: ignore[arg-type]
        "10.0.0.0/8",
        "192.168.1.10",
    ]
    assert GatewaySettings().trusted_proxies == []
    with pytest.raises(ValueError, match="not an IP address or network"):
        GatewaySettings(trusted_proxies=["ingress.example.com"])
