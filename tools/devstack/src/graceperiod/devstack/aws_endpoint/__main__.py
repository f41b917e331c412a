"""``python -m graceperiod.devstack.aws_endpoint --port N``: run the local AWS endpoint."""

from __future__ import annotations

import argparse
import logging

from graceperiod.devstack.aws_endpoint import AwsEndpoint
from graceperiod.devstack.aws_endpoint.state import DEFAULT_VENDOR_ACCOUNT
from graceperiod.devstack.servers.emulators import run_until_signalled


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local AWS endpoint for Grace Period development and tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vendor-account", default=DEFAULT_VENDOR_ACCOUNT, help="account of keys not issued by STS")
    parser.add_argument(
        "--return-delay", type=float, default=2.0, help="seconds a returned Savings Plan stays pending-return"
    )
    parser.add_argument("--payment-delay", type=float, default=2.0, help="seconds a new purchase stays payment-pending")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="do not enforce AWS's published per-account request rates"
    )
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    endpoint = AwsEndpoint(
        args.host,
        args.port,
        vendor_account=args.vendor_account,
        return_delay_seconds=args.return_delay,
        payment_delay_seconds=args.payment_delay,
        rate_limits=not args.no_rate_limits,
    )
    run_until_signalled(endpoint, f"AWS endpoint listening on {endpoint.url}")


if __name__ == "__main__":
    main()
