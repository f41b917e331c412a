"""What every dashboard page shares: the page response with the signed-in person, a part of a
page that a silent service leaves empty (with a note instead of a failure), the per-rendering
form key that makes a double-submit act once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from litestar.response import Template

from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.web.problems import ProblemException
from graceperiod.runtime.rpc import BadReply, ServiceUnavailable

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


def page(name: str, me: Identity | None, status: int = 200, **context: Any) -> Template:
    """A page of the dashboard (or the sign-in page), for ``me``, the person signed in."""
    return Template(name, context={"me": me, **context}, status_code=status)


@dataclass
class Section(Generic[T]):
    """Data for one part of a page, or why it is missing."""

    ok: bool
    value: T | None = None
    problem: str = ""
    status: int = 200
    """The HTTP status the missing part calls for (503 when its service is silent)."""


async def section(call: Awaitable[T], service: str) -> Section[T]:
    """The answer of ``call``, or a note saying why ``service`` gave none."""
    try:
        value = await call
    except ServiceUnavailable as exc:
        return Section(
            False,
            problem=f"The {service} service is not answering right now ({exc}). Try again in a minute.",
            status=503,
        )
    except BadReply:
        return Section(False, problem=f"The {service} service answered something unexpected.", status=502)
    except ProblemException as exc:
        return Section(False, problem=exc.detail, status=exc.status_code)
    return Section(True, value)


def form_key() -> str:
    """The idempotency key a form carries: one per rendering, so a double-submit acts once."""
    return uuid.uuid4().hex


def checked_key(key: str) -> str:
    key = key.strip()
    if not 8 <= len(key) <= 128 or not key.replace("-", "").isalnum():
        raise ProblemException(400, "The form is incomplete; reload the page and try again.")
    return key


@dataclass(frozen=True)
class Choice(Generic[E]):
    """A page's filter as chosen in its query string: a known value, none, or an unknown one
    that is ignored with a ``notice`` (a page never fails on a filter; the JSON API does)."""

    value: E | None
    notice: str = ""


def choice(raw: str, choices: type[E], *, what: str, labels: dict[E, str] | None = None) -> Choice[E]:
    """``raw`` (the query string's value, "" for none) as one of ``choices``."""
    raw = raw.strip()
    if not raw:
        return Choice(None)
    try:
        return Choice(choices(raw))
    except ValueError:
        names = ", ".join((labels or {}).get(c, c.value) for c in choices)
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        return Choice(None, f"“{shown}” is not a {what} ({names}), so it was ignored: showing every {what}.")
