"""ServerSettings: defaults, merging and refusal of unknown keys."""

import logging
import logging.config

import pytest

from pysoa.server.settings import DEFAULT_TRANSPORT_PATH, ServerSettings

LOCAL = {'path': 'pysoa.common.transport.local:LocalServerTransport'}


def test_defaults_match_the_documented_values() -> None:
    settings = ServerSettings({'transport': LOCAL})

    assert settings['client_routing'] == {}
    assert settings['harakiri'] == {'timeout': 300, 'shutdown_grace': 30}
    assert settings['request_log_success_level'] == 'DEBUG'
    assert settings['request_log_error_level'] == 'DEBUG'
    assert settings['request_log_body_max_length'] == 1024
    assert settings['send_traceback_to_callers'] is True
    assert settings['heartbeat_file'] is None
    assert settings['extra_fields_to_redact'] == set()
    assert settings['middleware'] == []
    assert [m['path'] for m in settings['coroutine_middleware']] == [
        'pysoa.server.coroutine:DefaultCoroutineMiddleware',
    ]
    assert settings['logging']['handlers']['console']['formatter'] == 'json'


def test_default_transport_is_the_redis_gateway_server() -> None:
    assert DEFAULT_TRANSPORT_PATH == 'pysoa.common.transport.redis_gateway.server:RedisServerTransport'
    assert ServerSettings.defaults['transport'] == {'path': DEFAULT_TRANSPORT_PATH}


def test_partial_nested_settings_merge_over_the_defaults() -> None:
    settings = ServerSettings({'transport': LOCAL, 'harakiri': {'timeout': 5}})

    assert settings['harakiri'] == {'timeout': 5, 'shutdown_grace': 30}


def test_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(ServerSettings.ImproperlyConfigured, match='harakri'):
        ServerSettings({'transport': LOCAL, 'harakri': {'timeout': 5}})


def test_invalid_value_is_refused_naming_the_setting() -> None:
    with pytest.raises(ServerSettings.ImproperlyConfigured, match='harakiri'):
        ServerSettings({'transport': LOCAL, 'harakiri': {'timeout': -1}})


def test_client_transport_is_not_accepted_as_server_transport() -> None:
    with pytest.raises(ServerSettings.ImproperlyConfigured):
        ServerSettings({'transport': {'path': 'pysoa.common.transport.base:ClientTransport'}})


def test_middleware_must_be_server_middleware() -> None:
    with pytest.raises(ServerSettings.ImproperlyConfigured):
        ServerSettings({'transport': LOCAL, 'middleware': [{'path': 'logging:Filter'}]})


def test_default_logging_config_is_loadable_and_can_switch_to_text() -> None:
    settings = ServerSettings({'transport': LOCAL, 'logging': {'handlers': {'console': {'formatter': 'console'}}}})
    config = settings['logging']
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        [handler] = [h for h in root.handlers if isinstance(h, logging.StreamHandler)][-1:]
        assert handler.formatter is not None
        assert handler.formatter._fmt is not None and '%(correlation_id)s' in handler.formatter._fmt
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
