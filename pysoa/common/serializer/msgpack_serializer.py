"""MessagePack serializer (`application/msgpack`), byte-compatible with PySOA 1.x peers.

Strings travel as str, bytes as bin, tuples as arrays. Extension types (every payload big-endian):

====  ==========================  =============================================================
code  Python value                payload
====  ==========================  =============================================================
1     naive `datetime`            int64 microseconds since 1970-01-01 00:00 (naive)
10    UTC `datetime`              int64 microseconds since the UTC epoch
2     `currint.Amount`            3 ASCII bytes currency code + int64 minor units
3     `date`                      uint16 year, uint8 month, uint8 day
4     `time`                      uint8 hour, minute, second + uint32 microsecond (no tzinfo)
5     `Decimal`                   uint16 length + UTF-8 of `str(value)`
====  ==========================  =============================================================

Decoded UTC datetimes carry `pytz.UTC` when pytz is installed (what PySOA 1.x peers produce and
their users compare against), else `datetime.timezone.utc`.
"""

import datetime
import decimal
import struct
from collections.abc import Callable
from typing import Any

import currint
import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information

from pysoa.common.serializer.base import Serializer, locate_unencodable, too_deeply_nested, type_name
from pysoa.common.serializer.errors import InvalidField, InvalidMessage
from pysoa.schema import fields

__all__ = ('MsgpackSerializer',)

try:
    import pytz  # type: ignore[import-untyped,import-not-found,unused-ignore]  # optional; stubs are separate
except ImportError:  # pragma: no cover - depends on the environment
    _DECODED_UTC: datetime.tzinfo = datetime.UTC
else:
    _DECODED_UTC = pytz.UTC

# Extension type codes on the wire (see the table above).
EXT_DATETIME = 1
EXT_CURRINT = 2
EXT_DATE = 3
EXT_TIME = 4
EXT_DECIMAL = 5
EXT_DATETIME_UTC = 10

_INT64 = struct.Struct('>q')
_DATE = struct.Struct('>HBB')
_TIME = struct.Struct('>BBBI')
_CURRINT = struct.Struct('>3sq')
_UINT16 = struct.Struct('>H')
_MAX_DECIMAL_LENGTH = 0xFFFF

# The bytes that start a map or an array (fixmap, fixarray, array 16/32, map 16/32); the others are deleted to
# count them. Counting never misses a container (some of these bytes are inside strings: an upper bound).
_NOT_CONTAINER_BYTES = bytes(b for b in range(256) if not (0x80 <= b <= 0x9F or 0xDC <= b <= 0xDF))

_NAIVE_EPOCH = datetime.datetime(1970, 1, 1)
_UTC_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_ONE_MICROSECOND = datetime.timedelta(microseconds=1)
_ZERO = datetime.timedelta(0)

# Zone names that have meant UTC+0 forever (no DST, no history), whatever library supplies them.
_UTC_ZONE_NAMES = frozenset(
    {
        'UTC',
        'Etc/UTC',
        'UCT',
        'Etc/UCT',
        'Universal',
        'Etc/Universal',
        'Zulu',
        'Etc/Zulu',
        'GMT',
        'Etc/GMT',
        'Etc/GMT0',
        'Etc/GMT+0',
        'Etc/GMT-0',
        'Etc/Greenwich',
        'Greenwich',
    }
)

# What msgpack encodes natively, plus what `_default` turns into extension types; used only to
# locate the offending value in an error message.
_ENCODABLE: tuple[type, ...] = (
    str,
    bytes,
    bytearray,
    memoryview,
    int,
    float,
    bool,
    type(None),
    datetime.date,
    datetime.time,
    decimal.Decimal,
    currint.Amount,
)


def _is_utc(tz: datetime.tzinfo) -> bool:
    if tz is datetime.UTC or tz is _DECODED_UTC:
        return True
    if isinstance(tz, datetime.timezone):
        return tz.utcoffset(None) == _ZERO
    # pytz zones name themselves in `zone`, zoneinfo in `key`.
    name = getattr(tz, 'zone', None) or getattr(tz, 'key', None)
    return isinstance(name, str) and name in _UTC_ZONE_NAMES


def _encode_datetime(value: datetime.datetime) -> msgpack.ExtType:
    tz = value.tzinfo
    if tz is None or value.utcoffset() is None:
        code, epoch = EXT_DATETIME, _NAIVE_EPOCH
        value = value.replace(tzinfo=None)
    elif _is_utc(tz):
        code, epoch = EXT_DATETIME_UTC, _UTC_EPOCH
    else:
        raise InvalidField(
            f'Cannot serialize a datetime with time zone {tz!r} to MessagePack: only naive and UTC datetimes are '
            'supported (convert it with .astimezone(datetime.timezone.utc))'
        )
    # timedelta // timedelta is exact integer arithmetic: no float rounding of far-off dates.
    return msgpack.ExtType(code, _INT64.pack((value - epoch) // _ONE_MICROSECOND))


def _encode_date(value: datetime.date) -> msgpack.ExtType:
    return msgpack.ExtType(EXT_DATE, _DATE.pack(value.year, value.month, value.day))


def _encode_time(value: datetime.time) -> msgpack.ExtType:
    return msgpack.ExtType(EXT_TIME, _TIME.pack(value.hour, value.minute, value.second, value.microsecond))


def _encode_decimal(value: decimal.Decimal) -> msgpack.ExtType:
    text = str(value).encode('utf-8')
    if len(text) > _MAX_DECIMAL_LENGTH:
        raise InvalidField(
            f'Cannot serialize a Decimal of {len(text)} characters to MessagePack (at most {_MAX_DECIMAL_LENGTH})'
        )
    return msgpack.ExtType(EXT_DECIMAL, _UINT16.pack(len(text)) + text)


def _encode_amount(value: currint.Amount) -> msgpack.ExtType:
    code = value.currency.code.upper().encode('ascii', 'replace')
    if len(code) != 3:
        raise InvalidField(f'Cannot serialize an Amount with currency code {value.currency.code!r} to MessagePack')
    try:
        return msgpack.ExtType(EXT_CURRINT, _CURRINT.pack(code, value.value))
    except struct.error:
        raise InvalidField(f'Cannot serialize an Amount of {value.value} minor units to MessagePack (not int64)')


# Each encoder takes the exact type it is filed under, which a dict's value type cannot say: hence `Any`.
_ENCODERS: dict[type, Callable[[Any], msgpack.ExtType]] = {
    datetime.datetime: _encode_datetime,
    datetime.date: _encode_date,
    datetime.time: _encode_time,
    decimal.Decimal: _encode_decimal,
    currint.Amount: _encode_amount,
}


def _default(value: object) -> msgpack.ExtType:
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    # Subclasses take the slow path; datetime comes before date because it is a date.
    if isinstance(value, datetime.datetime):
        return _encode_datetime(value)
    if isinstance(value, datetime.date):
        return _encode_date(value)
    if isinstance(value, datetime.time):
        return _encode_time(value)
    if isinstance(value, decimal.Decimal):
        return _encode_decimal(value)
    if isinstance(value, currint.Amount):
        return _encode_amount(value)
    raise TypeError(f'Cannot serialize a value of type {type_name(type(value))} to MessagePack')


def _decode_datetime(data: bytes) -> datetime.datetime:
    (microseconds,) = _INT64.unpack(data)
    return _NAIVE_EPOCH + datetime.timedelta(microseconds=microseconds)


def _decode_datetime_utc(data: bytes) -> datetime.datetime:
    return _decode_datetime(data).replace(tzinfo=_DECODED_UTC)


def _decode_date(data: bytes) -> datetime.date:
    return datetime.date(*_DATE.unpack(data))


def _decode_time(data: bytes) -> datetime.time:
    return datetime.time(*_TIME.unpack(data))


def _decode_decimal(data: bytes) -> decimal.Decimal:
    (length,) = _UINT16.unpack_from(data)
    if len(data) != length + _UINT16.size:
        raise ValueError(f'declared length {length} does not match the {len(data) - _UINT16.size} bytes present')
    return decimal.Decimal(data[_UINT16.size :].decode('utf-8'))


def _decode_amount(data: bytes) -> currint.Amount:
    code, minor_units = _CURRINT.unpack(data)
    return currint.Amount.from_code_and_minor(code.decode('ascii'), minor_units)


_DECODERS: dict[int, Callable[[bytes], object]] = {
    EXT_DATETIME: _decode_datetime,
    EXT_DATETIME_UTC: _decode_datetime_utc,
    EXT_DATE: _decode_date,
    EXT_TIME: _decode_time,
    EXT_DECIMAL: _decode_decimal,
    EXT_CURRINT: _decode_amount,
}


def _ext_hook(code: int, data: bytes) -> object:
    decoder = _DECODERS.get(code)
    if decoder is None:
        raise InvalidMessage(f'Cannot deserialize MessagePack: unknown extension type code {code}')
    try:
        return decoder(data)
    except Exception as error:
        raise InvalidMessage(
            f'Cannot deserialize MessagePack extension type {code} from {_preview(data)}: {error}'
        ) from error


def _preview(data: bytes) -> str:
    return data.hex() if len(data) <= 32 else f'{data[:32].hex()}... ({len(data)} bytes)'


def _new_packer() -> msgpack.Packer:
    return msgpack.Packer(default=_default, use_bin_type=True, unicode_errors='surrogatepass', datetime=False)


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary({}, description='The MessagePack serializer takes no constructor arguments'),
)
class MsgpackSerializer(Serializer):
    """Serializes messages to and from MessagePack (the default wire format)."""

    mime_type = 'application/msgpack'

    # The extension type codes, as PySOA 1.x exposed them on the class.
    EXT_CURRINT = EXT_CURRINT
    EXT_DATE = EXT_DATE
    EXT_DATETIME = EXT_DATETIME
    EXT_DATETIME_UTC = EXT_DATETIME_UTC
    EXT_DECIMAL = EXT_DECIMAL
    EXT_TIME = EXT_TIME

    # Packers keep a reusable buffer, which makes packing ~30% cheaper than `msgpack.packb`, but they
    # are not thread-safe. A shared free list gives each concurrent call (threads, or a re-entrant call
    # from a signal handler) a packer of its own; list.pop/append are atomic.
    _packers: list[msgpack.Packer] = []
    _custom_hooks = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # PySOA 1.x users added extension types by overriding these two methods; honour that (on a
        # slower path) rather than silently ignoring the override.
        cls._custom_hooks = (
            cls._default is not MsgpackSerializer._default or cls._ext_hook is not MsgpackSerializer._ext_hook
        )

    def _default(self, value: object) -> msgpack.ExtType:
        """Encode a value msgpack does not know (override and call super() to add extension types)."""
        return _default(value)

    def _ext_hook(self, code: int, data: bytes) -> object:
        """Decode an extension type (override and call super() to add extension types)."""
        return _ext_hook(code, data)

    def dict_to_blob(self, message_dict: dict[Any, Any]) -> bytes:
        """Serialize a message dict to MessagePack bytes."""
        if not isinstance(message_dict, dict):
            raise ValueError(f'Input must be a dict, not {type_name(type(message_dict))}')
        if self._custom_hooks:
            packer = msgpack.Packer(
                default=self._default,
                use_bin_type=True,
                unicode_errors='surrogatepass',
                datetime=False,
            )
            return self._pack(packer, message_dict)
        packers = self._packers
        try:
            packer = packers.pop()
        except IndexError:
            packer = _new_packer()
        try:
            return self._pack(packer, message_dict)
        finally:
            # msgpack empties the packer's buffer when packing fails, so it is safe to reuse either way.
            packers.append(packer)

    @staticmethod
    def _pack(packer: msgpack.Packer, message_dict: object) -> bytes:
        try:
            blob: bytes = packer.pack(message_dict)
        except InvalidField:
            raise
        except (TypeError, ValueError, OverflowError) as error:
            raise InvalidField(
                f"Can't serialize message: {error}{locate_unencodable(message_dict, _ENCODABLE)}"
            ) from error
        return blob

    MAXIMUM_EXTENSION_BYTES = 2 + _MAX_DECIMAL_LENGTH
    """The largest extension payload read (a Decimal's); raise it in a subclass that adds larger extension types."""

    def blob_to_dict(self, blob: bytes) -> dict[Any, Any]:
        """Deserialize MessagePack bytes to a message dict.

        The limits are explicit: no string, bytes, array or map may claim more than the message could hold (every
        item takes a byte, every map entry two), no extension more than MAXIMUM_EXTENSION_BYTES, and maps and
        lists nest at most MAXIMUM_NESTING_DEPTH deep.
        """
        size = len(blob)
        try:
            message = msgpack.unpackb(
                blob,
                max_str_len=size,
                max_bin_len=size,
                max_array_len=size,
                max_map_len=size // 2,
                max_ext_len=min(size, self.MAXIMUM_EXTENSION_BYTES),
                raw=False,
                ext_hook=self._ext_hook if self._custom_hooks else _ext_hook,
                # PySOA 1.x (msgpack 0.6) accepted non-string map keys, so peers may send them.
                strict_map_key=False,
                unicode_errors='surrogatepass',
                # The standard timestamp type (-1), which other msgpack peers may send, as an aware datetime.
                timestamp=3,
            )
        except InvalidMessage:
            raise
        except Exception as error:
            # These bytes came off the wire: whatever msgpack raises means the message is unusable.
            detail = f'{type(error).__name__}: {error}' if str(error) else f'{type(error).__name__} (not MessagePack)'
            raise InvalidMessage(f"Can't deserialize MessagePack message: {detail}") from error
        if not isinstance(message, dict):
            raise InvalidMessage(
                f"Can't deserialize MessagePack message: expected a map, got {type_name(type(message))}"
            )
        limit = self.MAXIMUM_NESTING_DEPTH
        if too_deeply_nested(message, limit, len(bytes(blob).translate(None, _NOT_CONTAINER_BYTES))):
            raise InvalidMessage(f"Can't deserialize MessagePack message: nested deeper than {limit} levels")
        return message
