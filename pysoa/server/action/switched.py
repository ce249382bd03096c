"""`SwitchedAction`: one action name whose code is chosen per request by the request's switches.

A subclass lists `(switch, action)` pairs in `switch_to_action_map`. The first pair whose switch is
active in the request wins; when none is, the pair whose switch is `SwitchedAction.DEFAULT_ACTION`
runs, or else the last pair. The map is checked once, when the subclass is defined.
"""

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final

from pysoa.common.types import ActionResponse
from pysoa.server.types import ActionType, EnrichedActionRequest, get_switch, is_switch

if TYPE_CHECKING:
    from pysoa.server.settings import ServerSettings

__all__ = ('SwitchedAction',)


class _DefaultActionMarker:
    """The type of `SwitchedAction.DEFAULT_ACTION`; it is never active in any request."""

    __slots__ = ()

    def __int__(self) -> int:
        # Lets the marker pass `is_switch` as it did in 1.x; dispatch never tests it against a request.
        return -1

    def __repr__(self) -> str:
        return 'SwitchedAction.DEFAULT_ACTION'


_DEFAULT_ACTION: Final = _DefaultActionMarker()

_MAP_ERROR = (
    'Class attribute switch_to_action_map must be a sized iterable of at least two pairs, each a switch (an int-like '
    'value, an object whose `value` is int-like, or SwitchedAction.DEFAULT_ACTION) and an action (a callable).'
)


@dataclasses.dataclass(frozen=True, slots=True)
class _Dispatch:
    # Held in an instance, not as bare class attributes, so that plain functions are never bound as methods.
    switched: tuple[tuple[int, ActionType], ...]
    default: ActionType


def _is_pair(item: Any) -> bool:
    try:
        switch, action = item[0], item[1]
        return len(item) == 2 and (switch is _DEFAULT_ACTION or is_switch(switch)) and callable(action)
    except (TypeError, LookupError):
        return False


def _check_map(switch_map: Any) -> None:
    try:
        if len(switch_map) < 2 or isinstance(switch_map, str | bytes | dict):
            raise ValueError(_MAP_ERROR)
        items = list(switch_map)
    except TypeError:
        raise ValueError(_MAP_ERROR)
    if not all(_is_pair(item) for item in items):
        raise ValueError(_MAP_ERROR)


class SwitchedAction:
    """An action that defers, per request, to the first action in `switch_to_action_map` whose switch is active."""

    DEFAULT_ACTION: ClassVar[_DefaultActionMarker] = _DEFAULT_ACTION
    """Marker to use as the switch of the action that runs when no other switch is active."""

    switch_to_action_map: ClassVar[Sequence[tuple[Any, ActionType]]] = ()
    """The `(switch, action)` pairs, in priority order; at least two of them."""

    # Resolved once per subclass so dispatch on each request is a plain scan of int switches.
    _dispatch: ClassVar['_Dispatch']

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Check `switch_to_action_map` when the subclass is defined, so mistakes fail at import time."""
        super().__init_subclass__(**kwargs)
        if cls.DEFAULT_ACTION is not _DEFAULT_ACTION:
            raise TypeError('Overriding SwitchedAction.DEFAULT_ACTION is not permitted')
        _check_map(cls.switch_to_action_map)

        switched: list[tuple[int, ActionType]] = []
        default: ActionType | None = None
        for switch, action in cls.switch_to_action_map:
            if switch is _DEFAULT_ACTION:
                default = action  # as in 1.x, the last explicit default wins
            else:
                switched.append((get_switch(switch), action))
        cls._dispatch = _Dispatch(tuple(switched), default if default is not None else cls.switch_to_action_map[-1][1])

    def __init__(self, settings: 'ServerSettings | None' = None) -> None:
        """Keep the server settings, which are handed to whichever action runs."""
        if type(self) is SwitchedAction:
            raise TypeError('Cannot instantiate abstract SwitchedAction: subclass it and define switch_to_action_map')
        self.settings = settings

    def get_uninitialized_action(self, action_request: EnrichedActionRequest) -> ActionType:
        """Return the action (class or factory, not yet constructed) that the request's switches select."""
        switches = action_request.switches
        dispatch = self._dispatch
        for switch, action in dispatch.switched:
            if switches.is_active(switch):
                return action
        return dispatch.default

    def __call__(self, action_request: EnrichedActionRequest) -> ActionResponse:
        """Build the selected action with the server settings and run it on the request."""
        return self.get_uninitialized_action(action_request)(self.settings)(action_request)
