"""Matching responses to requests by request id.

A transport hands out responses in arrival order, not in the order callers ask for them. While
waiting for one request's response, a caller may receive responses to other requests it (or an
earlier future) sent from the same thread; those are kept here, per thread and per service, until
their own caller asks. Receiving always goes through the client's `get_all_responses`, which test
helpers wrap.
"""

import threading
from collections.abc import Callable, Collection, Iterable

from pysoa.client.errors import PySOAClientError
from pysoa.common.types import JobResponse

__all__ = ('ReceiveAll', 'ResponseMatcher', 'Responses')

Responses = dict[int, JobResponse]
"""Job responses by request id."""

ReceiveAll = Callable[..., Iterable[tuple[int, JobResponse]]]
"""`Client.get_all_responses`: `(service_name, receive_timeout_in_seconds=...) -> (request_id, response)...`."""

_CREATION_LOCK = threading.Lock()


def no_response(service_name: str, request_ids: Collection[int]) -> PySOAClientError:
    """The error for requests whose responses the transport says will never come."""
    # Reached only when the transport reports nothing outstanding while a caller still waits (for
    # example a response suppressed through `control_extra`): waiting longer would not help.
    return PySOAClientError(
        f'The transport for service "{service_name}" has no response outstanding for request(s) {sorted(request_ids)}',
    )


class ResponseMatcher:
    """Receives the responses to given requests, keeping the others for their own callers."""

    __slots__ = ('_local',)

    def __init__(self) -> None:
        # Made on first use: servers build a client per job and most of them never need it.
        self._local: threading.local | None = None

    def _kept(self) -> dict[str, Responses]:
        local = self._local
        if local is None:
            with _CREATION_LOCK:
                local = self._local
                if local is None:
                    local = self._local = threading.local()
        try:
            kept: dict[str, Responses] = local.kept
        except AttributeError:
            kept = local.kept = {}
        return kept

    def take_kept(self, service_name: str) -> list[tuple[int, JobResponse]]:
        """Remove and return the responses kept for `service_name` on this thread."""
        if self._local is None:
            return []
        kept = self._kept().get(service_name)
        if not kept:
            return []
        taken = list(kept.items())
        kept.clear()
        return taken

    def receive_one(
        self,
        receive_all: ReceiveAll,
        service_name: str,
        request_id: int,
        timeout: float | None,
    ) -> JobResponse:
        """The response to `request_id`, from those kept or else from the transport."""
        kept = self._kept()
        kept_for_service = kept.get(service_name)
        if kept_for_service:
            response = kept_for_service.pop(request_id, None)
            if response is not None:
                return response
        for received_id, response in receive_all(service_name, receive_timeout_in_seconds=timeout):
            if received_id == request_id:
                return response
            kept.setdefault(service_name, {})[received_id] = response
        raise no_response(service_name, [request_id])

    def receive_many(
        self,
        receive_all: ReceiveAll,
        service_name: str,
        request_ids: Collection[int],
        timeout: float | None,
        into: Responses | None = None,
    ) -> Responses:
        """Add the responses to all of `request_ids` to `into` as they arrive (so a failure part-way keeps
        what was received, and a retry asks only for the rest); return `into` (a new dict if None)."""
        if into is None:
            into = {}
        missing = set(request_ids) - into.keys()
        kept = self._kept()
        kept_for_service = kept.get(service_name)
        if kept_for_service:
            for request_id in list(missing):
                response = kept_for_service.pop(request_id, None)
                if response is not None:
                    into[request_id] = response
                    missing.discard(request_id)
        if not missing:
            return into
        for received_id, response in receive_all(service_name, receive_timeout_in_seconds=timeout):
            if received_id in missing:
                into[received_id] = response
                missing.discard(received_id)
                if not missing:
                    return into
            else:
                kept.setdefault(service_name, {})[received_id] = response
        raise no_response(service_name, missing)
