"""Who am I, dashboard sessions for API-token holders, and (dev sign-in only) API tokens for the
demo users."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.utils.scope.state import ScopeState

from graceperiod.gateway.auth.bearer import DevTokenSigner
from graceperiod.gateway.auth.dev import demo_user
from graceperiod.gateway.auth.guards import IDENTITY, SignedIn
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.auth.schemas import DevToken, Me
from graceperiod.gateway.auth.sign_in import Sessions
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.controllers import ApiController
from graceperiod.gateway.web.problems import ProblemException
from graceperiod.gateway.web.routes import api_delete, api_get, api_post


def me(identity: Identity, request: Request[Any, Any, Any]) -> Me:
    csrf = ScopeState.from_scope(request.scope).csrf_token if identity.method == "session" else None
    return Me(
        user_id=identity.user_id,
        email=identity.email,
        name=identity.name,
        roles=list(identity.roles),
        permissions=sorted(identity.permissions),
        auth=identity.method,
        csrf_token=csrf if isinstance(csrf, str) else None,
    )


class IdentityController(ApiController):
    """The caller, and their dashboard session: a frontend that signed the person in with the
    identity provider turns its API token into a session, and ends it."""

    path = "/api"
    tags = ["identity and configuration"]
    dependencies = {"identity": IDENTITY, "sessions": provide(Sessions)}

    @api_get("/me", "whoAmI", "The caller's identity and permissions", problems=(401,))
    async def who_am_i(self, identity: SignedIn, request: Request[Any, Any, Any]) -> Me:
        return me(identity, request)

    @api_post(
        "/session", "startSession", "Start a dashboard session for the bearer of the API token", problems=(401, 403)
    )
    async def start_session(
        self, identity: SignedIn, sessions: NamedDependency[Sessions], request: Request[Any, Any, Any]
    ) -> Me:
        if identity.method != "bearer":
            raise ProblemException(403, "Send the API token in the Authorization header to start a session.")
        await sessions.start(request, identity, source="api-token")
        return me(identity, request)

    @api_delete(
        "/session",
        "endSession",
        "End the dashboard session (its record is deleted: the cookie is refused from now on)",
        problems=(401,),
    )
    async def end_session(self, request: Request[Any, Any, Any], sessions: NamedDependency[Sessions]) -> None:
        await sessions.end(request)


class DevTokenController(Controller):
    """Only registered with GATEWAY_DEV_SIGN_IN=true: API tokens for the demo users."""

    path = "/dev"
    include_in_schema = False
    dependencies = {"signer": provide(DevTokenSigner)}

    @post("/token/{user_id:str}", status_code=200, exclude_from_csrf=True)
    async def token(
        self, signer: NamedDependency[DevTokenSigner], user_id: Annotated[str, PathParameter(max_length=64)]
    ) -> DevToken:
        user = demo_user(user_id)
        if user is None:
            raise NotFoundException(f"No demo user {user_id}.")
        token = signer.issue(user_id=user.user_id, email=user.email, name=user.name, roles=user.roles)
        return DevToken(access_token=token, expires_in=3600)
