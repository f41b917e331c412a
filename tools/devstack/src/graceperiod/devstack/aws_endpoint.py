"""The local AWS endpoint: moto's server on loopback.

Point clients at it with the standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``
variables. Production code never knows it exists.

    python -m graceperiod.devstack.aws_endpoint --port 4566
"""

from __future__ import annotations

import argparse
import signal
import threading

from moto.server import ThreadedMotoServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local AWS endpoint for Grace Period development and tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    print(f"AWS endpoint listening on http://{args.host}:{args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
