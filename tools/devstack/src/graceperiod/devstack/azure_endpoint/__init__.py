"""The local Azure endpoint: one HTTPS server on one loopback port that behaves like Azure
for Grace Period's reservation returns.

* Microsoft Entra ID's token endpoint for service principals (client id + secret per tenant),
  which ``azure-identity``'s ``ClientSecretCredential`` accepts with ``authority=<endpoint url>``.
* Azure Resource Manager's Reservations API (``Microsoft.Capacity``, api-version 2022-11-01, the
  one ``azure-mgmt-reservations`` 3.x calls): reservation orders and reservations (GET and list),
  ``calculateRefund`` with Microsoft's 50,000 USD rolling 12-month cap per billing profile or
  enrollment, and ``return`` as a long-running operation the SDK's poller follows; bearer tokens,
  role assignments (403 AuthorizationFailed), ARM's error bodies, throttling and injected faults.
* A control API under ``/_emulator/`` for tests (:mod:`.control`).

It serves TLS with its own CA (azure-core sends bearer tokens only over HTTPS); clients trust
``<tls dir>/ca.pem`` through ``connection_verify``. Services find it only through settings they
already have for real Azure (the ARM base URL and the authority host).

    python -m graceperiod.devstack.azure_endpoint --port 4567 --tls-dir var/azure-tls
"""

from __future__ import annotations

from pathlib import Path

from werkzeug.serving import make_server

from graceperiod.devstack.azure_endpoint.app import AzureEndpointApp
from graceperiod.devstack.azure_endpoint.state import API_VERSION, Config, Emulator
from graceperiod.devstack.azure_endpoint.tls import ensure_tls
from graceperiod.devstack.servers.emulators import QuietHandler, ThreadedEndpoint

__all__ = ["API_VERSION", "AzureEndpoint", "AzureEndpointApp", "Emulator"]


class AzureEndpoint(ThreadedEndpoint):
    """The endpoint in a background thread (``python -m`` runs it in the foreground)."""

    def __init__(self, tls_dir: Path, host: str = "127.0.0.1", port: int = 0, *, config: Config | None = None) -> None:
        self.emulator = Emulator(config)
        self.tls = ensure_tls(tls_dir, (host, "localhost") if host != "localhost" else ("localhost",))
        server = make_server(
            host,
            port,
            AzureEndpointApp(self.emulator),
            threaded=True,
            request_handler=QuietHandler,
            ssl_context=self.tls.server_context(),
        )
        super().__init__(server, "azure-endpoint")

    @property
    def url(self) -> str:
        """The ARM base URL and the Entra ID authority host alike."""
        return f"https://{self._server.host}:{self._server.port}"

    @property
    def ca_bundle(self) -> Path:
        return self.tls.ca
