"""The compiled validity check agrees with Conformity on many generated schemas and values."""

import collections
import decimal
import enum
import gc
import random
from typing import Any

import pytest
from conformity import fields
from conformity.error import Error as ConformityError

from pysoa.common import fast_validation


class _Color(enum.IntEnum):
    RED = 1


class _Text(str):
    pass


class _Strict(fields.UnicodeString):
    """A subclass with its own rule: must never be compiled as a plain UnicodeString."""

    def errors(self, value: Any) -> list[Any]:
        found = super().errors(value)
        if not found and value == 'forbidden':
            return [ConformityError('Forbidden')]
        return found


_NUMBERS: list[Any] = [
    0,
    1,
    -1,
    7,
    10**20,
    0.5,
    -2.5,
    float('nan'),
    float('inf'),
    True,
    False,
    decimal.Decimal('1.5'),
    decimal.Decimal('NaN'),
    _Color.RED,
]
_STRINGS: list[Any] = ['', ' ', 'a', 'abc', 'forbidden', 'x' * 12, _Text('sub'), b'', b'ab', b'  ']
_KEYS = ['a', 'b', 'c', 1, 2]


def _bound(rng: random.Random) -> Any:
    return rng.choice([None, None, None, 0, 1, 5, 2.5, -1.5, float('nan'), decimal.Decimal('3')])


def _schema(rng: random.Random, depth: int = 0) -> fields.Base:
    leaves: list[Any] = [
        lambda: fields.Integer(gt=_bound(rng), gte=_bound(rng), lt=_bound(rng), lte=_bound(rng)),
        lambda: fields.Float(gt=_bound(rng), lte=_bound(rng)),
        lambda: fields.Decimal(gte=rng.choice([None, decimal.Decimal('1')])),
        lambda: fields.UnicodeString(
            min_length=rng.choice([None, 1, 2]),
            max_length=rng.choice([None, 3, 10]),
            allow_blank=rng.random() < 0.7,
        ),
        lambda: fields.ByteString(min_length=rng.choice([None, 1]), allow_blank=rng.random() < 0.5),
        lambda: fields.Boolean(),
        lambda: fields.Anything(),
        lambda: fields.Hashable(),
        lambda: fields.Null(),
        lambda: fields.Constant(*rng.sample(['a', 1, True, None, 2.5, b'ab'], k=rng.randint(1, 3))),
        lambda: fields.DateTime(),  # not compiled: Conformity checks it
        lambda: _Strict(),
    ]
    if depth >= 3:
        return rng.choice(leaves)()
    containers: list[Any] = [
        lambda: fields.Nullable(_schema(rng, depth + 1)),
        lambda: fields.Any(*[_schema(rng, depth + 1) for _ in range(rng.randint(1, 3))]),
        lambda: fields.List(
            _schema(rng, depth + 1),
            min_length=rng.choice([None, 1]),
            max_length=rng.choice([None, 2, 4]),
        ),
        lambda: fields.Dictionary(
            {key: _schema(rng, depth + 1) for key in rng.sample(_KEYS, k=rng.randint(0, 4))},
            optional_keys=rng.sample(_KEYS, k=rng.randint(0, 2)),
            allow_extra_keys=rng.random() < 0.3,
        ),
        lambda: fields.SchemalessDictionary(
            key_type=rng.choice([fields.Hashable(), fields.UnicodeString(), fields.Integer()]),
            value_type=rng.choice([fields.Anything(), _schema(rng, depth + 1)]),
            min_length=rng.choice([None, 1]),
            max_length=rng.choice([None, 3]),
        ),
    ]
    return rng.choice(leaves if rng.random() < 0.35 else containers)()


def _value_for(schema: fields.Base, rng: random.Random, depth: int = 0) -> Any:
    """Mostly a value that fits `schema`, sometimes one that does not."""
    if rng.random() < 0.12 or depth > 5:
        return _anything(rng)
    kind = type(schema)
    if kind is fields.Nullable:
        return None if rng.random() < 0.3 else _value_for(schema.field, rng, depth + 1)
    if kind is fields.Any:
        return _value_for(rng.choice(schema.options), rng, depth + 1)
    if kind is fields.List:
        return [_value_for(schema.contents, rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind is fields.Dictionary:
        value = {
            key: _value_for(field, rng, depth + 1)
            for key, field in schema.contents.items()
            if key not in schema.optional_keys or rng.random() < 0.6
        }
        if rng.random() < 0.15:
            value[rng.choice(_KEYS + ['zz'])] = 1
        return collections.OrderedDict(value) if rng.random() < 0.05 else value
    if kind is fields.SchemalessDictionary:
        return {
            rng.choice(['k', 'l', 'm', 3, 4]): _value_for(schema.value_type, rng, depth + 1)
            for _ in range(rng.randint(0, 4))
        }
    if kind is fields.Constant:
        return rng.choice(sorted(schema.values, key=repr))
    if kind in (fields.UnicodeString, fields.ByteString, _Strict):
        return rng.choice(_STRINGS)
    if kind in (fields.Integer, fields.Float, fields.Decimal):
        return rng.choice(_NUMBERS)
    return _anything(rng)


def _anything(rng: random.Random) -> Any:
    return rng.choice(_NUMBERS + _STRINGS + [None, [], {}, [1, 'a'], {'a': 1}, ('a',), {1, 2}, [[]], {'a': {}}])


def _outcome(call: Any) -> Any:
    try:
        found = call()
    except Exception as error:
        return ('raised', type(error))
    return [(e.code, e.message, e.pointer) for e in (found or [])]


def test_compiled_check_agrees_with_conformity_on_generated_cases() -> None:
    rng = random.Random(20261123)
    accepted = 0
    cases = 0
    for _ in range(1500):
        schema = _schema(rng)
        for _ in range(12):
            value = _value_for(schema, rng)
            cases += 1
            expected = _outcome(lambda schema=schema, value=value: schema.errors(value))
            if fast_validation.is_valid(schema, value):
                accepted += 1
                assert expected == [], (schema, value, expected)
            found = _outcome(lambda schema=schema, value=value: fast_validation.errors(schema, value))
            assert found == expected, (schema, value)
    # The fast path must actually answer for a good share of the valid values, or it is not worth having.
    assert accepted > cases // 4


def test_plain_action_bodies_take_the_fast_path() -> None:
    schema = fields.Dictionary(
        {
            'user_id': fields.Integer(gt=0),
            'name': fields.UnicodeString(max_length=50),
            'tags': fields.List(fields.UnicodeString()),
            'score': fields.Float(),
            'active': fields.Boolean(),
            'extra': fields.SchemalessDictionary(key_type=fields.UnicodeString()),
            'note': fields.Nullable(fields.UnicodeString()),
        },
        optional_keys=('note',),
    )
    body = {'user_id': 3, 'name': 'Ada', 'tags': ['a', 'b'], 'score': 1, 'active': True, 'extra': {'x': [1]}}
    assert fast_validation.is_valid(schema, body)
    assert fast_validation.errors(schema, body) == []
    assert not fast_validation.is_valid(schema, {**body, 'user_id': 0})
    assert [(e.code, e.pointer) for e in fast_validation.errors(schema, {**body, 'user_id': 0})] == [
        ('INVALID', 'user_id'),
    ]


def test_subclass_with_its_own_rules_is_left_to_conformity() -> None:
    schema = fields.Dictionary({'name': _Strict()})
    assert fast_validation.errors(schema, {'name': 'forbidden'})[0].message == 'Forbidden'
    assert fast_validation.errors(schema, {'name': 'fine'}) == []


def test_additional_validator_always_runs() -> None:
    class OddLength(fields.AdditionalCollectionValidator[Any]):
        def errors(self, value: Any) -> list[Any]:
            return [] if len(value) % 2 else [ConformityError('Even')]

    schema = fields.List(fields.Integer(), additional_validator=OddLength())
    assert fast_validation.errors(schema, [1]) == []
    assert [e.message for e in fast_validation.errors(schema, [1, 2])] == ['Even']


def test_a_collected_schema_is_forgotten() -> None:
    schema = fields.Dictionary({'a': fields.Integer()})
    assert fast_validation.is_valid(schema, {'a': 1})
    key = id(schema)
    assert key in fast_validation._compiled
    del schema
    gc.collect()
    assert key not in fast_validation._compiled


@pytest.mark.parametrize('value', [float('nan'), decimal.Decimal('NaN')])
def test_nan_against_bounds_matches_conformity(value: Any) -> None:
    for schema in (fields.Float(gt=1), fields.Float(lte=1), fields.Decimal(gt=decimal.Decimal(1))):
        expected = _outcome(lambda schema=schema: schema.errors(value))
        assert _outcome(lambda schema=schema: fast_validation.errors(schema, value)) == expected
