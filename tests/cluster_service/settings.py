"""The echo service's settings on Redis Cluster: startup nodes in `CLUSTER_HOSTS` (comma-separated URLs).

`CLUSTER_DELIVERY=at-least-once` adds the at-least-once settings of `tests.alo_service.settings`.
"""

import copy
import os
from typing import Any

from examples.echo_service.settings import SOA_SERVER_SETTINGS as _ECHO
from tests.alo_service.settings import SOA_SERVER_SETTINGS as _ALO

SOA_SERVER_SETTINGS: dict[str, Any] = copy.deepcopy(
    _ALO if os.environ.get('CLUSTER_DELIVERY') == 'at-least-once' else _ECHO
)
SOA_SERVER_SETTINGS['transport']['kwargs'].update(
    {
        'backend_type': 'redis.cluster',
        'backend_layer_kwargs': {'hosts': os.environ['CLUSTER_HOSTS'].split(',')},
    }
)
