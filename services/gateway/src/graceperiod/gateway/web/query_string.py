"""The query-string rules the OpenAPI document states, enforced before Litestar parses it.

* Every query parameter takes one value: a repeated one is refused. Without this check
  Litestar silently keeps one of the values (``?status=Cooldown&status=Active`` would list the
  Active accounts), answering another question than the one asked. No route of the gateway
  takes a list in the query string.
* ``null`` is not a value: an optional parameter is left out. Litestar's lenient conversion
  would read ``?phase=null`` as "no phase" for an optional parameter while the document
  declares a string; no parameter of the gateway has ``null`` among its values (enums, account
  ids, booleans, numbers, and cursors that the services issue), so the literal is refused.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.exceptions import ValidationException

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send


def query_string_errors(query_string: bytes) -> list[dict[str, Any]]:
    """What breaks the rules in ``query_string``: one error per offending parameter name."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    counts = Counter(name for name, _ in pairs)
    errors: dict[str, str] = {name: "given more than once; give it at most once" for name, n in counts.items() if n > 1}
    for name, value in pairs:
        if value.strip().lower() == "null" and name not in errors:
            errors[name] = "null is not a value; leave the parameter out instead"
    return [{"key": name, "source": "query", "message": message} for name, message in errors.items()]


class StrictQueryStringMiddleware:
    """Answers 400 (problem details naming each parameter and why) when the rules are broken."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and (errors := query_string_errors(scope.get("query_string", b""))):
            raise ValidationException("The query string is not valid", extra=errors)
        await self.app(scope, receive, send)
