"""The two kinds of signed-in controller every feature has. Each feature's controller declares
its own ``path``, ``tags`` and ``dependencies``; what they all share is here."""

from __future__ import annotations

from litestar import Controller
from litestar.openapi.spec import SecurityRequirement
from litestar.types import Guard

from graceperiod.gateway.auth.guards import signed_in
from graceperiod.gateway.web.openapi import API_SECURITY


class ApiController(Controller):
    """JSON API: every route needs an API token or the dashboard's session (401 otherwise)."""

    guards: list[Guard] | None = [signed_in]
    security: list[SecurityRequirement] | None = API_SECURITY


class DashboardController(Controller):
    """Dashboard pages: HTML errors, a signed-out visitor is sent to the sign-in page; not part
    of the API document."""

    opt = {"page": "dashboard"}
    include_in_schema = False
    guards: list[Guard] | None = [signed_in]
