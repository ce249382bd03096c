"""Unit tests of pysoa.schema fields, family by family: results, introspection, and the fast check's answers."""

import datetime
import decimal
import pickle
from collections import OrderedDict

import currint
import pytest

from pysoa.schema import fields
from pysoa.schema.constants import ERROR_CODE_MISSING, ERROR_CODE_UNKNOWN, WARNING_CODE_FIELD_DEPRECATED
from pysoa.schema.fields.currency import Amount, AmountRequestDictionary, AmountResponseDictionary, AmountString
from pysoa.schema.fields.logging import PYTHON_LOGGING_CONFIG_SCHEMA, PythonLogLevel
from pysoa.schema.types import Error


def issues(field: object, value: object) -> list[tuple[str, str, str | None]]:
    return [(e.code, e.message, e.pointer) for e in field.errors(value)]  # type: ignore[attr-defined]


def test_numbers() -> None:
    assert issues(fields.Integer(), True) == [('INVALID', 'Not an integer', None)]
    assert issues(fields.Integer(gt=1, lte=3), 4) == [('INVALID', 'Value not <= 3', None)]
    assert issues(fields.Integer(gt=1, lt=0), 1) == [
        ('INVALID', 'Value not > 1', None),
        ('INVALID', 'Value not < 0', None),
    ]
    assert issues(fields.Float(gte=0.5), 1) == []
    assert issues(fields.Float(), '1') == [('INVALID', 'Not a float', None)]
    assert issues(fields.Decimal(), 1) == [('INVALID', 'Not a decimal', None)]
    with pytest.raises(decimal.InvalidOperation):
        fields.Decimal(gt=0).errors(decimal.Decimal('NaN'))
    assert fields.Integer(gt=1, description='n').introspect() == {'type': 'integer', 'gt': 1, 'description': 'n'}


def test_strings() -> None:
    assert issues(fields.UnicodeString(max_length=2), 'abc') == [
        ('INVALID', 'String must have a length no more than 2', None)
    ]
    assert issues(fields.UnicodeString(allow_blank=False), '  ') == [('INVALID', 'String cannot be blank', None)]
    assert issues(fields.ByteString(), 'x') == [('INVALID', 'Not a byte string', None)]
    assert issues(fields.UnicodeDecimal(), '1.x') == [('INVALID', 'Invalid decimal value (parse error)', None)]
    assert fields.UnicodeString(allow_blank=False).introspect() == {'type': 'unicode', 'allow_blank': False}

    class Text(str):
        pass

    assert fields.UnicodeString(min_length=1).errors(Text('a')) == []  # a subclass takes the exact path


def test_constants_and_anything() -> None:
    assert issues(fields.Constant('a', 1), 'b') == [(ERROR_CODE_UNKNOWN, 'Value is not one of: "a", 1', None)]
    assert issues(fields.Constant('a'), []) == [(ERROR_CODE_UNKNOWN, 'Value is not "a"', None)]
    assert fields.Constant(2, 'a').introspect() == {'type': 'constant', 'values': [2, 'a']}
    assert fields.Anything().errors(object()) == []
    assert issues(fields.Hashable(), []) == [('INVALID', 'Value is not hashable', None)]
    assert issues(fields.Null(), 0) == [('INVALID', 'Value is not null', None)]
    assert fields.Nullable(fields.Integer()).errors(None) == []


def test_collections() -> None:
    assert issues(fields.List(fields.Integer(), max_length=1), [1, 'x']) == [
        ('INVALID', 'List is longer than 1', None),
        ('INVALID', 'Not an integer', '1'),
    ]
    assert issues(fields.Set(fields.Integer()), {'x'}) == [('INVALID', 'Not an integer', '[x]')]
    assert issues(fields.Sequence(fields.UnicodeString()), (1,)) == [('INVALID', 'Not a unicode string', '0')]
    assert issues(fields.Tuple(fields.Integer(), fields.Boolean()), (1,)) == [
        ('INVALID', 'Number of elements 1 does not match expected 2', None)
    ]
    assert issues(fields.SchemalessDictionary(key_type=fields.UnicodeString(), max_length=1), {1: 1, 'a': 2}) == [
        ('INVALID', 'Dict contains more than 1 value(s)', None),
        ('INVALID', 'Not a unicode string', '1'),
    ]


def test_dictionary() -> None:
    schema = fields.Dictionary({'a': fields.Integer(), 'b': fields.List(fields.Integer())}, optional_keys=('b',))
    assert schema.errors({'a': 1}) == []
    assert issues(schema, {'b': [1, 'x'], 'z': 1, 'y': 2}) == [
        (ERROR_CODE_MISSING, 'Missing key: a', 'a'),
        ('INVALID', 'Not an integer', 'b.1'),
        (ERROR_CODE_UNKNOWN, 'Extra keys present: y, z', None),
    ]
    extended = schema.extend({'c': fields.Boolean()}, optional_keys=('c',), description='More')
    assert extended.introspect() == {
        'type': 'dictionary',
        'contents': {
            'a': {'type': 'integer'},
            'b': {'type': 'list', 'contents': {'type': 'integer'}},
            'c': {'type': 'boolean'},
        },
        'optional_keys': ['b', 'c'],
        'allow_extra_keys': False,
        'description': 'More',
    }
    ordered = fields.Dictionary(OrderedDict([('z', fields.Integer()), ('a', fields.Integer())]))
    assert ordered.introspect()['display_order'] == ['z', 'a']
    assert [e.pointer for e in ordered.errors({})] == ['z', 'a']


def test_dictionary_declared_by_a_subclass() -> None:
    class Declared(fields.Dictionary):
        contents = {'a': fields.Integer(), 'b': fields.Integer()}
        optional_keys = ('b',)
        allow_extra_keys = True
        description = 'Declared'

    schema = Declared()
    assert schema.errors({'a': 1, 'z': 0}) == []
    assert schema.introspect()['description'] == 'Declared'
    assert issues(schema, {}) == [(ERROR_CODE_MISSING, 'Missing key: a', 'a')]


def test_meta_fields() -> None:
    any_of = fields.Any(fields.Integer(), fields.UnicodeString())
    assert any_of.errors('x') == []
    assert issues(any_of, None) == [('INVALID', 'Not an integer', None), ('INVALID', 'Not a unicode string', None)]
    assert issues(fields.All(fields.Integer(gt=0), fields.Integer(lt=0)), 1) == [('INVALID', 'Value not < 0', None)]
    poly = fields.Polymorph('kind', {'a': fields.Dictionary({'kind': fields.Constant('a')})})
    assert poly.errors({'kind': 'a'}) == []
    assert issues(poly, {'kind': 'b'}) == [(ERROR_CODE_UNKNOWN, "Invalid switch value 'b'", None)]
    with pytest.raises(KeyError):
        poly.errors({})
    assert issues(fields.ObjectInstance(int), 'x') == [('INVALID', 'Not an instance of int', None)]
    assert issues(fields.TypeReference(base_classes=int), str) == [
        ('INVALID', "Type <class 'str'> is not one of or a subclass of one of: <class 'int'>", None)
    ]
    assert issues(fields.PythonPath(), 'no_such_module_xyz.x') == [
        ('INVALID', "ImportError: No module named 'no_such_module_xyz'", None)
    ]
    assert fields.TypePath(base_classes=Exception).errors('builtins.ValueError') == []
    check = fields.BooleanValidator(lambda v: v > 0, 'value > 0', 'Not positive')
    assert issues(check, 0) == [('INVALID', 'Not positive', None)]
    assert issues(check, 'x')[0][1].startswith('Validator encountered an error (invalid type?): TypeError(')


def test_deprecated_validates_as_its_field_and_warns() -> None:
    field = fields.Deprecated(fields.Integer(), 'Use b')
    assert issues(field, 'x') == [('INVALID', 'Not an integer', None)]  # Conformity 1.28 fails every value here
    assert [(w.code, w.message) for w in field.warnings(1)] == [(WARNING_CODE_FIELD_DEPRECATED, 'Use b')]
    schema = fields.Dictionary({'a': field})
    assert [(w.pointer, w.message) for w in schema.warnings({'a': 1})] == [('a', 'Use b')]
    assert field.introspect() == {'type': 'integer', 'deprecated': True}


def test_temporal_geo_net_email() -> None:
    assert issues(fields.Date(), datetime.datetime(2020, 1, 1)) == [('INVALID', 'Not a datetime.date instance', None)]
    assert issues(fields.TimeDelta(gt=datetime.timedelta(0)), datetime.timedelta(0)) == [
        ('INVALID', 'Value not > 0:00:00', None)
    ]
    assert fields.TZInfo().errors(datetime.UTC) == []
    assert issues(fields.Latitude(), 91) == [('INVALID', 'Value not <= 90', None)]
    assert issues(fields.IPv4Address(), '256.0.0.1') == [('INVALID', 'Not a valid IPv4 address', None)]
    assert fields.IPv6Address().errors('::ffff:10.0.0.1') == []
    assert issues(fields.IPv6Address(), '1::2::3') == [
        ('INVALID', 'Not a valid IPv6 address (multiple shorteners)', None)
    ]
    assert fields.IPAddress().introspect() == {
        'type': 'ip_address',
        'options': [{'type': 'ipv4_address'}, {'type': 'ipv6_address'}],
    }
    assert fields.EmailAddress().errors('someone@example.com') == []
    assert issues(fields.EmailAddress(), 'someone@nowhere') == [
        ('INVALID', 'Not a valid email address (invalid domain field)', 'nowhere')
    ]
    assert fields.EmailAddress(whitelist=['nowhere']).errors('someone@nowhere') == []


def test_currency() -> None:
    assert Amount().errors(currint.Amount.from_code_and_minor('USD', 100)) == []
    assert issues(Amount(valid_currencies={'EUR'}, lt=10), currint.Amount.from_code_and_minor('USD', 100)) == [
        ('INVALID', 'Not a valid currency code', None),
        ('INVALID', 'Value not < 10', None),
    ]
    assert issues(AmountString(), 'USD;1') == [
        ('INVALID', 'Currency string does not match format CUR,1234 or CUR:1234', None)
    ]
    assert AmountString(gt=0).errors('USD:5') == []
    assert AmountRequestDictionary(valid_currencies=['USD']).errors({'currency': 'USD', 'value': 1}) == []
    assert issues(AmountResponseDictionary(display_required=False), {'currency': 'USD', 'value': 1}) == [
        (ERROR_CODE_MISSING, 'Missing key: major_value', 'major_value')
    ]


def test_logging_schema() -> None:
    config = {
        'version': 1,
        'handlers': {'console': {'class': 'logging.StreamHandler', 'filters': ['missing']}},
        'root': {'handlers': ['console', 'other'], 'level': 'INFO'},
    }
    assert issues(PYTHON_LOGGING_CONFIG_SCHEMA, config) == [
        (
            ERROR_CODE_UNKNOWN,
            'Handler "console" references filter "missing", which is not configured.',
            'handlers.console.filters.0',
        ),
        (ERROR_CODE_UNKNOWN, 'Logger "root" references handler "other", which is not configured.', 'root.handlers.1'),
    ]
    assert (
        issues(PythonLogLevel(), 'LOUD')[0][1] == 'Value is not one of: "CRITICAL", "DEBUG", "ERROR", "INFO", "WARNING"'
    )


def test_a_subclass_that_overrides_errors_is_asked_directly() -> None:
    class Even(fields.Integer):
        def errors(self, value: object) -> list[Error]:
            return super().errors(value) or ([] if value % 2 == 0 else [Error('Odd')])  # type: ignore[operator]

    schema = fields.Dictionary({'n': Even()})
    assert schema.errors({'n': 2}) == []
    assert issues(schema, {'n': 3}) == [('INVALID', 'Odd', 'n')]


def test_fields_pickle_after_use() -> None:
    schema = fields.Dictionary({'a': fields.List(fields.Integer())})
    assert schema.errors({'a': [1]}) == []
    copy = pickle.loads(pickle.dumps(schema))
    assert copy == schema
    assert issues(copy, {'a': ['x']}) == [('INVALID', 'Not an integer', 'a.0')]


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
    # The compiled check alone proves these valid: no error list is built for the common case.
    assert schema._fast_check(body)
    assert schema._fast_check({**body, 'note': None})
    assert schema.errors(body) == []
    assert not schema._fast_check({**body, 'user_id': 0})
    assert issues(schema, {**body, 'user_id': 0}) == [('INVALID', 'Value not > 0', 'user_id')]


def test_an_additional_validator_always_runs() -> None:
    class OddLength(fields.AdditionalCollectionValidator[list[int]]):
        def errors(self, value: list[int]) -> list[Error]:
            return [] if len(value) % 2 else [Error('Even')]

    schema = fields.List(fields.Integer(), additional_validator=OddLength())
    assert schema.errors([1]) == []
    assert issues(schema, [1, 2]) == [('INVALID', 'Even', None)]


@pytest.mark.parametrize('value', [float('nan'), decimal.Decimal('NaN')])
def test_nan_against_bounds_agrees_with_the_exact_path(value: object) -> None:
    for schema in (fields.Float(gt=1), fields.Float(lte=1), fields.Decimal(gt=decimal.Decimal(1))):
        try:
            exact: object = schema._errors(value)
        except decimal.InvalidOperation:
            exact = 'raised'  # Decimal NaN cannot be ordered: Conformity raises too (the differential test checks it)
        try:
            proved_valid = schema._fast_check(value)
        except decimal.InvalidOperation:
            proved_valid = False
        if proved_valid:
            assert exact == [], (schema, value)


def test_extra_keys_of_mixed_types_are_listed_not_a_crash() -> None:
    # A request's dict may mix text and integer keys (MessagePack allows it): the error names them all.
    schema = fields.Dictionary({'a': fields.UnicodeString()})
    assert issues(schema, {'a': 'x', 2: 'y', 'b': 'z', 10: 'w'}) == [
        (ERROR_CODE_UNKNOWN, 'Extra keys present: 2, 10, b', None)
    ]
    # Keys of one type keep their natural order (as Conformity lists them): 2 before 10.
    assert issues(schema, {'a': 'x', 10: 'w', 2: 'y'}) == [(ERROR_CODE_UNKNOWN, 'Extra keys present: 2, 10', None)]
    assert issues(fields.ClassConfigurationSchema(), {'path': 'x:y', 1: 2, 'z': 3}) == [
        (ERROR_CODE_UNKNOWN, 'Extra keys present: 1, z', None)
    ]
