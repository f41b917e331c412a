"""How a JSON API route is declared: its path, its OpenAPI operation id and summary, and the
statuses of the problems it can answer (400, for a malformed request, is always documented);
other route options (guards, description) pass through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import delete, get, post, put

from graceperiod.gateway.web.commands import ACCEPTED
from graceperiod.gateway.web.problems import problem_responses

#: What any read can answer besides its data; reading one object by id may also find nothing.
READ = (401, 429, 502, 503)
READ_ONE = (401, 404, 429, 502, 503)


def api_get(path: str, operation_id: str, summary: str, *, problems: Sequence[int] = READ, **options: Any) -> get:
    return get(path, operation_id=operation_id, summary=summary, responses=problem_responses(*problems), **options)


def api_get_one(path: str, operation_id: str, summary: str, **options: Any) -> get:
    """A read of one object by its id: it may find nothing (404)."""
    return api_get(path, operation_id, summary, problems=READ_ONE, **options)


def api_post(
    path: str, operation_id: str, summary: str, *, problems: Sequence[int], accepted: bool = False, **options: Any
) -> post:
    """``accepted``: the action may answer 202, its outcome following (else 200)."""
    responses = {**(ACCEPTED if accepted else {}), **problem_responses(*problems)}
    return post(path, operation_id=operation_id, summary=summary, status_code=200, responses=responses, **options)


def api_put(path: str, operation_id: str, summary: str, *, problems: Sequence[int], **options: Any) -> put:
    return put(path, operation_id=operation_id, summary=summary, responses=problem_responses(*problems), **options)


def api_delete(path: str, operation_id: str, summary: str, *, problems: Sequence[int], **options: Any) -> delete:
    return delete(path, operation_id=operation_id, summary=summary, responses=problem_responses(*problems), **options)
