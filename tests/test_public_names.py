"""Every import path that users' code and settings name (design.md, "Users' entry points") keeps working."""

import importlib

import pytest

ENTRY_POINTS = [
    ('pysoa.client', 'Client'),
    ('pysoa.client.client', 'Client'),
    ('pysoa.client.middleware', 'ClientMiddleware'),
    ('pysoa.client.errors', 'CallActionError'),
    ('pysoa.client.errors', 'CallJobError'),
    ('pysoa.client.errors', 'ImproperlyConfigured'),
    ('pysoa.client.errors', 'InvalidExpansionKey'),
    ('pysoa.client.expander', 'ExpansionConverter'),
    ('pysoa.server', 'Server'),
    ('pysoa.server.server', 'Server'),
    ('pysoa.server.action', 'Action'),
    ('pysoa.server.action.base', 'Action'),
    ('pysoa.server.action.switched', 'SwitchedAction'),
    ('pysoa.server.action.status', 'StatusActionFactory'),
    ('pysoa.server.action.status', 'BaseStatusAction'),
    ('pysoa.server.action.introspection', 'IntrospectionAction'),
    ('pysoa.server.errors', 'ActionError'),
    ('pysoa.server.errors', 'JobError'),
    ('pysoa.server.middleware', 'ServerMiddleware'),
    ('pysoa.server.standalone', 'simple_main'),
    ('pysoa.server.standalone', 'django_main'),
    ('pysoa.server.types', 'EnrichedActionRequest'),
    ('pysoa.common.types', 'JobRequest'),
    ('pysoa.common.types', 'ActionRequest'),
    ('pysoa.common.types', 'JobResponse'),
    ('pysoa.common.types', 'ActionResponse'),
    ('pysoa.common.errors', 'Error'),
    ('pysoa.common.constants', 'ERROR_CODE_SERVER_ERROR'),
    ('pysoa.common.constants', 'ERROR_CODE_RESPONSE_TOO_LARGE'),
    ('pysoa.common.serializer', 'MsgpackSerializer'),
    ('pysoa.common.serializer', 'JSONSerializer'),
    ('pysoa.common.transport.local', 'LocalClientTransport'),
    ('pysoa.common.transport.local', 'LocalServerTransport'),
    ('pysoa.common.transport.redis_gateway.client', 'RedisClientTransport'),
    ('pysoa.common.transport.redis_gateway.server', 'RedisServerTransport'),
    ('pysoa.test.server', 'ServerTestCase'),
    ('pysoa.test.server', 'UnitTestServerTestCase'),
    ('pysoa.test.stub_service', 'stub_action'),
    ('pysoa.test.stub_service', 'StubClient'),
    ('pysoa.test.stub_service', 'StubClientTransport'),
    ('pysoa.test.assertions', 'raises_error_codes'),
    ('pysoa.test.assertions', 'raises_field_errors'),
    ('pysoa.test.assertions', 'raises_call_action_error'),
    ('pysoa.test.assertions', 'raises_only_error_codes'),
    ('pysoa.test.assertions', 'raises_only_field_errors'),
    ('pysoa.test.factories', 'ActionFactory'),
    ('pysoa.test.compatibility', 'mock'),
]

SETTINGS_PATHS = [
    'pysoa.common.transport.local:LocalClientTransport',
    'pysoa.common.transport.local:LocalServerTransport',
    'pysoa.common.transport.redis_gateway.client:RedisClientTransport',
    'pysoa.common.transport.redis_gateway.server:RedisServerTransport',
    'pysoa.common.serializer:MsgpackSerializer',
    'pysoa.common.serializer:JSONSerializer',
    'pysoa.common.metrics:NoOpMetricsRecorder',
    'pysoa.common.statsd_recorder:StatsdMetricsRecorder',
    'pysoa.server.sentry:SentryMiddleware',
]


@pytest.mark.parametrize(('module', 'name'), ENTRY_POINTS)
def test_entry_point_imports(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


@pytest.mark.parametrize('path', SETTINGS_PATHS)
def test_settings_path_is_configurable(path: str) -> None:
    """Conformity accepts a `path` only if the class declares its kwargs schema."""
    module_name, class_name = path.split(':')
    cls = getattr(importlib.import_module(module_name), class_name)
    assert hasattr(cls, '_conformity_initialization_schema'), f'{path} cannot be named in settings'


def test_mock_is_unittest_mock() -> None:
    from unittest import mock as unittest_mock

    from pysoa.test.compatibility import mock

    assert mock is unittest_mock


def test_pytest_plugin_is_registered_under_its_1x_name() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group='pytest11')}
    assert plugins.get('pysoa_test_fixtures') == 'pysoa.test.plugins.pytest.fixtures'
