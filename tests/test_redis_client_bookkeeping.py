"""How the Redis client transport counts the responses a thread awaits, including what 1.x code relies on: a core
that returns plain tuples, the caller's timeout passed on as given, and responses counted whatever their id."""

from unittest import mock

from pysoa.common.metrics import noop_metrics
from pysoa.common.transport.redis_gateway.client import RedisClientTransport


@mock.patch('pysoa.common.transport.redis_gateway.client.RedisTransportClientCore')
def test_a_stand_in_core_is_driven_as_1x_drove_it(core_class: mock.MagicMock) -> None:
    transport = RedisClientTransport('svc', noop_metrics)
    core = core_class.return_value
    transport.send_request_message(1, {}, {})
    transport.send_request_message(2, {}, {})
    assert transport.requests_outstanding == 2

    core.receive_message.return_value = (77, {}, {'x': 1})  # an id this thread never sent, as a plain tuple
    assert transport.receive_response_message() == (77, {}, {'x': 1})
    assert transport.requests_outstanding == 1
    core.receive_message.assert_called_with(core.receive_message.call_args[0][0], None)

    core.receive_message.return_value = (2, {}, {})
    assert transport.receive_response_message(15) == (2, {}, {})
    assert core.receive_message.call_args[0][1] == 15
    assert transport.requests_outstanding == 0
    assert transport.receive_response_message() == (None, None, None)


@mock.patch('pysoa.common.transport.redis_gateway.client.RedisTransportClientCore')
def test_a_second_response_to_an_answered_request_is_dropped(core_class: mock.MagicMock) -> None:
    transport = RedisClientTransport('svc', noop_metrics)
    core = core_class.return_value
    core.receive_timeout_in_seconds = 0.2
    transport.send_request_message(1, {}, {})
    transport.send_request_message(2, {}, {})
    core.receive_message.side_effect = [(1, {}, {'first': True}), (1, {}, {'again': True}), (2, {}, {'second': True})]

    assert transport.receive_response_message() == (1, {}, {'first': True})
    assert transport.receive_response_message() == (2, {}, {'second': True})  # the repeat of 1 was skipped
    assert transport.requests_outstanding == 0
