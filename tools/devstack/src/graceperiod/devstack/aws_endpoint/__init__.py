"""The local AWS endpoint: one HTTP server on one loopback port that behaves like AWS.

* An emulator (this package) answers what moto lacks or gets wrong for Grace Period:
  Savings Plans (offerings, CreateSavingsPlan idempotent by client token and queued for a
  future ``purchaseTime``, Describe/Return/DeleteQueued with ``returnableUntil`` and the
  ``pending-return`` → ``returned`` transition), EC2 Reserved Instances (offerings, purchase,
  Describe, DeleteQueued with ``DryRun`` and per-id failures), the offerings, purchase and
  describe calls of RDS, ElastiCache, Redshift, MemoryDB and OpenSearch reservations, the
  Regions an account enabled (EC2 DescribeRegions, Account ListRegions), the organisation-wide
  view of a management account (Organizations, Cost Explorer utilization), AWS Support
  (DescribeServices, DescribeSeverityLevels, CreateCase, DescribeCases,
  ``SubscriptionRequiredException``), STS AssumeRole that enforces the role and its
  ExternalId, per-account request rates at AWS's published figures (:mod:`.rates`), and
  injected AccessDenied, throttling, 5xx and delays.
* moto's server answers everything else (SES v2 for the notifier, ...).

Services find it only through the standard ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_<SERVICE>`` variables; production code never knows it exists.

    python -m graceperiod.devstack.aws_endpoint --port 4566
"""

from __future__ import annotations

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from graceperiod.devstack.aws_endpoint.app import AwsEndpointApp
from graceperiod.devstack.aws_endpoint.state import DEFAULT_VENDOR_ACCOUNT, Emulator
from graceperiod.devstack.servers.emulators import KeepAliveServer, ThreadedEndpoint

__all__ = ["AwsEndpoint", "AwsEndpointApp", "Emulator"]


class AwsEndpoint(ThreadedEndpoint):
    """The endpoint in a background thread (``python -m`` runs it in the foreground)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        vendor_account: str = DEFAULT_VENDOR_ACCOUNT,
        return_delay_seconds: float = 2.0,
        payment_delay_seconds: float = 2.0,
        rate_limits: bool = True,
    ) -> None:
        self.emulator = Emulator(
            vendor_account=vendor_account,
            return_delay_seconds=return_delay_seconds,
            payment_delay_seconds=payment_delay_seconds,
            rate_limits=rate_limits,
        )
        app = AwsEndpointApp(self.emulator, DomainDispatcherApplication(create_backend_app))
        super().__init__(KeepAliveServer(host, port, app), "aws-endpoint")

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"
