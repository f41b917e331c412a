"""A loopback proxy in front of the real Dex that can alter what reaches the gateway.

Dex is started with its issuer at the proxy's port, so the browser, the discovery document,
the token endpoint and the JWKS all go through the proxy, which forwards everything as is
unless told otherwise:

* ``tamper = "signature"``: the ID token's payload is changed and Dex's signature kept, so
  the signature no longer matches Dex's key;
* ``tamper = {"iss": ...}`` (or ``aud``, ``nonce``, ``exp``...): the ID token's claims are
  changed and it is re-signed with the proxy's own RSA key, which the proxy adds to Dex's
  JWKS: the signature verifies, so the gateway's check of that one claim is what is tested;
* ``tamper = "unknown-key"``: re-signed with a key the JWKS does not have;
* ``end_session_endpoint``: added to the discovery document (Dex offers no RP-initiated
  logout), pointing at the proxy's own ``/logout`` page, which records the call.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa

PROXY_KID = "proxy-second-key"
_HOP_HEADERS = (b"host", b"content-length")


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class IdpProxy:
    upstream: str
    """Where Dex really listens: http://127.0.0.1:<port>."""
    tamper: str | dict[str, Any] | None = None
    end_session: bool = False
    logouts: list[dict[str, list[str]]] = field(default_factory=list)
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    _stray_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = (await receive())["type"]
                await send({"type": f"{event}.complete"})
                if event == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, content = await self._answer(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _answer(self, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        path, query = scope["path"], scope["query_string"].decode()
        if path == "/logout":
            self.logouts.append(parse_qs(query))
            return 200, [(b"content-type", b"text/plain")], b"signed out at the provider"
        async with httpx.AsyncClient(timeout=10) as client:
            upstream = await client.request(
                scope["method"],
                f"{self.upstream}{path}" + (f"?{query}" if query else ""),
                headers=[
                    (k.decode(), v.decode()) for k, v in scope["headers"] if k not in (b"host", b"content-length")
                ],
                content=body,
            )
        content = upstream.content
        if path.endswith("/.well-known/openid-configuration") and self.end_session:
            document = upstream.json()
            document["end_session_endpoint"] = document["issuer"].rsplit("/dex", 1)[0] + "/logout"
            content = json.dumps(document).encode()
        elif path.endswith("/keys"):
            content = json.dumps(self._keys(upstream.json())).encode()
        elif path.endswith("/token") and upstream.status_code == 200 and self.tamper is not None:
            answer = upstream.json()
            answer["id_token"] = self._tampered(answer["id_token"])
            content = json.dumps(answer).encode()
        headers = [
            (k.encode(), v.encode())
            for k, v in upstream.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        ]
        return upstream.status_code, headers, content

    def _keys(self, jwks: dict[str, Any]) -> dict[str, Any]:
        public = self._key.public_key().public_numbers()
        extra = {
            "kty": "RSA",
            "kid": PROXY_KID,
            "alg": "RS256",
            "use": "sig",
            "n": _b64(public.n.to_bytes((public.n.bit_length() + 7) // 8, "big")),
            "e": _b64(public.e.to_bytes(3, "big")),
        }
        return {"keys": [*jwks.get("keys", []), extra]}

    def _tampered(self, id_token: str) -> str:
        header, _, signature = id_token.split(".")
        claims = jwt.decode(id_token, options={"verify_signature": False})
        if self.tamper == "signature":
            claims["name"] = "Mallory"
            forged = _b64(json.dumps(claims).encode())
            return f"{header}.{forged}.{signature}"
        if self.tamper == "unknown-key":
            return jwt.encode(claims, self._stray_key, algorithm="RS256", headers={"kid": "nobody-knows-this-key"})
        assert isinstance(self.tamper, dict)
        changes = {key: (value(claims) if callable(value) else value) for key, value in self.tamper.items()}
        return jwt.encode({**claims, **changes}, self._key, algorithm="RS256", headers={"kid": PROXY_KID})


def expired(claims: dict[str, Any]) -> int:
    """An ``exp`` ten minutes ago (well past the gateway's leeway)."""
    return int(time.time()) - 600


@contextlib.contextmanager
def serving_in_a_thread(app: Any, port: int) -> Iterator[None]:
    """Serve ``app`` on a loopback port from its own thread and event loop: the gateway under
    test runs in AsyncTestClient's portal, which blocks the test's loop while it answers."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="idp-proxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            msg = "the proxy did not start"
            raise RuntimeError(msg)
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
