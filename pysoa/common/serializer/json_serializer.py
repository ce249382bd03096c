"""JSON serializer (`application/json`): compact UTF-8 JSON, for peers that cannot speak MessagePack.

JSON has no bytes, dates, decimals, amounts or sets: such values raise InvalidField naming the
type and where it is. Tuples become lists; non-string keys become strings (as `json` does).
"""

import json
from typing import Any

from pysoa.common.serializer.base import Serializer, locate_unencodable, too_deeply_nested, type_name
from pysoa.common.serializer.errors import InvalidField, InvalidMessage
from pysoa.schema import fields

__all__ = ('JSONSerializer',)

_ENCODABLE: tuple[type, ...] = (str, int, float, bool, type(None))

# One encoder for every call: json.dumps() with non-default options builds a new one each time.
# JSONEncoder.encode keeps no state between calls, so sharing it across threads is safe.
# ensure_ascii keeps the output valid UTF-8 even for strings holding lone surrogates.
_ENCODER = json.JSONEncoder(separators=(',', ':'), ensure_ascii=True, check_circular=True)


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary({}, description='The JSON serializer takes no constructor arguments'),
)
class JSONSerializer(Serializer):
    """Serializes messages to and from JSON."""

    mime_type = 'application/json'

    def dict_to_blob(self, message_dict: dict[Any, Any]) -> bytes:
        """Serialize a message dict to compact JSON bytes."""
        if not isinstance(message_dict, dict):
            raise ValueError(f'Input must be a dict, not {type_name(type(message_dict))}')
        try:
            return _ENCODER.encode(message_dict).encode('utf-8')
        except (TypeError, ValueError, RecursionError) as error:
            raise InvalidField(
                f"Can't serialize message to JSON: {error}{locate_unencodable(message_dict, _ENCODABLE)}"
            ) from error

    def blob_to_dict(self, blob: bytes) -> dict[Any, Any]:
        """Deserialize JSON bytes (or text) to a message dict."""
        try:
            message = json.loads(blob)
        except (TypeError, ValueError, RecursionError) as error:
            raise InvalidMessage(f"Can't deserialize JSON message: {type(error).__name__}: {error}") from error
        if not isinstance(message, dict):
            raise InvalidMessage(f"Can't deserialize JSON message: expected an object, got {type_name(type(message))}")
        limit = self.MAXIMUM_NESTING_DEPTH
        # Every array or object starts with a bracket (some brackets are inside strings: an upper bound).
        containers_at_most = blob.count(b'[') + blob.count(b'{') if isinstance(blob, bytes) else len(blob)
        if too_deeply_nested(message, limit, containers_at_most):
            raise InvalidMessage(f"Can't deserialize JSON message: nested deeper than {limit} levels")
        return message
