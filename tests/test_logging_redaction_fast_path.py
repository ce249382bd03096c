"""The redaction walk's fast path gives exactly the output of the plain recursive walk, and never mutates its input."""

import collections
import copy
import decimal
from collections.abc import Mapping
from typing import Any

import pytest

from pysoa.common.logging import RecursivelyCensoredDictWrapper

SENSITIVE = RecursivelyCensoredDictWrapper.sensitive_keys()
CENSORED = RecursivelyCensoredDictWrapper.CENSORED_STRING
Point = collections.namedtuple('Point', 'x y')


def _reference(value: Any, censor: bool) -> Any:
    """The straightforward walk the fast path must agree with (the documented rules, nothing else)."""
    if isinstance(value, Mapping):
        return {k: _reference(v, SENSITIVE.is_sensitive(k) if isinstance(k, str) else False) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = (_reference(item, censor) for item in value)
        return type(value)(items) if type(value) in (list, tuple, set, frozenset) else list(items)
    if censor and value and isinstance(value, (str, bytes, bytearray, int, float, decimal.Decimal, complex)):
        if not isinstance(value, bool):
            return CENSORED
    return value


CASES: list[dict[str, Any]] = [
    {},
    {'context': {'correlation_id': 'c8bb568c'}, 'actions': [{'action': 'get_user', 'body': {'user_id': 42}}]},
    {'password': 'hunter2', 'token': b'abc', 'pin': 1234, 'cvv': 1.5, 'secret': '', 'auth': 0, 'ccn': None},
    {'password': True, 'passwords': ['a', '', 0, 7, None, False, b'x', ['nested', {'plain': 'kept'}]]},
    {'passwords': ('a', 'b'), 'tokens': {'x', 'y'}, 'pins': frozenset({1, 2}), 'secret': Point('a', 'b')},
    {'body': {'deep': [{'list': [{'password': 'p', 'other': 'o'}]}, ('t', {'token': 't'})]}},
    {'ordered': collections.OrderedDict([('password', 'p'), ('a', 1)]), 'point': Point(1, {'pin': 5})},
    {'password': decimal.Decimal('3.5'), 'amount': decimal.Decimal('1'), 'secret': bytearray(b'x'), 'c': 1j},
    {'password': {'password': 'inner'}, 'tokens': [[['deep']]], 1: 'int key', None: 'none key'},
    {'unchanged': [[1, 2], (3, 4), {'a': [None, True, 1.5, b'b']}]},
]


@pytest.mark.parametrize('case', CASES)
def test_the_fast_path_matches_the_reference_walk(case: dict[str, Any]) -> None:
    before = copy.deepcopy(case)
    assert str(RecursivelyCensoredDictWrapper(case)) == repr(_reference(case, False))
    assert case == before


def test_an_ordered_dict_at_the_top_is_shown_as_a_plain_dict() -> None:
    wrapped = RecursivelyCensoredDictWrapper(collections.OrderedDict([('password', 'p'), ('a', 1)]))
    assert str(wrapped) == "{'password': '**********', 'a': 1}"


def test_extra_sensitive_fields_take_the_fast_path_too() -> None:
    wrapper = RecursivelyCensoredDictWrapper.with_sensitive_fields(['shoe_size'])
    expected = "{'body': {'shoe_size': '**********', 'name': 'n'}}"
    assert str(wrapper({'body': {'shoe_size': 44, 'name': 'n'}})) == expected
