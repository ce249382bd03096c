"""Performs the expansions a caller asked for on a set of action responses.

Work goes in rounds. Each round gathers, from the objects found so far, every id still to expand,
groups the ids by (service, action) and sends one request per group, all before receiving any
response (so the services work in parallel). Fetched objects are placed into their destination
fields, then searched for objects that need expanding in the next round: by the expansions nested
under the one just done, and by every requested top-level type. An id already requested for a
route is not requested again, which stops cycles between types.
"""

import logging
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from pysoa.client.errors import CallActionError, CallJobError
from pysoa.client.expander import ExpansionNode, TypeNode
from pysoa.client.options import CallOptions
from pysoa.common.errors import Error
from pysoa.common.types import ActionResponse, JobResponse

if TYPE_CHECKING:
    from pysoa.client.client import Client

__all__ = (
    'ExpansionRequest',
    'SentRound',
    'apply_round',
    'expand_responses',
    'expansion_plan',
    'find_candidates',
    'perform_expansions',
    'plan_round',
)

_logger = logging.getLogger(__name__)

_Object = dict[str, object]
"""An object found in a response body: a dict with a `_type` key; its values are whatever the service sent."""

_Target = tuple[_Object, ExpansionNode]
"""An object waiting for an expansion."""

_Candidate = tuple[_Object, list[ExpansionNode]]
"""An object to expand and the expansions to try on it."""


def find_candidates(trees: Iterable[TypeNode], bodies: Iterable[dict[str, object]]) -> list[_Candidate]:
    """Every object in `bodies` whose type is the root of one of `trees`, with that tree's expansions."""
    bodies = list(bodies)
    return [(obj, tree.expansions) for tree in trees for body in bodies for obj in tree.find_objects(body)]


class _Group:
    """The ids to fetch with one (service, action) in one round, and the objects waiting for them."""

    __slots__ = ('field', 'ids', 'targets')

    def __init__(self, field: str) -> None:
        self.field = field
        self.ids: set[Hashable] = set()
        self.targets: list[_Target] = []


def expansion_plan(
    client: 'Client', actions: Iterable[ActionResponse], options: CallOptions
) -> tuple[list[TypeNode], list[_Candidate], CallOptions] | None:
    """What `perform_expansions` expands: the trees, the first candidates and the options of the expansion calls;
    None when nothing is to be expanded. Raises the client's `InvalidExpansionKey` for an unknown expansion."""
    converter = client.expansion_converter
    if not options.expansions or converter is None:
        return None
    try:
        trees = converter.dict_to_trees(options.expansions)
        candidates = find_candidates(trees, [a.body for a in actions])
    except KeyError as e:
        raise client.InvalidExpansionKey(f'Invalid key in expansion request: {e.args[0]}')
    # Each expansion is a job of one action, sent with the call's headers but the default control flags.
    return trees, candidates, attrs.evolve(options, continue_on_error=False)


def perform_expansions(client: 'Client', actions: Iterable[ActionResponse], options: CallOptions) -> None:
    """Expand the objects in `actions`' bodies in place, as `options.expansions` ask, with the call's headers."""
    plan = expansion_plan(client, actions, options)
    if plan is not None:
        expand_responses(client, *plan)


ExpansionRequest = tuple[str, list[dict[str, object]], list[_Target]]
"""One request of a round: its service, its actions, and the objects waiting for its response."""

SentRound = dict[str, dict[int, list[_Target]]]
"""The requests of a round once sent: by service, by request id, the objects waiting for each response."""


def expand_responses(
    client: 'Client',
    trees: list[TypeNode],
    candidates: list[_Candidate],
    options: CallOptions,
) -> None:
    """Expand `candidates` in place, calling services through `client`; raise errors as the expansions ask."""
    already_requested: dict[str, set[Hashable]] = {}
    while candidates:
        sent: SentRound = {}
        for service_name, actions, targets in plan_round(candidates, already_requested):
            sent.setdefault(service_name, {})[client._send(service_name, actions, options)] = targets
        received = {
            name: client._receive_job_responses(name, set(by_id), options.expiry) for name, by_id in sent.items()
        }
        candidates = apply_round(sent, received, trees)


def plan_round(candidates: list[_Candidate], already_requested: dict[str, set[Hashable]]) -> list[ExpansionRequest]:
    """The requests of one round: one per (service, action), for the ids not requested before (noted as requested)."""
    requests: list[ExpansionRequest] = []
    for service_name, by_action in _group_round(candidates).items():
        for action_name, group in by_action.items():
            key = f'{service_name}.{action_name}.{group.field}'
            requested = already_requested.setdefault(key, set())
            ids = group.ids - requested
            if not ids:
                _logger.info('Skipping duplicate expansion to avoid infinite recursion: %s = %s', key, group.ids)
                continue
            requested |= ids
            requests.append((service_name, [{'action': action_name, 'body': {group.field: list(ids)}}], group.targets))
    return requests


def apply_round(
    sent: SentRound, received: Mapping[str, Mapping[int, JobResponse]], trees: list[TypeNode]
) -> list[_Candidate]:
    """Put the round's fetched objects in place; raise the errors the expansions ask to raise; return the next
    round's candidates."""
    candidates: list[_Candidate] = []
    job_errors: list[Error] = []
    action_errors: list[ActionResponse] = []
    for service_name, targets_by_request in sent.items():
        for request_id, response in received[service_name].items():
            candidates.extend(
                _apply_response(response, targets_by_request[request_id], trees, job_errors, action_errors)
            )
    if action_errors:
        raise CallActionError(action_errors)
    if job_errors:
        raise CallJobError(job_errors)
    return candidates


def _group_round(candidates: list[_Candidate]) -> dict[str, dict[str, _Group]]:
    groups: dict[str, dict[str, _Group]] = {}
    for obj, nodes in candidates:
        for node in nodes:
            # An object already expanded, or without an id to expand, needs no call.
            if node.destination_field in obj or not obj.get(node.source_field):
                continue
            by_action = groups.setdefault(node.service, {})
            group = by_action.get(node.action)
            if group is None:
                group = by_action[node.action] = _Group(node.request_field)
            group.ids.add(obj[node.source_field])
            group.targets.append((obj, node))
    return groups


def _apply_response(
    response: JobResponse,
    targets: list[_Target],
    trees: list[TypeNode],
    job_errors: list[Error],
    action_errors: list[ActionResponse],
) -> list[_Candidate]:
    """Put fetched objects in place; collect errors that must be raised; return the next round's candidates."""
    if response.errors:
        if any(node.raise_action_errors for _, node in targets):
            job_errors.extend(response.errors)
        return []
    action_response = response.actions[0]
    if action_response.errors and any(node.raise_action_errors for _, node in targets):
        action_errors.append(action_response)
    body = action_response.body
    if not body:
        return []

    next_candidates: list[_Candidate] = []
    nested_done: set[int] = set()
    for obj, node in targets:
        fetched = body[node.response_field]
        key = obj[node.source_field]
        if key in fetched:  # a missing id just means there is nothing to expand it into
            obj[node.destination_field] = fetched[key]
        if node.expansions and id(node) not in nested_done:
            nested_done.add(id(node))
            next_candidates.extend((found, node.expansions) for found in node.find_objects(body))
    if not action_response.errors:
        next_candidates.extend(find_candidates(trees, [body]))
    return next_candidates
