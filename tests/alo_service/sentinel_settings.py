"""The service of `server.py` behind Redis Sentinel (`PYSOA_REDIS_URL`, a redis+sentinel:// URL), for the failover
tests of `test_sentinel_failover.py`: the delivery mode comes from `FAILOVER_DELIVERY` (default at-most-once).

The heartbeats (at-least-once delivery) outlast a failover (about 4 s here): a worker whose heartbeat lapsed while no
master could be reached would be taken for dead, and its in-flight requests run again (docs/delivery.rst).
"""

import copy
import os
from typing import Any

from examples.echo_service.settings import SOA_SERVER_SETTINGS as _ECHO

SOA_SERVER_SETTINGS: dict[str, Any] = copy.deepcopy(_ECHO)
_kwargs = SOA_SERVER_SETTINGS['transport']['kwargs']
_kwargs['backend_type'] = 'redis.sentinel'
_kwargs['backend_layer_kwargs'] = {'sentinel_failover_retries': 8}  # the hosts come from PYSOA_REDIS_URL
_kwargs['delivery'] = os.environ.get('FAILOVER_DELIVERY', 'at-most-once')
if _kwargs['delivery'] == 'at-least-once':
    _kwargs.update({'heartbeat_interval_in_seconds': 1, 'heartbeat_expiry_in_seconds': 20})
