"""The MessagePack serializer: wire bytes of PySOA 1.x, extension types, errors, registry, threads."""

import datetime
import decimal
import tempfile
import threading
import uuid
import zoneinfo
from collections.abc import Hashable, Iterator
from typing import Any

import currint
import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information
import pytest

from pysoa.common.errors import PySOAError
from pysoa.common.serializer import JSONSerializer, MsgpackSerializer, Serializer
from pysoa.common.serializer.errors import InvalidField, InvalidMessage, SerializationError
from pysoa.schema import fields
from pysoa.schema.error import ValidationError

UTC = datetime.UTC
MAP_V = b'\x81\xa1v'  # {'v': ...}


@pytest.fixture
def serializer() -> MsgpackSerializer:
    return MsgpackSerializer()


def round_trip(serializer: Serializer, value: Any) -> Any:
    return serializer.blob_to_dict(serializer.dict_to_blob({'v': value}))['v']


# The reference encodings of the wire contract (protocol.md §3).
REFERENCE_VECTORS = [
    (datetime.datetime(2020, 1, 2, 3, 4, 5, 678901), 'd7 01 00059b1f72314f35'),
    (datetime.date(2020, 1, 2), 'd6 03 07e40102'),
    (datetime.time(3, 4, 5, 6), 'c7 07 04 030405 00000006'),
    (decimal.Decimal('1.2345'), 'd7 05 0006 312e32333435'),
    (currint.Amount.from_code_and_minor('USD', 12345), 'c7 0b 02 555344 0000000000003039'),
]


@pytest.mark.parametrize(('value', 'hex_encoding'), REFERENCE_VECTORS)
def test_reference_vectors_encode_byte_exactly(serializer: MsgpackSerializer, value: Any, hex_encoding: str) -> None:
    assert serializer.dict_to_blob({'v': value}) == MAP_V + bytes.fromhex(hex_encoding)


@pytest.mark.parametrize(('value', 'hex_encoding'), REFERENCE_VECTORS)
def test_reference_vectors_decode_exactly(serializer: MsgpackSerializer, value: Any, hex_encoding: str) -> None:
    decoded = serializer.blob_to_dict(MAP_V + bytes.fromhex(hex_encoding))['v']
    assert decoded == value
    assert type(decoded) is type(value)


def test_utc_datetime_uses_code_10_with_the_same_payload_as_naive(serializer: MsgpackSerializer) -> None:
    aware = serializer.dict_to_blob({'v': datetime.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)})
    assert aware == MAP_V + bytes.fromhex('d7 0a 00059b1f72314f35')


@pytest.mark.parametrize(
    'value',
    [
        datetime.datetime(1, 1, 1),
        datetime.datetime(3, 1, 1, 5, 30),
        datetime.datetime(1969, 12, 31, 23, 59, 59, 999999),
        datetime.datetime(1970, 1, 1),
        datetime.datetime(2011, 1, 24),
        datetime.datetime(2017, 4, 28, 14, 30, 21, 231718),
        datetime.datetime(9998, 3, 27, 1, 45),
        datetime.datetime(9999, 12, 31, 23, 59, 59, 999999),
    ],
)
def test_naive_datetimes_round_trip_to_the_microsecond(serializer: MsgpackSerializer, value: datetime.datetime) -> None:
    decoded = round_trip(serializer, value)
    assert decoded == value
    assert decoded.tzinfo is None


def test_far_datetimes_are_computed_without_float_rounding(serializer: MsgpackSerializer) -> None:
    value = datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)
    expected_micros = (value - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
    assert serializer.dict_to_blob({'v': value}) == MAP_V + b'\xd7\x01' + expected_micros.to_bytes(8, 'big')


@pytest.mark.parametrize(
    'tzinfo',
    [
        UTC,
        datetime.timezone(datetime.timedelta(0), 'Z'),
        zoneinfo.ZoneInfo('UTC'),
        zoneinfo.ZoneInfo('Etc/UTC'),
    ],
)
def test_utc_datetimes_round_trip_as_aware_utc(serializer: MsgpackSerializer, tzinfo: datetime.tzinfo) -> None:
    for value in (
        datetime.datetime(3, 1, 1, 5, 30, tzinfo=tzinfo),
        datetime.datetime(2017, 4, 28, 14, 30, 21, 231718, tzinfo=tzinfo),
        datetime.datetime(9998, 3, 27, 1, 45, tzinfo=tzinfo),
    ):
        decoded = round_trip(serializer, value)
        assert decoded == value
        assert decoded.utcoffset() == datetime.timedelta(0)


def test_pytz_utc_round_trips_as_pytz_utc_like_pysoa_1(serializer: MsgpackSerializer) -> None:
    pytz = pytest.importorskip('pytz')
    value = datetime.datetime(2017, 4, 28, 14, 30, 21, 231718, tzinfo=pytz.UTC)
    decoded = round_trip(serializer, value)
    assert decoded == value
    assert decoded.tzinfo == pytz.UTC


@pytest.mark.parametrize(
    'tzinfo',
    [
        datetime.timezone(datetime.timedelta(hours=-5)),
        zoneinfo.ZoneInfo('America/Chicago'),
        zoneinfo.ZoneInfo('Europe/London'),  # offset 0 in winter, but not UTC
    ],
)
def test_non_utc_aware_datetimes_are_invalid_fields(serializer: MsgpackSerializer, tzinfo: datetime.tzinfo) -> None:
    with pytest.raises(InvalidField, match='time zone'):
        serializer.dict_to_blob({'v': datetime.datetime(2011, 1, 24, tzinfo=tzinfo)})


def test_pytz_non_utc_zone_is_an_invalid_field(serializer: MsgpackSerializer) -> None:
    pytz = pytest.importorskip('pytz')
    with pytest.raises(InvalidField):
        serializer.dict_to_blob({'v': datetime.datetime(2011, 1, 24, tzinfo=pytz.timezone('America/Chicago'))})


@pytest.mark.parametrize(
    'value',
    [
        datetime.date(1, 1, 1),
        datetime.date(3, 1, 1),
        datetime.date(1969, 3, 31),
        datetime.date(2018, 12, 21),
        datetime.date(9999, 12, 31),
    ],
)
def test_dates_round_trip(serializer: MsgpackSerializer, value: datetime.date) -> None:
    decoded = round_trip(serializer, value)
    assert decoded == value
    assert type(decoded) is datetime.date


@pytest.mark.parametrize(
    'value',
    [
        datetime.time(0),
        datetime.time(0, 31, 58, 123827),
        datetime.time(6, 15, 7, 152),
        datetime.time(12, 0, 0, 0),
        datetime.time(23, 59, 59, 999999),
    ],
)
def test_times_round_trip(serializer: MsgpackSerializer, value: datetime.time) -> None:
    assert round_trip(serializer, value) == value


def test_time_zone_of_a_time_is_dropped(serializer: MsgpackSerializer) -> None:
    decoded = round_trip(serializer, datetime.time(3, 4, 5, 6, tzinfo=UTC))
    assert decoded == datetime.time(3, 4, 5, 6)
    assert decoded.tzinfo is None


@pytest.mark.parametrize(
    'value',
    [
        decimal.Decimal('1'),
        decimal.Decimal('-52.3847'),
        decimal.Decimal('1E+3'),
        decimal.Decimal('NaN'),
        decimal.Decimal('-Infinity'),
        decimal.Decimal('3.' + '1415926535' * 26),
        decimal.Decimal('0.' + '0' * 500 + '1'),
    ],
)
def test_decimals_round_trip(serializer: MsgpackSerializer, value: decimal.Decimal) -> None:
    decoded = round_trip(serializer, value)
    assert str(decoded) == str(value)


def test_decimal_too_long_for_its_length_prefix_is_an_invalid_field(serializer: MsgpackSerializer) -> None:
    # PySOA 1.x silently truncated such a value; corrupting a number is worse than refusing it.
    with pytest.raises(InvalidField, match='Decimal'):
        serializer.dict_to_blob({'v': decimal.Decimal('1.' + '1' * 70000)})


@pytest.mark.parametrize(
    'value',
    [
        currint.Amount.from_code_and_minor('EUR', 453),
        currint.Amount.from_code_and_minor('JPY', 10000),
        currint.Amount.from_code_and_minor('USD', -98329048),
    ],
)
def test_amounts_round_trip(serializer: MsgpackSerializer, value: currint.Amount) -> None:
    assert round_trip(serializer, value) == value


def test_amount_beyond_int64_is_an_invalid_field(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidField, match='minor units'):
        serializer.dict_to_blob({'v': currint.Amount.from_code_and_minor('USD', 2**63)})


def test_subclasses_of_extension_types_are_encoded_as_their_base(serializer: MsgpackSerializer) -> None:
    class MyDateTime(datetime.datetime):
        pass

    class MyDecimal(decimal.Decimal):
        pass

    decoded = serializer.blob_to_dict(
        serializer.dict_to_blob(
            {
                'dt': MyDateTime(2020, 1, 2, 3, 4, 5),
                'dec': MyDecimal('2.5'),
            }
        )
    )
    assert decoded == {'dt': datetime.datetime(2020, 1, 2, 3, 4, 5), 'dec': decimal.Decimal('2.5')}


def test_strings_and_bytes_keep_their_types(serializer: MsgpackSerializer) -> None:
    data = {b'bytes_key': b'this is a byte array', 'unicode_key': 'unicode string! \U0001f37a'}
    blob = serializer.dict_to_blob(data)
    assert serializer.blob_to_dict(blob) == data
    assert b'\xc4\x09bytes_key' in blob  # bin 8, as use_bin_type requires


def test_strings_of_32_to_255_bytes_use_str8_which_old_peers_decode(serializer: MsgpackSerializer) -> None:
    assert serializer.dict_to_blob({'v': 'x' * 32}) == MAP_V + b'\xd9\x20' + b'x' * 32


def test_lone_surrogates_are_passed_through_like_pysoa_1(serializer: MsgpackSerializer) -> None:
    blob = serializer.dict_to_blob({'v': 'value \ud83d'})
    assert blob == b'\x81\xa1v\xa9value \xed\xa0\xbd'
    assert serializer.blob_to_dict(blob) == {'v': 'value \ud83d'}


def test_tuples_become_lists_and_plain_types_round_trip(serializer: MsgpackSerializer) -> None:
    data = {
        'tuple': (1, 'two', (3,)),
        'list': [1, 'two'],
        'int': -(2**63),
        'uint': 2**64 - 1,
        'float': 0.1,
        'none': None,
        'bool': True,
        'nested': {'a': {'b': [{}]}},
    }
    decoded = serializer.blob_to_dict(serializer.dict_to_blob(data))
    assert decoded == {**data, 'tuple': [1, 'two', [3]]}


def test_non_string_map_keys_are_accepted_as_pysoa_1_peers_send_them(serializer: MsgpackSerializer) -> None:
    assert serializer.blob_to_dict(serializer.dict_to_blob({1: 'one', 'v': {2: 'two'}})) == {1: 'one', 'v': {2: 'two'}}


def test_plain_messages_match_msgpack_defaults_of_pysoa_1(serializer: MsgpackSerializer) -> None:
    envelope = {
        'request_id': 17,
        'meta': {'client_version': [1, 4, 9], 'reply_to': 'service.x.abc!0123456789ab', '__expiry__': 1790000000.25},
        'body': {
            'control': {'continue_on_error': False},
            'context': {'correlation_id': 'abc', 'switches': [1]},
            'actions': [{'action': 'ping', 'body': {'long': 'y' * 300, 'raw': b'z' * 70000}}],
        },
    }
    assert serializer.dict_to_blob(envelope) == msgpack.packb(envelope, use_bin_type=True)


@pytest.mark.parametrize('value', ['invalid', ['invalid'], {'invalid'}, 0, False, None])
def test_input_must_be_a_dict(serializer: MsgpackSerializer, value: Any) -> None:
    with pytest.raises(ValueError, match='must be a dict'):
        serializer.dict_to_blob(value)


def test_set_is_an_invalid_field_naming_type_and_place(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidField, match=r'type set at body\.tags'):
        serializer.dict_to_blob({'body': {'tags': {'foo', 'bar'}}})


def test_unknown_type_is_an_invalid_field_naming_type_and_place(serializer: MsgpackSerializer) -> None:
    class Unserializable:
        pass

    with pytest.raises(InvalidField, match=r'Unserializable.* at actions\[1\]\.body'):
        serializer.dict_to_blob({'actions': [{'body': 1}, {'body': Unserializable()}]})


def test_integer_beyond_64_bits_is_an_invalid_field(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidField):
        serializer.dict_to_blob({'v': 2**64})


def test_errors_belong_to_the_pysoa_hierarchy() -> None:
    assert issubclass(InvalidField, SerializationError)
    assert issubclass(InvalidMessage, SerializationError)
    assert issubclass(SerializationError, PySOAError)


@pytest.mark.parametrize(
    'blob',
    [
        b'',
        b'\xc1',  # a byte msgpack never uses
        b'\x81\xa1v',  # truncated
        b'\x81\xa1v\x01\x02',  # extra data
        b'\x81\xa1v\xa2\xff\xfe',  # not UTF-8
    ],
)
def test_undecodable_bytes_are_invalid_messages(serializer: MsgpackSerializer, blob: bytes) -> None:
    with pytest.raises(InvalidMessage, match="Can't deserialize MessagePack"):
        serializer.blob_to_dict(blob)


def test_text_instead_of_bytes_is_an_invalid_message(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidMessage):
        serializer.blob_to_dict('this is an invalid message! for shame!')  # type: ignore[arg-type]


def test_top_level_that_is_not_a_map_is_an_invalid_message(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidMessage, match='expected a map, got list'):
        serializer.blob_to_dict(b'\x91\x01')


def test_unknown_extension_code_is_an_invalid_message(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidMessage, match='unknown extension type code 99'):
        serializer.blob_to_dict(MAP_V + b'\xd4\x63\x00')


@pytest.mark.parametrize(
    'ext',
    [
        'd5 01 0000',  # datetime payload too short
        'd5 0a 0000',
        'd4 03 00',  # date too short
        'd6 03 07e40d01',  # month 13
        'd6 04 03040500',  # time too short
        'd4 05 00',  # decimal too short for its length prefix
        'd6 05 0009 3132',  # decimal length larger than the bytes present
        'd6 05 0002 7878',  # decimal that is not a number
        'c7 0b 02 585858 0000000000003039',  # unknown currency
        'd8 01 7fffffffffffffff 0000000000000000',  # datetime payload too long
    ],
)
def test_malformed_extension_payloads_are_invalid_messages(serializer: MsgpackSerializer, ext: str) -> None:
    with pytest.raises(InvalidMessage, match='extension type'):
        serializer.blob_to_dict(MAP_V + bytes.fromhex(ext))


def test_standard_msgpack_timestamps_decode_as_aware_datetimes(serializer: MsgpackSerializer) -> None:
    blob = msgpack.packb({'v': msgpack.Timestamp(seconds=1577934245, nanoseconds=678901000)})
    assert serializer.blob_to_dict(blob) == {'v': datetime.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)}


def test_long_malformed_payload_is_abbreviated_in_the_error(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidMessage, match=r'\(1000 bytes\)'):
        serializer.blob_to_dict(MAP_V + bytes.fromhex('c8 03e8 05 0001') + b'x' * 998)


def test_datetime_out_of_range_is_an_invalid_message(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidMessage):
        serializer.blob_to_dict(MAP_V + bytes.fromhex('d7 01 7fffffffffffffff'))


def test_a_failed_encoding_leaves_the_serializer_usable(serializer: MsgpackSerializer) -> None:
    with pytest.raises(InvalidField):
        serializer.dict_to_blob({'a': 'x' * 1000, 'b': {1, 2}})
    assert serializer.dict_to_blob({'v': 1}) == MAP_V + b'\x01'


def test_concurrent_threads_get_their_own_bytes() -> None:
    serializer = MsgpackSerializer()
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def work(number: int) -> None:
        message = {'thread': number, 'payload': 'p' * (number * 50), 'when': datetime.date(2000 + number, 1, 1)}
        expected = msgpack.packb(
            {**message, 'when': msgpack.ExtType(3, (2000 + number).to_bytes(2, 'big') + b'\x01\x01')},
            use_bin_type=True,
        )
        barrier.wait(timeout=10)
        for _ in range(2000):
            blob = serializer.dict_to_blob(message)
            if blob != expected or serializer.blob_to_dict(blob) != message:
                errors.append(f'thread {number} got a wrong result')
                return

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


def test_subclasses_can_add_extension_types_as_in_pysoa_1() -> None:
    class UUIDSerializer(MsgpackSerializer):
        def _default(self, value: Any) -> Any:
            if isinstance(value, uuid.UUID):
                return msgpack.ExtType(20, value.bytes)
            return super()._default(value)

        def _ext_hook(self, code: int, data: bytes) -> Any:
            if code == 20:
                return uuid.UUID(bytes=data)
            return super()._ext_hook(code, data)

    serializer = UUIDSerializer()
    message = {'id': uuid.UUID(int=7), 'day': datetime.date(2020, 1, 2)}
    assert serializer.blob_to_dict(serializer.dict_to_blob(message)) == message
    with pytest.raises(InvalidField, match='set'):
        serializer.dict_to_blob({'v': {1}})
    with pytest.raises(InvalidMessage, match='unknown extension type code 20'):
        MsgpackSerializer().blob_to_dict(serializer.dict_to_blob(message))
    assert type(Serializer.resolve_serializer('application/msgpack')) is MsgpackSerializer


# The registry


@pytest.fixture
def clean_registry() -> Iterator[None]:
    registry = dict(Serializer._registry)
    supported = Serializer.all_supported_mime_types
    yield
    Serializer._registry.clear()
    Serializer._registry.update(registry)
    Serializer.all_supported_mime_types = supported


def test_both_serializers_are_registered_by_mime_type() -> None:
    assert isinstance(Serializer.all_supported_mime_types, frozenset)
    assert {'application/msgpack', 'application/json'} <= Serializer.all_supported_mime_types
    assert MsgpackSerializer.mime_type == 'application/msgpack'
    assert isinstance(Serializer.resolve_serializer('application/msgpack'), MsgpackSerializer)
    assert isinstance(Serializer.resolve_serializer('application/json'), JSONSerializer)


def test_resolving_an_unknown_mime_type_names_it() -> None:
    with pytest.raises(ValueError, match='application/xml'):
        Serializer.resolve_serializer('application/xml')


@pytest.mark.usefixtures('clean_registry')
def test_a_new_subclass_registers_itself() -> None:
    class Reversed(Serializer):
        mime_type = 'application/x-reversed'

        def dict_to_blob(self, message_dict: dict[Any, Any]) -> bytes:
            return repr(message_dict).encode()[::-1]

        def blob_to_dict(self, blob: bytes) -> dict[Any, Any]:
            return dict(eval(blob[::-1]))

    assert 'application/x-reversed' in Serializer.all_supported_mime_types
    assert isinstance(Serializer.resolve_serializer('application/x-reversed'), Reversed)


@pytest.mark.usefixtures('clean_registry')
def test_a_subclass_without_its_own_mime_type_does_not_take_over() -> None:
    class Tweaked(MsgpackSerializer):
        pass

    assert type(Serializer.resolve_serializer('application/msgpack')) is MsgpackSerializer


@pytest.mark.usefixtures('clean_registry')
def test_duplicate_and_blank_mime_types_are_refused() -> None:
    with pytest.raises(ValueError, match='already handles'):

        class Duplicate(MsgpackSerializer):
            mime_type = 'application/json'

    with pytest.raises(ValueError, match='non-blank'):

        class Blank(MsgpackSerializer):
            mime_type = ' '


def test_the_base_class_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError):
        Serializer()  # type: ignore[abstract]


def test_serializers_are_configurable_through_conformity() -> None:
    schema = fields.ClassConfigurationSchema(base_class=Serializer)
    config: dict[Hashable, Any] = {'path': 'pysoa.common.serializer:MsgpackSerializer'}
    assert isinstance(schema.instantiate_from(config), MsgpackSerializer)
    with pytest.raises(ValidationError):
        schema.instantiate_from({'path': 'pysoa.common.serializer:JSONSerializer', 'kwargs': {'indent': 2}})


# Against PySOA 1.4.9's own serializer (msgpack 0.6), in the cached upstream virtualenv

_UPSTREAM_SCRIPT = """
import pickle, sys
from pysoa.common.serializer import MsgpackSerializer
serializer = MsgpackSerializer()
results = []
for value, our_blob in pickle.load(sys.stdin.buffer):
    results.append((serializer.dict_to_blob(value), serializer.blob_to_dict(our_blob)))
sys.stdout.buffer.write(pickle.dumps(results, protocol=4))
"""


def test_bytes_match_pysoa_1_both_ways() -> None:
    import pickle
    import subprocess

    from interop.peers import require_upstream_env

    pytz = pytest.importorskip('pytz')
    upstream = require_upstream_env()
    serializer = MsgpackSerializer()
    messages: list[dict[Any, Any]] = [
        {'v': datetime.datetime(2020, 1, 2, 3, 4, 5, 678901)},
        {'v': datetime.datetime(1969, 12, 31, 23, 59, 59, 999999)},
        {'v': datetime.datetime(2017, 4, 28, 14, 30, 21, 231718, tzinfo=pytz.UTC)},
        {'v': datetime.date(2020, 1, 2), 'w': datetime.time(3, 4, 5, 6)},
        {'v': decimal.Decimal('-1.2345E+5'), 'w': currint.Amount.from_code_and_minor('jpy', -5)},
        {'s': 'x' * 40, 'b': b'\x00\x01' * 200, 'u': '\U0001f37a', 't': (1, [2]), 'i': [2**64 - 1, -(2**63)], 1: 1.5},
        {'request_id': 3, 'meta': {'client_version': [1, 4, 9]}, 'body': {'actions': [{'action': 'a', 'body': {}}]}},
    ]
    cases = [(message, serializer.dict_to_blob(message)) for message in messages]
    completed = subprocess.run(
        [str(upstream.python), '-P', '-c', _UPSTREAM_SCRIPT],
        input=pickle.dumps(cases, protocol=4),
        capture_output=True,
        timeout=60,
        check=False,
        env=upstream.environ(),
        cwd=tempfile.gettempdir(),
    )
    assert completed.returncode == 0, completed.stderr.decode(errors='replace')[-2000:]
    results = pickle.loads(completed.stdout)
    for (message, our_blob), (upstream_blob, upstream_decoded) in zip(cases, results, strict=True):
        assert our_blob == upstream_blob, message
        assert upstream_decoded == serializer.blob_to_dict(our_blob), message
