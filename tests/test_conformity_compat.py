"""Conformity compatibility: where Conformity is installed (`pysoa[conformity]`), 1.x code keeps working.

Conformity fields work wherever a schema goes (inside our fields, as an action's schemas, in a settings
subclass, in introspection), our fields work inside Conformity's, each library's `ClassConfigurationSchema`
takes classes decorated with the other's `provider`, and pysoa's exceptions are also Conformity's. These are
the tests that need Conformity: CI runs them in the venv with the extra, and deselects them (by their file
name, `--without-conformity`) in the venv without it.
"""

from typing import Any

import pytest

from tests.ci import require_module

require_module('conformity')

import conformity.error as conformity_error  # noqa: E402
from conformity import fields as conformity_fields  # noqa: E402
from conformity.settings import Settings as ConformitySettings  # noqa: E402

from pysoa.client import Client  # noqa: E402
from pysoa.common.transport.local import LocalClientTransport  # noqa: E402
from pysoa.schema import fields  # noqa: E402
from pysoa.schema.error import PositionalError, ValidationError  # noqa: E402
from pysoa.schema.settings import Settings  # noqa: E402
from pysoa.schema.validator import validate  # noqa: E402
from pysoa.server import Server  # noqa: E402
from pysoa.server.action import Action  # noqa: E402
from pysoa.server.settings import ServerSettings  # noqa: E402
from pysoa.server.types import EnrichedActionRequest  # noqa: E402


def test_exceptions_are_also_conformitys_where_it_is_installed() -> None:
    assert issubclass(ValidationError, conformity_error.ValidationError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(Settings.ImproperlyConfigured, ConformitySettings.ImproperlyConfigured)
    assert issubclass(PositionalError, conformity_error.PositionalError)


def test_conformity_fields_work_inside_ours() -> None:
    schema = fields.Dictionary({'a': conformity_fields.Integer(gt=0), 'b': fields.List(conformity_fields.Boolean())})
    assert schema.errors({'a': 1, 'b': [True]}) == []
    assert [(e.message, e.pointer) for e in schema.errors({'a': 0, 'b': ['x']})] == [
        ('Value not > 0', 'a'),
        ('Not a boolean', 'b.0'),
    ]
    assert schema.introspect()['contents']['a'] == {'type': 'integer', 'gt': 0}

    class Mixed(Settings):
        schema = {'n': conformity_fields.Integer()}

    with pytest.raises(Mixed.ImproperlyConfigured):
        Mixed({'n': 'x'})


def test_class_configuration_schema_accepts_conformitys_provider() -> None:

    @conformity_fields.ClassConfigurationSchema.provider(
        conformity_fields.Dictionary({'n': conformity_fields.Integer()})
    )
    class Old:
        def __init__(self, n: int) -> None:
            self.n = n

    globals()['Old'] = Old
    schema = fields.ClassConfigurationSchema()
    assert [e.message for e in schema.errors({'path': f'{__name__}:Old', 'kwargs': {'n': 'x'}})] == ['Not an integer']


def test_pysoa_settings_and_validation_errors_are_conformitys() -> None:
    with pytest.raises(ConformitySettings.ImproperlyConfigured, match='Unknown setting'):
        ServerSettings({'no_such_setting': 1})
    with pytest.raises(conformity_error.ValidationError):
        validate(fields.Integer(), 'x')


class OneXSettings(ServerSettings):
    """A 1.x service's own settings: pysoa's schema extended with Conformity fields."""

    schema = {
        'retries': conformity_fields.Integer(gte=0),
        'cache': conformity_fields.ClassConfigurationSchema(base_class=object),
    }
    defaults = {
        'retries': 3,
        'cache': {
            'path': 'pysoa.common.transport.local:LocalClientTransport',
            'kwargs': {'server_class': 'tests.test_conformity_compat:OneXServer', 'server_settings': {}},
        },
    }


def test_a_settings_subclass_extends_pysoas_schema_with_conformity_fields() -> None:
    settings = OneXSettings({})
    assert settings['retries'] == 3 and 'transport' in settings
    # Conformity's ClassConfigurationSchema took a pysoa class decorated with our provider, and resolved it.
    assert settings['cache']['object'] is LocalClientTransport
    with pytest.raises(ConformitySettings.ImproperlyConfigured, match='retries'):
        OneXSettings({'retries': -1})
    with pytest.raises(OneXSettings.ImproperlyConfigured, match=r'(?s)cache.*kwargs\.server_class'):
        OneXSettings(
            {
                'cache': {
                    'path': 'pysoa.common.transport.local:LocalClientTransport',
                    'kwargs': {'server_class': 'x', 'server_settings': {}},
                }
            }
        )


def test_conformitys_class_configuration_schema_takes_our_provider() -> None:
    provided = LocalClientTransport._conformity_initialization_schema  # type: ignore[attr-defined]
    assert isinstance(provided, conformity_fields.SchemalessDictionary)  # what Conformity requires
    assert isinstance(provided, fields.Dictionary)  # and ours to anyone who reads it
    assert provided.extend({'x': fields.Integer()}).contents['x'] == fields.Integer()
    schema = conformity_fields.ClassConfigurationSchema(base_class=object)
    value: dict[str, Any] = {'path': 'pysoa.common.transport.local:LocalClientTransport', 'kwargs': {}}
    assert [(e.message, e.pointer) for e in schema.errors(value)] == [
        ('Missing key: server_class', 'kwargs.server_class'),
        ('Missing key: server_settings', 'kwargs.server_settings'),
    ]
    assert schema.introspect()['kwargs_contents_map'] == {
        'pysoa.common.transport.local:LocalClientTransport': provided.introspect()
    }


def test_our_fields_nest_inside_conformitys() -> None:
    schema = conformity_fields.Dictionary(
        {'a': fields.Integer(gt=0), 'b': conformity_fields.List(fields.UnicodeString())}, optional_keys=('b',)
    )
    assert schema.errors({'a': 1}) == []
    assert [(e.message, e.pointer) for e in schema.errors({'a': 0, 'b': [1]})] == [
        ('Value not > 0', 'a'),
        ('Not a unicode string', 'b.0'),
    ]
    assert schema.introspect()['contents']['b'] == {'type': 'list', 'contents': {'type': 'unicode'}}


class OneXAction(Action):
    """An action written for PySOA 1.4.9, with Conformity schemas."""

    request_schema = conformity_fields.Dictionary({'name': conformity_fields.UnicodeString(min_length=1)})
    response_schema = conformity_fields.Dictionary({'greeting': conformity_fields.UnicodeString()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        if request.body['name'] == 'bad':
            return {'greeting': 1}
        return {'greeting': f'hello {request.body["name"]}'}


class OneXServer(Server):
    """A service of 1.x actions."""

    service_name = 'one_x'
    action_class_map = {'greet': OneXAction}


def _client() -> Client:
    transport = {
        'path': 'pysoa.common.transport.local:LocalClientTransport',
        'kwargs': {'server_class': OneXServer, 'server_settings': {}},
    }
    return Client({'one_x': {'transport': transport}})


def test_an_action_with_conformity_schemas_validates_and_introspects() -> None:
    client = _client()
    assert client.call_action('one_x', 'greet', {'name': 'Ada'}).body == {'greeting': 'hello Ada'}
    response = client.call_action('one_x', 'greet', {'name': ''}, raise_action_errors=False)
    assert [(e.code, e.field, e.is_caller_error) for e in response.errors] == [('INVALID', 'name', True)]
    response = client.call_action('one_x', 'greet', {'name': 'bad'}, raise_action_errors=False)
    assert [e.code for e in response.errors] == ['SERVER_ERROR']
    body = client.call_action('one_x', 'introspect', {'action_name': 'greet'}).body
    assert body['actions']['greet']['request_schema'] == OneXAction.request_schema.introspect()
    assert body['actions']['greet']['response_schema'] == OneXAction.response_schema.introspect()
