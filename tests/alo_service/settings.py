"""The echo service's settings with at-least-once delivery and short heartbeats (`ALO_MAX_DELIVERIES`, default 2)."""

import copy
import os
from typing import Any

from examples.echo_service.settings import SOA_SERVER_SETTINGS as _ECHO

SOA_SERVER_SETTINGS: dict[str, Any] = copy.deepcopy(_ECHO)
SOA_SERVER_SETTINGS['transport']['kwargs'].update(
    {
        'delivery': 'at-least-once',
        'max_deliveries': int(os.environ.get('ALO_MAX_DELIVERIES', '2')),
        'heartbeat_interval_in_seconds': 0.25,
        'heartbeat_expiry_in_seconds': 1.5,
    }
)
