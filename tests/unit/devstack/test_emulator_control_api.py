"""The emulators' control API plumbing (``servers.emulators.ControlApi``): routes under
``/_emulator``, the common ones included; an unknown route a 404, input a handler refuses a 400
that says what was wrong, an emulator's extra refusals too; the handler runs inside the
emulator's ``serialised()`` block."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from graceperiod.devstack.servers.emulators import ControlApi, json_response


class Sample(ControlApi):
    refused = (*ControlApi.refused, ArithmeticError)

    def __init__(self) -> None:
        super().__init__([("/things/<thing_id>", "thing", ["GET"])])
        self.lock = threading.Lock()

    def serialised(self) -> AbstractContextManager[object]:
        return self.lock

    def _health(self, request: Request) -> Response:
        return json_response({"ok": True, "locked": self.lock.locked()})

    def _thing(self, request: Request, thing_id: str) -> Response:
        if thing_id == "zero":
            return json_response({"ratio": 1 / 0})
        return json_response({"id": int(thing_id)})


def call(path: str, method: str = "GET") -> tuple[int, Any]:
    app = Sample()
    response = Client(lambda environ, start: app(Request(environ))(environ, start)).open(path, method=method)
    return response.status_code, response.get_json()


def test_a_route_reaches_its_handler_inside_the_emulators_block() -> None:
    assert call("/_emulator/health") == (200, {"ok": True, "locked": True})
    assert call("/_emulator/things/7") == (200, {"id": 7})


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
