"""Schemathesis against the published OpenAPI document: no 5xx, no response that breaks the
document, invalid input refused (positive and negative generation). The services are the
in-memory fake (no server needed); requests carry an admin's API token so every operation is
reachable. Deterministic: Hypothesis derandomized, a bounded number of examples per operation,
so a failure reproduces on every run and machine. Malformed Authorization headers and
repeated query parameters have their own example-based tests in test_api.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from graceperiod.devstack.testkit.gateway_demo import demo_gateway
from graceperiod.devstack.testkit.tokens import ApiTokenIssuer, LinkSigner
from graceperiod.gateway.auth.bearer import StaticKeys, Trust
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.clock import SystemClock

_IDP = ApiTokenIssuer()
_APP = demo_gateway(
    LinkSigner(),
    GatewaySettings(sign_in_rate_per_minute=0, public_rate_per_minute=0),
    clock=SystemClock(),
    bearer_trusts=[Trust(_IDP.issuer, StaticKeys({_IDP.kid: _IDP.private_key.public_key()}))],
)
#: Schemathesis' default statuses for refused invalid input, plus 413: an oversized body is
#: refused before it is parsed (documented on every operation that takes a body).
_REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
#: A list's cursor is opaque: any string fits the document, but only the ones the service issued
#: (for that sort) are accepted, the others refused with 422.
_CURSOR_REFUSED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {"negative_data_rejection": {"expected-statuses": _REFUSALS}},
        "operations": [
            {
                "include-operation-id-regex": "^(listPurchases|exportPurchases)$",
                "checks": {"positive_data_acceptance": {"expected-statuses": _CURSOR_REFUSED}},
            }
        ],
    }
)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", _APP, config=_CONFIG)


def _admin() -> dict[str, str]:
    token = _IDP.token(user_id="u-admin", email="admin@example.com", roles=["admin"], now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=30, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_honours_its_openapi_document(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(headers=_admin())
