"""Container health probe, standard library only (the images carry no curl).

    python -m graceperiod.runtime.healthcheck            # GET http://127.0.0.1:<port>/health
    python -m graceperiod.runtime.healthcheck URL        # GET URL
    python -m graceperiod.runtime.healthcheck --tcp HOST:PORT

The service comes from ``GP_SERVICE`` (set by the image), the port from the service's own
``<SERVICE>_HTTP_PORT`` variable when set, else the service's default. Exit status 0 when the
endpoint answers 200 (or the TCP port accepts a connection), 1 otherwise: what Docker's
``HEALTHCHECK`` and compose's ``healthcheck`` expect. Kubernetes does not use it: its probes
call ``/health`` and ``/ready`` over HTTP themselves.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Final

#: Default HTTP port of each service (the ``http_port`` default of its settings class;
#: a unit test keeps the two equal).
SERVICE_PORTS: Final[Mapping[str, int]] = {"gateway": 8080, "revocation": 8081, "notifier": 8082, "cooldown": 8083}


def default_url(environ: Mapping[str, str]) -> str:
    service = environ.get("GP_SERVICE", "")
    if service not in SERVICE_PORTS:
        msg = f"GP_SERVICE={service!r} is not one of {sorted(SERVICE_PORTS)}: pass the URL to probe"
        raise ValueError(msg)
    port = environ.get(f"{service.upper()}_HTTP_PORT") or str(SERVICE_PORTS[service])
    return f"http://127.0.0.1:{int(port)}/health"


def probe_http(url: str, timeout: float) -> bool:
    if not url.startswith(("http://", "https://")):
        msg = f"not an http(s) URL: {url!r}"
        raise ValueError(msg)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def probe_tcp(address: str, timeout: float) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="graceperiod-healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="URL to GET (default: this service's /health)")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="only check that the port accepts connections")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    try:
        if args.tcp:
            healthy = probe_tcp(args.tcp, args.timeout)
        else:
            healthy = probe_http(args.url or default_url(os.environ if environ is None else environ), args.timeout)
    except ValueError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)  # noqa: T201 - a CLI
        return 2
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
