"""The emulators' control API plumbing (``servers.emulators.ControlApi``): routes under
``/_emulator``, the common ones included (health, reset and the clock answered by it); an
unknown route a 404, input a handler refuses a 400 that says what was wrong, an emulator's
extra refusals too; the handler runs inside the emulator's ``serialised()`` block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from graceperiod.devstack.servers.emulators import ControlApi, json_response
from graceperiod.runtime.clock import AdjustableClock


class State:
    def __init__(self) -> None:
        self.clock = AdjustableClock()
        self.inside = False
        self.resets = 0

    def now(self) -> datetime:
        return self.clock.now()

    def set_clock(
        self, *, now: datetime | None = None, offset_seconds: float | None = None, real: bool = False
    ) -> None:
        self.clock.set(now=now, offset_seconds=offset_seconds, real=real)

    def reset(self) -> None:
        self.resets += 1


class Sample(ControlApi[State]):
    refused = (*ControlApi.refused, ArithmeticError)

    def __init__(self, state: State) -> None:
        super().__init__(state, [("/things/<thing_id>", "thing", ["GET"]), ("/locked", "locked", ["GET"])])

    @contextlib.contextmanager
    def serialised(self) -> Iterator[None]:
        self.emulator.inside = True
        try:
            yield
        finally:
            self.emulator.inside = False

    def _locked(self, request: Request) -> Response:
        return json_response({"locked": self.emulator.inside})

    def _thing(self, request: Request, thing_id: str) -> Response:
        if thing_id == "zero":
            return json_response({"ratio": 1 / 0})
        return json_response({"id": int(thing_id)})


def call(path: str, method: str = "GET", body: Any = None, state: State | None = None) -> tuple[int, Any]:
    app = Sample(state or State())
    client = Client(lambda environ, start: app(Request(environ))(environ, start))
    response = client.open(path, method=method, json=body)
    return response.status_code, response.get_json()


def test_a_route_reaches_its_handler_inside_the_emulators_block() -> None:
    assert call("/_emulator/locked") == (200, {"locked": True})
    assert call("/_emulator/things/7") == (200, {"id": 7})


def test_the_common_routes_answer_health_reset_and_the_clock() -> None:
    state = State()
    assert call("/_emulator/clock", "POST", {"now": "2026-03-01T12:00:00Z"}, state) == (
        200,
        {"now": "2026-03-01T12:00:00+00:00", "frozen": True},
    )
    assert state.now() == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert call("/_emulator/health", state=state) == (200, {"ok": True, "now": "2026-03-01T12:00:00+00:00"})
    assert call("/_emulator/reset", "POST", state=state) == (200, {"ok": True})
    assert state.resets == 1
    assert call("/_emulator/clock", "POST", {"real": True}, state)[1]["frozen"] is False


def test_an_unknown_route_is_a_404_naming_it() -> None:
    assert call("/_emulator/nothing") == (404, {"error": "no control route GET /_emulator/nothing"})
    status, _ = call("/_emulator/health", method="DELETE")  # a route, not with that method
    assert status == 405


def test_input_the_handler_refuses_is_a_400_saying_what_was_wrong() -> None:
    assert call("/_emulator/things/seven") == (
        400,
        {"error": "ValueError: invalid literal for int() with base 10: 'seven'"},
    )
    assert call("/_emulator/things/zero") == (400, {"error": "ZeroDivisionError: division by zero"})
