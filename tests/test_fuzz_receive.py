"""Fuzzing the receive path (issue 10, part 8): framing, headers, chunk headers, signature, deserialization, the
envelope checks and the job request's validation, fed generated and mutated Redis list elements.

Whatever arrives, receiving ends in a message or in one of the transport's own errors, quickly and in bounded
memory. The test fails on any other exception; on a case that takes more than `CASE_SECONDS` of CPU time (CPU,
not wall-clock time, so that other processes on a shared machine cannot fail it, and without the garbage
collector's passes over the whole heap; a case that blocks instead is stopped by the test's timeout); or on a
case that allocates more than `MEMORY_FACTOR` times its input plus 1 MiB at its peak (measured with tracemalloc
on every `MEMORY_SAMPLE_EVERY`th case). CI runs `PYSOA_FUZZ_EXAMPLES` cases (default 2000, about 15 s); the long
run sets it higher, and turns off the stack dump of slow tests (dumping the stacks of a running thread can crash
the interpreter, which it did once past 300 s)::

    PYSOA_FUZZ_EXAMPLES=100000 pytest -p no:cacheprovider -o faulthandler_timeout=0 tests/test_fuzz_receive.py

(see docs/operations.rst, "Fuzzing the receive path").
"""

import gc
import itertools
import os
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information
import pytest

hypothesis = pytest.importorskip('hypothesis')

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pysoa.common.logging import RecursivelyCensoredDictWrapper  # noqa: E402
from pysoa.common.serializer.base import Serializer  # noqa: E402
from pysoa.common.serializer.json_serializer import JSONSerializer  # noqa: E402
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer  # noqa: E402
from pysoa.common.transport.errors import InvalidMessageError, MessageReceiveTimeout  # noqa: E402
from pysoa.common.transport.redis_gateway.constants import ProtocolVersion  # noqa: E402
from pysoa.common.transport.redis_gateway.envelope import decode_request, decode_response, encode  # noqa: E402
from pysoa.common.transport.redis_gateway.signing import Signer  # noqa: E402
from pysoa.server.schemas import job_request_errors  # noqa: E402

EXAMPLES = int(os.environ.get('PYSOA_FUZZ_EXAMPLES', '2000'))
CASE_SECONDS = 2.0
MEMORY_SAMPLE_EVERY = 20
MEMORY_FACTOR = 50
NOW = 1_700_000_000.0
MAXIMUM_SIZE = 64 * 1024
SIGNER = Signer((b'f' * 32,))
OPTIONAL_SIGNER = Signer((b'f' * 32,), required=False)
SERIALIZERS: dict[str | None, Serializer] = {'application/json': JSONSerializer()}
MSGPACK = MsgpackSerializer()


def serializer_for(mime_type: str | None) -> Serializer:
    return SERIALIZERS.get(mime_type, MSGPACK)


# ---- what is generated

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        # Keys of mixed types too: MessagePack allows them, and sorting them for an error message once failed.
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(min_value=-3, max_value=3)), children, max_size=4),
    ),
    max_leaves=20,
)
job_requests = st.fixed_dictionaries(
    {
        'control': st.one_of(st.fixed_dictionaries({'continue_on_error': st.booleans()}), values),
        'context': st.one_of(
            st.fixed_dictionaries({'correlation_id': st.text(max_size=8), 'switches': st.lists(st.integers())}), values
        ),
        'actions': st.one_of(
            st.lists(st.fixed_dictionaries({'action': st.text(max_size=8), 'body': values}), max_size=3), values
        ),
    }
)
metas = st.one_of(
    st.fixed_dictionaries(
        {'reply_to': st.text(max_size=30), '__expiry__': st.one_of(st.floats(), st.just(NOW + 60), values)},
        optional={'client_version': st.one_of(st.lists(st.integers(), max_size=3), values)},
    ),
    values,
)
envelopes = st.fixed_dictionaries(
    {'request_id': st.one_of(st.integers(), values), 'meta': metas, 'body': st.one_of(job_requests, values)}
)
header_pieces = st.sampled_from(
    [
        b'pysoa-redis/3//',
        b'pysoa-redis/2//',
        b'pysoa-redis/99999999999999999999//',
        b'content-type:application/msgpack;',
        b'content-type:application/json;',
        b'content-type:text/x-unknown;',
        b'chunk-count:2;',
        b'chunk-count:99999999999999999999;',
        b'chunk-count:-1;',
        b'chunk-id:1;',
        b'chunk-id:2;',
        b'chunk-id:0;',
        b'signature:' + b'0' * 64 + b';',
        b'signature:zz;',
        b' \t',
        b';',
        b':',
    ]
)


@st.composite
def elements(draw: st.DrawFn) -> list[bytes]:
    """One to three list elements: real messages (maybe signed, maybe chunked), then mutated or not."""
    envelope = draw(envelopes)
    serializer = draw(st.sampled_from([MSGPACK, SERIALIZERS['application/json']]))
    version = draw(st.sampled_from(list(ProtocolVersion)))
    signer = draw(st.sampled_from([None, SIGNER]))
    chunk = draw(st.sampled_from([-1, 16, 64]))
    try:
        encoded = encode(envelope, serializer, version, MAXIMUM_SIZE * 4, chunk, signer=signer).elements
    except Exception:  # a generated value the serializer cannot write (JSON and bytes, say): raw bytes instead
        encoded = draw(st.binary(max_size=200))
    parts = list(encoded) if isinstance(encoded, list) else [encoded]
    return [draw(mutated(part)) for part in parts[:3]] if draw(st.booleans()) else parts[:3]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes flipped, cut, inserted or header pieces spliced in."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(buffer)))
        kind = draw(st.sampled_from(['flip', 'cut', 'insert', 'header', 'grow']))
        if kind == 'flip' and position < len(buffer):
            buffer[position] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == 'cut':
            del buffer[position : position + draw(st.integers(min_value=1, max_value=16))]
        elif kind == 'insert':
            buffer[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif kind == 'header':
            buffer[position:position] = draw(header_pieces)
        else:  # a length prefix or a container header claiming far more than there is
            buffer[position:position] = draw(
                st.sampled_from(
                    [
                        b'\xdd\xff\xff\xff\xff',
                        b'\xdf\x7f\xff\xff\xff',
                        b'\xdb\xff\xff\xff\x00',
                        b'\x91' * 200,
                        b'[' * 200,
                    ]
                )
            )
    return bytes(buffer)


# ---- what is checked

EXPECTED = (InvalidMessageError, MessageReceiveTimeout)
"""The transport's own errors: what a server logs and moves on from, what a client raises to its caller."""


_cases = itertools.count()


class _Collections:
    """CPU time the garbage collector spends, so a case is not charged for it: Python may collect the whole heap
    in the middle of any case, and in the long run that heap holds hypothesis's record of 100,000 examples (a 5-byte
    case was once charged 5 s of CPU that did not recur when replayed)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == 'start':
            self._started = time.process_time()
        elif self._started is not None:
            self.seconds += time.process_time() - self._started
            self._started = None


_collections = _Collections()


@pytest.fixture(autouse=True, scope='module')
def _timed_collections() -> Any:
    gc.callbacks.append(_collections)
    yield
    gc.callbacks.remove(_collections)


def receive(decode: Callable[[], Any], size: int) -> None:
    """Decode `size` bytes, and when a message comes out, run what the server runs next on it."""
    measure = next(_cases) % MEMORY_SAMPLE_EVERY == 0 and not tracemalloc.is_tracing()
    if measure:
        tracemalloc.start()
    started, collecting = time.process_time(), _collections.seconds
    try:
        try:
            message = decode()
        except EXPECTED:
            message = None
        if message is not None:
            job_request_errors(message.body)
            repr(RecursivelyCensoredDictWrapper(message.body))
            repr(RecursivelyCensoredDictWrapper(message.meta))
        spent = time.process_time() - started - (_collections.seconds - collecting)
        assert spent < CASE_SECONDS * (5 if measure else 1)  # tracemalloc slows it
    finally:
        if measure:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < MEMORY_FACTOR * size + 1024 * 1024, f'{peak} bytes allocated for {size} bytes received'


def request_with(signer: Signer | None, element: bytes) -> Callable[[], Any]:
    return lambda: decode_request(element, serializer_for, 'fuzz', NOW, maximum_size=MAXIMUM_SIZE, signer=signer)


def response_with(signer: Signer | None, parts: list[bytes]) -> Callable[[], Any]:
    def read_next() -> bytes:
        if not rest:
            raise MessageReceiveTimeout('no more chunks')  # what the core's pop raises when the queue stays empty
        return rest.pop(0)

    rest = list(parts[1:])
    return lambda: decode_response(parts[0], read_next, serializer_for, 'fuzz', NOW, signer=signer)


@pytest.mark.timeout(max(120, EXAMPLES // 40))  # the long run takes minutes, not the default per-test bound
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(elements(), st.sampled_from([None, SIGNER, OPTIONAL_SIGNER]))
def test_receiving_anything_ends_in_a_message_or_a_transport_error(parts: list[bytes], signer: Signer | None) -> None:
    receive(request_with(signer, parts[0]), len(parts[0]))
    receive(response_with(signer, parts), sum(map(len, parts)))


@pytest.mark.timeout(max(120, EXAMPLES // 200))
@settings(max_examples=max(200, EXAMPLES // 10), deadline=None, database=None)
@given(st.binary(max_size=300), st.sampled_from([None, SIGNER]))
def test_receiving_random_bytes_ends_in_a_transport_error(data: bytes, signer: Signer | None) -> None:
    receive(request_with(signer, data), len(data))
    receive(response_with(signer, [data]), len(data))


def test_packed_large_claims_are_refused_quickly() -> None:
    # Spot checks of what the mutations aim at, so a failure here names the case plainly.
    for payload in (b'\x83\xaarequest_id\x01\xa4meta\x80\xa4body\xdd\xff\xff\xff\xff', msgpack.packb([[[[]]]] * 1000)):
        element = b'pysoa-redis/3//content-type:application/msgpack;' + payload
        receive(request_with(None, element), len(element))
