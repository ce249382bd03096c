"""pysoa.schema settings, validator, class configuration and the checks made when a schema is built."""

import pytest

from pysoa.schema import fields
from pysoa.schema.error import KeywordError, PositionalError, ValidationError
from pysoa.schema.settings import Settings
from pysoa.schema.validator import validate, validate_call, validate_method


class Base1(Settings):
    schema = {'foo': fields.Integer(), 'bar': fields.Dictionary({'baz': fields.Integer(), 'qux': fields.Boolean()})}
    defaults = {'foo': 1, 'bar': {'baz': 2}}


class More(Base1):
    schema = {'foo': fields.Any(fields.Integer(), fields.UnicodeString()), 'ipsum': fields.UnicodeString()}
    defaults = {'ipsum': 'more'}


class Other(Settings):
    schema = {'lorem': fields.UnicodeString(), 'ipsum': fields.ByteString()}
    defaults = {'lorem': 'lorem'}


class LeftWins(Other, More):
    pass


def test_schema_and_defaults_merge_through_subclasses() -> None:
    assert set(More.schema) == {'foo', 'bar', 'ipsum'}
    assert More.defaults == {'foo': 1, 'bar': {'baz': 2}, 'ipsum': 'more'}
    assert isinstance(LeftWins.schema['ipsum'], fields.ByteString)
    assert LeftWins.defaults['ipsum'] == 'more'


def test_settings_are_a_validated_mapping_with_nested_defaults() -> None:
    settings = More({'bar': {'qux': True}, 'foo': 'x'})
    assert dict(settings) == {'foo': 'x', 'bar': {'baz': 2, 'qux': True}, 'ipsum': 'more'}
    assert settings['bar']['baz'] == 2 and settings.get('nope', 3) == 3 and 'foo' in settings and len(settings) == 3
    assert settings == More({'bar': {'qux': True}, 'foo': 'x'})


def test_bad_settings_raise_improperly_configured() -> None:
    with pytest.raises(Other.ImproperlyConfigured, match=r'^No value provided for required setting\(s\): ipsum$'):
        Other({})
    with pytest.raises(Base1.ImproperlyConfigured, match='qux: Missing key: qux'):
        Base1({})  # bar.qux has no default
    with pytest.raises(Settings.ImproperlyConfigured, match='Unknown setting'):
        Base1({'bar': {'qux': True}, 'extra': 1})
    with pytest.raises(Settings.ImproperlyConfigured) as caught:
        Base1({'bar': {'qux': 'no'}})
    assert str(caught.value) == "Invalid setting 'bar':\n  - qux: Not a boolean\n"


class Configured:
    def __init__(self, size: int) -> None:
        self.size = size


fields.ClassConfigurationSchema.provider(fields.Dictionary({'size': fields.Integer()}))(Configured)


def test_class_configuration_schema_adds_path_and_object() -> None:
    schema = fields.ClassConfigurationSchema(base_class=Configured)
    value = {'path': f'{__name__}:Configured', 'kwargs': {'size': 2}}
    assert schema.errors(value) == []
    assert value['object'] is Configured
    assert schema.errors(value) == []  # validating twice is fine
    assert [(e.message, e.pointer) for e in schema.errors({'path': f'{__name__}:Configured', 'kwargs': {}})] == [
        ('Missing key: size', 'kwargs.size')
    ]
    assert schema.instantiate_from({'path': f'{__name__}.Configured', 'kwargs': {'size': 3}}).size == 3  # type: ignore[attr-defined]
    defaulted = fields.ClassConfigurationSchema(default_path=f'{__name__}:Configured')
    value = {'kwargs': {'size': 1}}
    assert defaulted.errors(value) == [] and value['path'] == f'{__name__}:Configured'
    assert defaulted.introspect()['kwargs_contents_map'] == {
        f'{__name__}:Configured': {
            'type': 'dictionary',
            'contents': {'size': {'type': 'integer'}},
            'optional_keys': [],
            'allow_extra_keys': False,
        }
    }


def test_validate_and_validate_call() -> None:
    with pytest.raises(ValidationError, match='Invalid thing:\n  - Not an integer\n'):
        validate(fields.Integer(), 'x', 'thing')

    @validate_call(fields.Dictionary({'a': fields.Integer()}), fields.Integer())
    def double(a: int) -> int:
        return a * 2

    assert double(a=2) == 4
    with pytest.raises(PositionalError):
        double(2)
    with pytest.raises(ValidationError):
        double(a='x')

    class Thing:
        @validate_method(None, fields.Null(), args=fields.Tuple(fields.Integer()))  # type: ignore[arg-type]
        def take(self, n: int) -> None:
            return None

    Thing().take(1)
    with pytest.raises(ValidationError, match='Invalid positional arguments'):
        Thing().take('x')

    @validate_call(None, fields.Null(), args=fields.List(fields.Integer()))
    def positional_only(*numbers: int, **options: object) -> None:
        return None

    positional_only(1, 2)
    with pytest.raises(KeywordError):
        positional_only(1, x=2)


@pytest.mark.parametrize(
    ('build', 'message'),
    [
        (lambda: fields.Integer(gt='1'), "Integer: 'gt' must be an int, float or Decimal or None, not '1' (str)"),
        (lambda: fields.UnicodeString(min_length=3, max_length=2), 'UnicodeString: min_length cannot be greater'),
        (lambda: fields.Dictionary({'a': int}), "Dictionary: contents['a'] must be a schema field"),
        (
            lambda: fields.Dictionary({'a': fields.Integer()}, optional_keys='a'),
            "Dictionary: 'optional_keys' must be a",
        ),
        (lambda: fields.Dictionary(['a']), "Dictionary: 'contents' must be a dict"),
        (lambda: fields.List(fields.Integer), "List: 'contents' must be a schema field"),
        (lambda: fields.Any(fields.Integer(), 'x'), 'Any: argument 1 must be a schema field'),
        (lambda: fields.Polymorph('kind', {'a': None}), "Polymorph: contents_map['a'] must be a schema field"),
        (lambda: fields.ObjectInstance('int'), "ObjectInstance: 'valid_type' must be a type or a tuple of types"),
        (lambda: fields.Constant(), 'Constant: give at least one constant value'),
        (lambda: fields.Boolean(description=3), "Boolean: 'description' must be a str or None, not 3"),
    ],
)
def test_a_malformed_schema_fails_when_built_naming_the_field(build: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        build()  # type: ignore[operator]
    assert str(caught.value).startswith(message)


def test_a_malformed_settings_schema_fails_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match=r'Broken.schema\[1\]|setting names must be str'):

        class Broken(Settings):
            schema = {1: fields.Integer()}  # type: ignore[dict-item]

    with pytest.raises(TypeError, match=r"Broken2.schema\['a'\] must be a schema field"):

        class Broken2(Settings):
            schema = {'a': 'Integer'}  # type: ignore[dict-item]
