"""Signing in to the gateway through the real Dex, as a browser would but with HTTP calls:
the gateway's start link, Dex's redirects and its own login form, back to the callback."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.devstack.servers.dex import DEMO_PASSWORD

#: AsyncTestClient's base URL: the gateway's public URL in these tests.
GATEWAY = "http://testserver.local"
CALLBACK = f"{GATEWAY}/sign-in/callback"
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


async def start(client: AsyncTestClient[Litestar], next_path: str = "/") -> str:
    """The gateway's answer to "Sign in with Dex": where it sends the browser."""
    response = await client.get("/sign-in/provider", params={"next": next_path}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    return str(response.headers["location"])


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


async def log_in_at_dex(authorization_url: str, email: str, password: str = DEMO_PASSWORD) -> str:
    """Fill in Dex's login form; returns the callback path and query Dex redirects to."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        response = await browser.get(authorization_url)
        while response.status_code in (302, 303):
            response = await browser.get(urljoin(str(response.url), response.headers["location"]))
        assert response.status_code == 200, response.text[:500]
        action = _FORM_ACTION.search(response.text)
        assert action, "Dex's login form was not found"
        login_url = urljoin(str(response.url), html.unescape(action.group(1)))
        response = await browser.post(login_url, data={"login": email, "password": password})
        location = str(response.headers.get("location", ""))
        while response.status_code in (302, 303) and not location.startswith(CALLBACK):
            response = await browser.get(urljoin(str(response.url), location))
            location = str(response.headers.get("location", ""))
    assert location.startswith(CALLBACK), f"Dex did not send the browser back: {response.status_code} {location}"
    return location.removeprefix(GATEWAY)


async def sign_in(client: AsyncTestClient[Litestar], email: str, next_path: str = "/") -> httpx.Response:
    """The whole sign-in; returns the gateway's answer to the callback."""
    callback = await log_in_at_dex(await start(client, next_path), email)
    return await client.get(callback, follow_redirects=False)
