"""The `concurrent` service (async actions that show overlap, context and time-outs) and its `callee`."""

import asyncio
import logging
import os
import threading
import time
from typing import Any

from pysoa.server import Server
from pysoa.server.action import Action
from pysoa.server.request_state import current_deadline
from pysoa.server.types import EnrichedActionRequest

__all__ = ('CalleeServer', 'ConcurrentServer')

_logger = logging.getLogger('concurrent_service')

# Named barriers, made on first use: the async ones on the worker's event loop, the sync ones for its job threads.
_events: dict[str, tuple[list[int], asyncio.Event]] = {}
_barriers: dict[str, threading.Barrier] = {}
_barriers_lock = threading.Lock()


async def _wait_at(body: dict[str, Any]) -> dict[str, Any]:
    name, parties = body['name'], body['parties']
    arrived, event = _events.setdefault(name, ([0], asyncio.Event()))
    arrived[0] += 1
    if arrived[0] >= parties:
        event.set()
    try:
        await asyncio.wait_for(event.wait(), body.get('timeout', 20))
    except TimeoutError:
        return {'met': False, 'arrived': arrived[0]}
    return {'met': True, 'arrived': arrived[0]}


class BarrierAction(Action):
    """Wait until `parties` jobs have reached the barrier `name` (or `timeout` seconds): overlap, or not."""

    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return await _wait_at(request.body)


class SyncBarrierAction(Action):
    """The same with a blocking `run`: met only if sync jobs run side by side on the worker's job threads."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        name, parties = request.body['name'], request.body['parties']
        with _barriers_lock:
            barrier = _barriers.setdefault(name, threading.Barrier(parties))
        try:
            barrier.wait(request.body.get('timeout', 20))
        except threading.BrokenBarrierError:
            return {'met': False}
        return {'met': True}


class SleepAction(Action):
    """Await `seconds` of simulated I/O; answer with the worker's PID and the label."""

    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        await asyncio.sleep(request.body['seconds'])
        return {'pid': os.getpid(), 'label': request.body.get('label', '')}


class RecordAction(Action):
    """Append the label to `CONCURRENT_RUNS_FILE` (one line per run), then await `seconds`: shows what ran twice."""

    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        label = request.body['label']
        with open(os.environ['CONCURRENT_RUNS_FILE'], 'a') as runs:
            runs.write(f'{label} {time.time():.3f}\n')
        await asyncio.sleep(request.body.get('seconds', 0))
        return {'label': label}


class SyncSleepAction(Action):
    """Sleep `seconds` in a blocking call, which nothing but the process watchdog can stop."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        time.sleep(request.body['seconds'])
        return {'pid': os.getpid()}


class TraceAction(Action):
    """Log, yield to other jobs, call the callee service, log again: each step should carry this job's context."""

    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        label = request.body['label']
        _logger.info('trace start %s', label)
        met = None
        if 'barrier' in request.body:
            # Every job of the test waits here until all are in flight: their log lines and calls interleave.
            met = await _wait_at(request.body['barrier'])
        await asyncio.sleep(0.01)
        assert request.client is not None
        nested = await request.client.call_action_async('callee', 'context', {'label': label})
        _logger.info('trace end %s nested=%s', label, nested.body['correlation_id'])
        return {
            'correlation_id': request.context.get('correlation_id'),
            'nested': nested.body['correlation_id'],
            'barrier': met,
            'switches': sorted(request.switches),
            'nested_switches': nested.body['switches'],
            'deadline': current_deadline(),
            # The deadline the job's client holds its calls to (a private attribute: this is a test service).
            'client_deadline': request.client._deadline,
        }


class ContextAction(Action):
    """The callee's action: the correlation id and switches its request came with."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {
            'correlation_id': request.context.get('correlation_id'),
            'label': request.body.get('label'),
            'switches': sorted(request.switches),
        }


class ConcurrentServer(Server):
    """The `concurrent` service."""

    service_name = 'concurrent'
    action_class_map = {
        'barrier': BarrierAction,
        'sync_barrier': SyncBarrierAction,
        'record': RecordAction,
        'sleep': SleepAction,
        'sync_sleep': SyncSleepAction,
        'trace': TraceAction,
    }


class CalleeServer(Server):
    """The `callee` service."""

    service_name = 'callee'
    action_class_map = {'context': ContextAction}
