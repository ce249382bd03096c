"""The JSON serializer: compact output, what JSON cannot carry, and decoding errors."""

import datetime
import decimal
import json
from typing import Any

import pytest

from pysoa.common.serializer import JSONSerializer, Serializer
from pysoa.common.serializer.errors import InvalidField, InvalidMessage


@pytest.fixture
def serializer() -> JSONSerializer:
    return JSONSerializer()


def test_mime_type_and_registration() -> None:
    assert JSONSerializer.mime_type == 'application/json'
    assert isinstance(Serializer.resolve_serializer('application/json'), JSONSerializer)


def test_output_is_compact_utf8_json(serializer: JSONSerializer) -> None:
    blob = serializer.dict_to_blob({'request_id': 1, 'body': {'actions': [{'action': 'ping'}], 'ok': True}})
    assert blob == b'{"request_id":1,"body":{"actions":[{"action":"ping"}],"ok":true}}'


@pytest.mark.parametrize(
    'data',
    [
        {'int_key': 1},
        {'str_key': 'string'},
        {'unicode_key': '\U0001f37a'},
        {'list_key': [1, 'two', None, 1.5, False]},
        {'dict_key': {'one': 1, 'two': {'three': []}}},
    ],
)
def test_json_types_round_trip(serializer: JSONSerializer, data: dict[str, Any]) -> None:
    assert serializer.blob_to_dict(serializer.dict_to_blob(data)) == data


def test_tuples_become_lists_and_keys_become_strings(serializer: JSONSerializer) -> None:
    assert serializer.blob_to_dict(serializer.dict_to_blob({'t': (1, 'two'), 'm': {1: 'one'}})) == {
        't': [1, 'two'],
        'm': {'1': 'one'},
    }


def test_non_ascii_and_lone_surrogates_stay_valid_utf8(serializer: JSONSerializer) -> None:
    data = {'v': 'caf\u00e9 \ud83d'}
    blob = serializer.dict_to_blob(data)
    blob.decode('utf-8')
    assert serializer.blob_to_dict(blob) == data


def test_text_input_is_accepted_as_well_as_bytes(serializer: JSONSerializer) -> None:
    assert serializer.blob_to_dict('{"a": 1}') == {'a': 1}  # type: ignore[arg-type]
    assert serializer.blob_to_dict(bytearray(b'{"a": 1}')) == {'a': 1}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('value', 'type_name'),
    [
        ({'foo'}, 'set'),
        (b'raw', 'bytes'),
        (datetime.date(2020, 1, 2), 'datetime.date'),
        (decimal.Decimal('1.5'), 'decimal.Decimal'),
        (object(), 'object'),
    ],
)
def test_values_json_cannot_carry_are_invalid_fields_naming_type_and_place(
    serializer: JSONSerializer,
    value: Any,
    type_name: str,
) -> None:
    with pytest.raises(InvalidField) as caught:
        serializer.dict_to_blob({'body': {'items': [1, value]}})
    assert f'value of type {type_name} at body.items[1]' in str(caught.value)


def test_circular_message_is_an_invalid_field(serializer: JSONSerializer) -> None:
    message: dict[str, Any] = {}
    message['self'] = message
    with pytest.raises(InvalidField):
        serializer.dict_to_blob(message)


@pytest.mark.parametrize('value', ['invalid', ['invalid'], ('invalid',), {'invalid'}, 0, False])
def test_input_must_be_a_dict(serializer: JSONSerializer, value: Any) -> None:
    with pytest.raises(ValueError, match='must be a dict'):
        serializer.dict_to_blob(value)


@pytest.mark.parametrize(
    'blob',
    [
        b'',
        b'this is an invalid message! for shame!',
        b'{"a": 1',
        b'\xff\xfe\x00',
        b'{"a": 1} trailing',
    ],
)
def test_undecodable_input_is_an_invalid_message(serializer: JSONSerializer, blob: bytes) -> None:
    with pytest.raises(InvalidMessage, match="Can't deserialize JSON"):
        serializer.blob_to_dict(blob)


@pytest.mark.parametrize('blob', [b'[1, 2]', b'"text"', b'3', b'null'])
def test_top_level_must_be_an_object(serializer: JSONSerializer, blob: bytes) -> None:
    with pytest.raises(InvalidMessage, match='expected an object'):
        serializer.blob_to_dict(blob)


def test_output_is_readable_by_any_json_parser(serializer: JSONSerializer) -> None:
    data = {'context': {'correlation_id': 'abc', 'switches': [1, 2]}, 'n': -0.5}
    assert json.loads(serializer.dict_to_blob(data).decode('utf-8')) == data
