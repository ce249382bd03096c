"""The serializer seam: a message dict to bytes and back, chosen by MIME type.

Concrete serializers register themselves by defining `mime_type` in their class body;
`Serializer.resolve_serializer(mime_type)` then finds them (the transports use it to answer
each request in the format it came in).

Received messages are untrusted: `too_deeply_nested` bounds how deeply their maps and lists may nest
(`Serializer.MAXIMUM_NESTING_DEPTH`), because every walk over a message afterwards (validation, redaction,
logging) recurses, and a few kilobytes of `[[[[...` must not reach those walks unbounded.
"""

import abc
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

__all__ = ('Serializer',)


class Serializer(abc.ABC):
    """Base class of all serializers; subclasses set `mime_type` and implement the two conversions."""

    mime_type: ClassVar[str]
    all_supported_mime_types: ClassVar[frozenset[str]] = frozenset()

    MAXIMUM_NESTING_DEPTH: ClassVar[int] = 1000
    """How deeply maps and lists may nest in a received message (the envelope itself is depth 1).

    Just under msgpack's own stack (1024), so that both serializers refuse at the same depth; 1.x peers are known
    to send requests some 900 levels deep, which must still be served.
    """

    _registry: ClassVar[dict[str, type['Serializer']]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # Only a class that declares its own MIME type registers: an abstract intermediate class or a
        # user's tweaked subclass of a concrete serializer inherits the type without claiming it.
        if 'mime_type' not in cls.__dict__:
            return
        mime_type = cls.__dict__['mime_type']
        if not isinstance(mime_type, str) or not mime_type.strip():
            raise ValueError(f'Serializer {cls.__qualname__} must have a non-blank string mime_type')
        existing = Serializer._registry.get(mime_type)
        if existing is not None and existing is not cls:
            raise ValueError(
                f'Serializer {existing.__module__}.{existing.__qualname__} already handles mime type {mime_type!r}'
            )
        Serializer._registry[mime_type] = cls
        Serializer.all_supported_mime_types = frozenset(Serializer._registry)

    @classmethod
    def resolve_serializer(cls, mime_type: str) -> 'Serializer':
        """Return a new instance of the serializer registered for `mime_type` (ValueError if there is none)."""
        try:
            serializer_class = Serializer._registry[mime_type]
        except (KeyError, TypeError):
            raise ValueError(f'Mime type {mime_type!r} is not supported') from None
        return serializer_class()

    @abc.abstractmethod
    def dict_to_blob(self, message_dict: dict[Any, Any]) -> bytes:
        """Serialize a message dict to bytes (InvalidField if a value cannot be encoded)."""

    @abc.abstractmethod
    def blob_to_dict(self, blob: bytes) -> dict[Any, Any]:
        """Deserialize bytes to a message dict (InvalidMessage if they cannot be decoded)."""


def too_deeply_nested(message: object, limit: int, containers_at_most: int) -> bool:
    """Whether maps and lists nest more than `limit` deep in `message`.

    `containers_at_most` is an upper bound on how many containers the message holds (a count of the bytes that
    can start one, cheap for a serializer to take): at most `limit` of them cannot nest deeper, which spares
    the walk for nearly every message.
    """
    if containers_at_most <= limit:
        return False
    stack: list[tuple[object, int]] = [(message, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        assert isinstance(children, Iterable)  # only dicts and lists are pushed
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def type_name(value_type: type) -> str:
    """Name a type for an error message: bare for builtins, dotted otherwise."""
    if value_type.__module__ == 'builtins':
        return value_type.__qualname__
    return f'{value_type.__module__}.{value_type.__qualname__}'


def locate_unencodable(message: object, encodable: tuple[type, ...]) -> str:
    """Return ' (TYPE at PATH)' for the first value that is no instance of `encodable`, or '' if none is found.

    Called only after encoding failed, so its cost is off the hot path.
    """
    try:
        found = _find(message, encodable, '')
    except RecursionError:
        return ''
    if found is None:
        return ''
    path, bad_type = found
    return f' (value of type {type_name(bad_type)} at {path or "(top level)"})'


def _find(value: object, encodable: tuple[type, ...], path: str) -> tuple[str, type] | None:
    if isinstance(value, dict):
        items: Iterator[tuple[str, object]] = ((f'{path}.{k}' if path else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f'{path}[{i}]', v) for i, v in enumerate(value))
    elif isinstance(value, encodable):
        return None
    else:
        return path, type(value)
    for sub_path, item in items:
        found = _find(item, encodable, sub_path)
        if found is not None:
            return found
    return None
