"""Which serializer writes a message, and which reads one: the configured default, or the one a message names."""

import logging
from typing import Any, TypedDict, cast

from pysoa.common.serializer.base import Serializer
from pysoa.schema.fields import PythonPath

__all__ = ('SerializerChoice', 'SerializerConfig', 'serializer_from_config')

_logger = logging.getLogger(__name__)


class SerializerConfig(TypedDict, total=False):
    object: type[Serializer]
    path: str
    kwargs: dict[str, Any]


"""`default_serializer_config`: the class (`object`, as validated settings give it) or its `path`, and `kwargs`."""


def serializer_from_config(config: SerializerConfig) -> Serializer:
    """Instantiate a serializer from `{'object': class}` (validated settings) or `{'path': 'module:Class'}`."""
    serializer_class = config.get('object')
    if serializer_class is None:
        path = config.get('path')
        if not path:
            raise ValueError("default_serializer_config needs an 'object' or a 'path'")
        serializer_class = cast('type[Serializer]', PythonPath.resolve_python_path(path))
    serializer: Serializer = serializer_class(**(config.get('kwargs') or {}))
    return serializer


class SerializerChoice:
    """The default serializer (built on first use) and a cache of the serializers found by content type."""

    def __init__(self, default_config: SerializerConfig, service_name: str) -> None:
        self._default_config = default_config
        self._service_name = service_name
        self._default: Serializer | None = None
        self._by_mime_type: dict[str, Serializer] = {}

    @property
    def default(self) -> Serializer:
        """The serializer for messages this side originates, and for received messages without a content type."""
        if self._default is None:
            self._default = serializer_from_config(self._default_config)
        return self._default

    def for_content_type(self, mime_type: str | None) -> Serializer:
        """The serializer that reads a message of this content type (None: the message names none)."""
        if mime_type is None:
            return self.default
        serializer = self._by_mime_type.get(mime_type)
        if serializer is None:
            default = self.default
            if getattr(default, 'mime_type', None) == mime_type:
                serializer = default
            elif mime_type in Serializer.all_supported_mime_types:
                serializer = Serializer.resolve_serializer(mime_type)
            else:
                # An unknown content type is read with the default serializer, as 1.x peers do; a peer that sends
                # one is misconfigured, so say so (when its payload is not what the default reads, an error follows).
                _logger.warning(
                    'Unknown content type %r in a message for service %s; reading it as %s',
                    mime_type,
                    self._service_name,
                    default.mime_type,
                )
                return default
            self._by_mime_type[mime_type] = serializer
        return serializer
