"""A credential and a Reservations client per tenant's service principal, cached and closed
with the service. Azure's own endpoints unless the settings name others (the local Azure
endpoint in development, trusted through its CA bundle)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any

from azure.identity.aio import ClientSecretCredential
from azure.mgmt.reservations.aio import ReservationsMgmtClient


@dataclass(frozen=True)
class Principal:
    """The service principal Grace Period signs in as in one tenant. The secret stays out of
    ``repr`` (and so out of logs and tracebacks)."""

    tenant_id: str
    client_id: str
    secret: str = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.tenant_id, self.client_id, hashlib.sha256(self.secret.encode()).hexdigest()


@dataclass(frozen=True)
class AzureOptions:
    arm_url: str = "https://management.azure.com"
    authority: str = "https://login.microsoftonline.com"
    ca_bundle: str | None = None
    """A CA bundle to trust instead of the system's (the local Azure endpoint's ``ca.pem``)."""
    retry_total: int = 3
    """azure-core's retries per call (429 and 5xx; for a return POST Grace Period turns them off)."""
    retry_backoff: float = 0.8
    polling_interval: float = 10.0
    """Seconds between polls of a running return when Azure sends no Retry-After."""
    timeout: float = 30.0


@dataclass
class _Held:
    credential: ClientSecretCredential
    client: ReservationsMgmtClient


class AzureClients:
    def __init__(self, options: AzureOptions | None = None) -> None:
        self.options = options or AzureOptions()
        self._held: dict[tuple[str, str, str], _Held] = {}
        self._lock = asyncio.Lock()

    def _transport(self) -> dict[str, Any]:
        options = self.options
        transport: dict[str, Any] = {"connection_timeout": options.timeout, "read_timeout": options.timeout}
        if options.ca_bundle:
            transport["connection_verify"] = options.ca_bundle
        return transport

    async def client(self, principal: Principal) -> ReservationsMgmtClient:
        held = self._held.get(principal.key)
        if held is not None:
            return held.client
        async with self._lock:
            held = self._held.get(principal.key)
            if held is None:
                held = self._held[principal.key] = self._build(principal)
            return held.client

    def _build(self, principal: Principal) -> _Held:
        options, transport = self.options, self._transport()
        credential = ClientSecretCredential(
            principal.tenant_id, principal.client_id, principal.secret, authority=options.authority, **transport
        )
        client = ReservationsMgmtClient(
            credential,
            base_url=options.arm_url,
            retry_total=options.retry_total,
            retry_backoff_factor=options.retry_backoff,
            polling_interval=options.polling_interval,
            **transport,
        )
        return _Held(credential, client)

    async def forget(self, principal: Principal) -> None:
        """Drop the principal's credential and client (its token expired early, or it changed)."""
        held = self._held.pop(principal.key, None)
        if held is not None:
            await _close(held)

    async def start(self) -> None:
        """Nothing to open ahead: credentials and clients are built per principal when first used."""

    async def close(self) -> None:
        held, self._held = list(self._held.values()), {}
        for item in held:
            await _close(item)


async def _close(held: _Held) -> None:
    with contextlib.suppress(Exception):
        await held.client.close()
    with contextlib.suppress(Exception):
        await held.credential.close()
