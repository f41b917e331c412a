"""Errors as RFC 9457 problem details (JSON API) or friendly pages (browser), never a trace.

* A service's refusal (a reply with a ``problem``) becomes :class:`ProblemException` with the
  status of its error code (:data:`STATUS_FOR_CODE`).
* A service that does not answer becomes 503 with ``Retry-After``; an unexpected answer 502.
* Everything unexpected becomes 500 with the request id to quote, and is logged in full.

Which form is used: pages (routes with ``opt={"page": ...}``) and browsers asking for HTML
outside ``/api`` get HTML; everything else gets ``application/problem+json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final, TypeVar
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field

from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.web.request_ids import request_id_of
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.rpc import BadReply, ServiceUnavailable

log = get_logger("graceperiod.gateway.errors")

PROBLEM_JSON: Final = "application/problem+json"

#: How a service's error code maps to HTTP. ``unavailable`` is 409, not 424: the purchase or
#: account is in a state (no support plan, role lacking actions) in which the action cannot
#: be offered; the request was fine and repeating it will not help until that state
#: changes, which is what 409 says. 424 (WebDAV's Failed Dependency) is about a failed
#: earlier request in the same operation, and generic clients do not know it.
STATUS_FOR_CODE: Final[Mapping[ErrorCode, int]] = {
    ErrorCode.INVALID: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAVAILABLE: 409,
    ErrorCode.FAILED: 502,
}

_SLUGS: Final[Mapping[int, str]] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    429: "rate-limited",
    500: "internal",
    502: "bad-gateway",
    503: "service-unavailable",
}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with a human ``detail`` and the request id to quote."""

    type: str = Field(description="A URI naming the kind of problem: urn:graceperiod:problem:<slug>.")
    title: str
    status: int
    detail: str = Field(description="What went wrong, for people.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = None
    code: str | None = Field(default=None, description="The owning service's error code, when it refused.")
    service: str | None = Field(default=None, description="The service concerned.")
    errors: list[dict[str, Any]] | None = Field(default=None, description="Invalid fields, for 400.")


class ProblemException(HTTPException):
    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        code: str | None = None,
        service: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=headers)
        self.code = code
        self.service = service


def refused(problem: Problem, service: str) -> ProblemException:
    return ProblemException(STATUS_FOR_CODE[problem.code], problem.message, code=problem.code, service=service)


ReplyT = TypeVar("ReplyT")


def ensure_ok(reply: ReplyT, service: str) -> ReplyT:
    """Raise the reply's problem, if it has one; else return the reply."""
    problem = getattr(reply, "problem", None)
    if isinstance(problem, Problem):
        raise refused(problem, service)
    return reply


def _slug(status: int, code: str | None) -> str:
    return code or _SLUGS.get(status, "error")


def _describe(exc: Exception) -> tuple[int, str, dict[str, str], dict[str, Any]]:
    """Status, human detail, headers and extra members for any exception."""
    extra: dict[str, Any] = {}
    if isinstance(exc, ServiceUnavailable):
        detail = (
            f"The {exc.service} service is not answering right now ({exc}). Nothing is lost: "
            "try again in a minute. An action you sent is queued and will be carried out when the service "
            "is back; repeating it with the same Idempotency-Key is safe."
        )
        return 503, detail, {"Retry-After": "10"}, {"service": exc.service}
    if isinstance(exc, BadReply):
        return 502, "A service gave an answer the gateway does not understand; please report this.", {}, extra
    if isinstance(exc, ProblemException):
        extra = {"code": exc.code, "service": exc.service}
        return exc.status_code, exc.detail, dict(exc.headers or {}), extra
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else None
        extra = {"errors": errors} if errors else {}
        detail = exc.detail or "The request is not valid."
        if errors:
            detail += ": " + "; ".join(
                f"{e.get('key') or e.get('source') or 'body'}: {e.get('message')}" for e in errors[:5]
            )
        return 400, detail, dict(exc.headers or {}), extra
    if isinstance(exc, HTTPException):
        detail = exc.detail
        if isinstance(exc, PermissionDeniedException) and detail == "CSRF token verification failed":
            detail = "The form's security token is missing or expired. Reload the page and try again."
        if isinstance(exc, TooManyRequestsException):
            detail = "Too many requests from your address. Wait a minute and try again."
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this address."
        return exc.status_code, detail, dict(exc.headers or {}), extra
    return 500, "Something went wrong on our side. Quote the request id if you report it.", {}, extra


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    handler = request.scope.get("route_handler")
    page = getattr(handler, "opt", {}).get("page") if handler is not None else None
    if page:
        return True
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, detail, headers, extra = _describe(exc)
    request_id = request_id_of(request.scope)
    if status >= 500 and status not in (502, 503):
        log.error("unhandled error", path=request.url.path, request_id=request_id, exc_info=exc)
    elif status >= 500:
        log.warning("dependency failure", path=request.url.path, status=status, error=str(exc))
    if _wants_html(request):
        handler = request.scope.get("route_handler")
        page = getattr(handler, "opt", {}).get("page") if handler is not None else None
        if isinstance(exc, NotAuthorizedException) and page == "dashboard":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return Redirect(f"/sign-in?next={quote(target, safe='/')}", status_code=303)
        headers.pop("WWW-Authenticate", None)
        if isinstance(exc, ValidationException):
            status, detail = in_words(exc, request.scope.get("path_params") or {})
        return error_page(request, status, detail, request_id=request_id, page=page, headers=headers)
    body = ProblemDetails(
        type=f"urn:graceperiod:problem:{_slug(status, extra.get('code'))}",
        title=HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error",
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request_id,
        **{k: v for k, v in extra.items() if v is not None},
    )
    return Response(body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=PROBLEM_JSON)


def error_page(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    request_id: str,
    page: str | None,
    headers: dict[str, str] | None = None,
) -> Template:
    """An error as a page of the dashboard: its navigation, and who is signed in when known."""
    user = request.scope.get("user")
    return Template(
        "error.html",
        context={
            "me": user if isinstance(user, Identity) else None,
            "status": status,
            "title": HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error",
            "detail": detail,
            "request_id": request_id,
            "page": page,
        },
        status_code=status,
        headers=headers,
    )


#: What a page's path parameter names, in words: (the thing, what its id looks like).
PATH_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "purchase_id": ("purchase", "a purchase id is made of letters, digits and . _ : @ / + = -"),
    "account_id": ("account", "an AWS account id is 12 digits"),
}


def in_words(exc: ValidationException, path_params: Mapping[str, Any]) -> tuple[int, str]:
    """A page's invalid request, said for people (status, detail): an id in the address that
    cannot exist is not found; anything else names what is wrong, never a pattern."""
    errors = exc.extra if isinstance(exc.extra, list) else []
    keys = [str(e.get("key")) for e in errors if isinstance(e, dict) and e.get("key")]
    for key in keys:
        if key in PATH_WORDS and key in path_params:
            thing, rule = PATH_WORDS[key]
            value = str(path_params[key])
            shown = value if len(value) <= 60 else value[:60] + "…"
            return 404, f"There is no {thing} “{shown}”: {rule}."
    if keys:
        return 400, f"This page cannot use the {', '.join(dict.fromkeys(keys))} it was given. Go back and try again."
    return 400, exc.detail or "This page cannot use what it was given. Go back and try again."


def problem_responses(*statuses: int) -> dict[int, Any]:
    """OpenAPI documentation of the problem responses a route can give (400 always: any
    malformed parameter, header or body)."""
    from litestar.openapi.datastructures import ResponseSpec  # noqa: PLC0415

    statuses = tuple(sorted({400, *statuses}))
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=_RESPONSE_TEXT.get(status, HTTPStatus(status).phrase),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


_RESPONSE_TEXT: Final[Mapping[int, str]] = {
    400: "The request is malformed (bad parameter, body or content type).",
    401: "No valid session or API token.",
    403: "The caller lacks the permission for this action or object.",
    404: "Nothing with that id, or the caller may not know of it.",
    409: "The object's state does not allow the action (window closed, no support plan, ...).",
    413: "The body is too large.",
    422: "The owning service found the request invalid.",
    429: "Too many requests; slow down.",
    502: "The action was attempted and failed, or a service answered unexpectedly.",
    503: "The owning service did not answer in time; try again (Retry-After).",
}
