"""The objects the composition root builds once per app (the features' services, the link-token
verifier, the settings), kept in the app's state by their class, and the dependency through
which a controller asks for one: ``dependencies = {"purchases": provide(PurchaseService)}``."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from litestar.datastructures import State
from litestar.di import Provide

T = TypeVar("T")

_KEY = "graceperiod.gateway.collaborators"


def collaborators_state(*objects: object) -> State:
    """The app's state holding ``objects``, one per class."""
    by_class = {type(item): item for item in objects}
    if len(by_class) != len(objects):
        msg = "one collaborator per class"
        raise ValueError(msg)
    return State({_KEY: by_class})


def collaborator(state: State, kind: type[T]) -> T:
    by_class: dict[type, Any] = state[_KEY]
    found = by_class.get(kind) or next((item for item in by_class.values() if isinstance(item, kind)), None)
    if found is None:
        msg = f"the app was built without a {kind.__name__}"
        raise LookupError(msg)
    return cast(T, found)


def provide(kind: type[T]) -> Provide:
    """A controller dependency handing out the app's ``kind``."""

    def from_state(state: State) -> T:
        return collaborator(state, kind)

    return Provide(from_state, sync_to_thread=False)


def provide_optional(kind: type[T]) -> Provide:
    """Like :func:`provide`, for an object the app may be built without (then None)."""

    def from_state(state: State) -> T | None:
        try:
            return collaborator(state, kind)
        except LookupError:
            return None

    return Provide(from_state, sync_to_thread=False)
