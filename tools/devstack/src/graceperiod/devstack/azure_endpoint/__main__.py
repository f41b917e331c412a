"""``python -m graceperiod.devstack.azure_endpoint --port N``: run the local Azure endpoint."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from graceperiod.devstack.azure_endpoint import AzureEndpoint
from graceperiod.devstack.azure_endpoint.state import Config
from graceperiod.devstack.servers.emulators import run_until_signalled


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Azure endpoint (Entra ID tokens + ARM Reservations API)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--tls-dir",
        type=Path,
        default=Path("azure-tls"),
        help="where the CA (ca.pem, reused when present) and the server certificate live",
    )
    parser.add_argument("--return-polls", type=int, default=1, help="status polls a return answers InProgress")
    parser.add_argument("--return-seconds", type=float, default=30.0, help="seconds after which a return completes")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on return operations")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    config = Config(
        return_polls=args.return_polls, return_seconds=args.return_seconds, retry_after_seconds=args.retry_after
    )
    endpoint = AzureEndpoint(args.tls_dir, args.host, args.port, config=config)
    run_until_signalled(endpoint, f"Azure endpoint listening on {endpoint.url} (CA bundle: {endpoint.ca_bundle})")


if __name__ == "__main__":
    main()
