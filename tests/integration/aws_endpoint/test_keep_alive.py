"""The endpoint keeps a connection open between requests, as AWS's endpoints do for botocore
(which pools its connections): one TCP connection carries a control-API request, signed AWS
calls (emulated and moto's) and a request with a body, in turn."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_KEYS = Credentials("AKIDKEEPALIVE", "keep-alive-secret")


def _signed(url: str, service: str, path: str, headers: dict[str, str]) -> AWSRequest:
    request = AWSRequest(method="POST", url=url + path, data=json.dumps({}).encode(), headers=headers)
    SigV4Auth(_KEYS, service, "us-east-1").add_auth(request)
    return request


def test_one_connection_carries_control_and_aws_requests(aws_endpoint_url: str) -> None:
    address = urlsplit(aws_endpoint_url)
    emulated = _signed(aws_endpoint_url, "savingsplans", "/DescribeSavingsPlans", {"Content-Type": "application/json"})
    by_moto = _signed(
        aws_endpoint_url,
        "logs",
        "/",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.DescribeLogGroups"},
    )
    requests: list[tuple[str, str, bytes | None, dict[str, str]]] = [
        ("GET", "/_emulator/health", None, {}),
        ("POST", "/DescribeSavingsPlans", emulated.body, dict(emulated.headers)),
        ("POST", "/", by_moto.body, dict(by_moto.headers)),
        ("GET", "/_emulator/calls", None, {}),
    ]
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
    sockets = []
    try:
        for method, path, body, headers in requests:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, (method, path, response.status)
            assert (response.getheader("Connection") or "").lower() != "close", (method, path)
            sockets.append(connection.sock)  # http.client drops its socket when the server closes it
    finally:
        connection.close()
    assert sockets[0] is not None
    assert all(sock is sockets[0] for sock in sockets), "a request went out on a new connection"
