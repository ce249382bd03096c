"""The headers of a job request the client sends: control (how to run the job) and context (what flows along).

`Client._make_control_header` and `Client._make_context_header` delegate here; they stay methods
because 1.x code calls and patches them.
"""

import os
from collections.abc import Iterable, Mapping

from pysoa.client.arguments import check_mapping, switches_error
from pysoa.client.options import Switches
from pysoa.common.types import Context, Control

__all__ = ('make_context_header', 'make_control_header', 'new_correlation_id', 'with_expiry')

# Bits that make 128 random bits a version 4 (random) UUID: variant 10x, version 0100.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def new_correlation_id() -> str:
    """A new correlation id: a random (version 4) UUID as 32 hex digits, like `uuid.uuid4().hex` but cheaper."""
    return f'{(int.from_bytes(os.urandom(16)) & _UUID4_CLEAR) | _UUID4_SET:032x}'


def make_control_header(
    continue_on_error: bool = False,
    control_extra: Control | None = None,
    suppress_response: bool = False,
) -> Control:
    """The control header: the two flags, then the caller's extra keys (which may override them)."""
    control: Control = {'continue_on_error': continue_on_error, 'suppress_response': suppress_response}
    if control_extra:
        control.update(control_extra)
    return control


def with_expiry(control_extra: Control | None, message_expiry_in_seconds: float | None) -> Control | None:
    """`control_extra` with the request's expiry as its `timeout`, unless it names a timeout of its own."""
    if message_expiry_in_seconds and not (control_extra and 'timeout' in control_extra):
        return dict(control_extra or (), timeout=message_expiry_in_seconds)
    return control_extra


def make_context_header(
    base: Context,
    switches: Switches | None = None,
    correlation_id: str | None = None,
    context_extra: Context | None = None,
) -> Context:
    """The context header: the client's `base` context, the call's correlation id, switches and extra keys.

    The correlation id is the call's, else the base context's, else a new one. The switches are the
    union of the base context's, the call's and the extra context's. Neither `base` nor
    `context_extra` is modified.
    """
    check_mapping(context_extra, 'context')
    context: Context = dict(base) if base else {}
    if correlation_id is not None:
        context['correlation_id'] = correlation_id
    elif 'correlation_id' not in context:
        context['correlation_id'] = new_correlation_id()
    extra_switches = context_extra.get('switches') if context_extra else None
    context['switches'] = _merged_switches(context.get('switches'), switches, extra_switches)
    if context_extra:
        context.update((k, v) for k, v in context_extra.items() if k != 'switches')
    return context


def _merged_switches(base: Iterable[int] | None, switches: Switches | None, extra: Iterable[int] | None) -> list[int]:
    # `base` and `extra` come from context dicts, so they are only hoped to be iterables of ints: checked below.
    if not (base or switches or extra):
        return []
    if isinstance(switches, str | bytes | Mapping):
        raise switches_error(switches)
    merged: set[int] = set(base or ())  # a client's own context is trusted, as in 1.x
    try:
        merged.update(switches or ())
    except TypeError:
        raise switches_error(switches) from None
    try:
        merged.update(extra or ())
    except TypeError:
        raise switches_error(extra, "context['switches']") from None
    return list(merged)
