"""The per-app objects controllers get through their dependencies (web/collaborators.py)."""

from __future__ import annotations

import pytest
from litestar import Controller, Litestar, get
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from graceperiod.gateway.web.collaborators import collaborator, collaborators_state, provide


class Greeter:
    def __init__(self, word: str) -> None:
        self.word = word


class LoudGreeter(Greeter):
    pass


class Unused:
    pass


class GreetingController(Controller):
    dependencies = {"greeter": provide(Greeter)}  # noqa: RUF012

    @get("/greet")
    async def greet(self, greeter: NamedDependency[Greeter]) -> str:
        return greeter.word


async def test_a_controller_gets_the_apps_own_object() -> None:
    for word in ("hello", "bonjour"):  # two apps, each with its own object
        app = Litestar([GreetingController], state=collaborators_state(Greeter(word)))
        async with AsyncTestClient(app) as client:
            assert (await client.get("/greet")).text == word


def test_a_subclass_serves_a_request_for_its_base() -> None:
    loud = LoudGreeter("HELLO")
    assert collaborator(collaborators_state(loud, Unused()), Greeter) is loud


def test_a_missing_object_is_named() -> None:
    with pytest.raises(LookupError, match="without a Greeter"):
        collaborator(collaborators_state(Unused()), Greeter)


def test_two_objects_of_one_class_are_refused() -> None:
    with pytest.raises(ValueError, match="one collaborator per class"):
        collaborators_state(Greeter("a"), Greeter("b"))
