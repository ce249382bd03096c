"""The echo service's actions: each one a small `Action` with request and response schemas."""

import os
import time
from typing import Any

from pysoa.common.errors import Error
from pysoa.schema import fields
from pysoa.server.action import Action
from pysoa.server.errors import ActionError
from pysoa.server.types import EnrichedActionRequest

__all__ = ('DivideAction', 'EchoAction', 'LargeAction', 'SleepAction', 'SquareAction', 'WhoAmIAction')

worker_number: int | None = None
"""This process's worker number under `--fork` (1..N), set by the server when it starts; None otherwise."""

_Number = fields.Any(fields.Integer(), fields.Float())


class EchoAction(Action):
    """Return the message it was given."""

    request_schema = fields.Dictionary({'message': fields.UnicodeString()})
    response_schema = fields.Dictionary({'message': fields.UnicodeString()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        """Echo the message back."""
        return {'message': request.body['message']}


class SquareAction(Action):
    """Return the square of a number."""

    request_schema = fields.Dictionary({'number': _Number})
    response_schema = fields.Dictionary({'square': _Number})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        """Square the number."""
        number = request.body['number']
        return {'square': number * number}


class DivideAction(Action):
    """Divide two numbers; dividing by zero is the caller's error (an `ActionError` naming the field)."""

    request_schema = fields.Dictionary({'dividend': _Number, 'divisor': _Number})
    response_schema = fields.Dictionary({'quotient': fields.Float()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        """Divide, or refuse a zero divisor."""
        if request.body['divisor'] == 0:
            raise ActionError(
                errors=[Error(code='DIVISION_BY_ZERO', message='The divisor must not be zero', field='divisor')],
                set_is_caller_error_to=True,
            )
        return {'quotient': float(request.body['dividend']) / request.body['divisor']}


class LargeAction(Action):
    """Return a payload of the requested size (in KiB): big enough to need a chunked response."""

    request_schema = fields.Dictionary({'kib': fields.Integer(gte=1, lte=4096)})
    response_schema = fields.Dictionary({'payload': fields.UnicodeString(), 'kib': fields.Integer()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        """Build the payload: a repeated, recognisable pattern."""
        kib = request.body['kib']
        pattern = '0123456789abcdef' * 64  # exactly 1 KiB
        return {'payload': pattern * kib, 'kib': kib}


class SleepAction(Action):
    """Sleep for the given number of seconds, then say which worker did it (slow jobs, for demos and tests)."""

    request_schema = fields.Dictionary({'seconds': _Number})
    response_schema = fields.Dictionary({'slept': fields.Float(), 'pid': fields.Integer()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        """Sleep, then report."""
        start = time.monotonic()
        time.sleep(request.body['seconds'])
        return {'slept': time.monotonic() - start, 'pid': os.getpid()}


class WhoAmIAction(Action):
    """Say which worker process answered (its PID and, under `--fork`, its worker number)."""

    response_schema = fields.Dictionary({'pid': fields.Integer(), 'worker': fields.Nullable(fields.Integer())})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        """Report this worker."""
        return {'pid': os.getpid(), 'worker': worker_number}
