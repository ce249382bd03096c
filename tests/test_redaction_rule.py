"""The redaction rule: sensitive names matched without case or separators, by stem, and in free text."""

import pytest

from pysoa.common.logging import RecursivelyCensoredDictWrapper
from pysoa.common.sensitive_keys import SensitiveKeys

CENSORED = RecursivelyCensoredDictWrapper.CENSORED_STRING


@pytest.mark.parametrize(
    'name',
    [
        'api_key',
        'apiKey',
        'API-KEY',
        'x-api-key',
        'Password',
        'user_password',
        'DB_PASSWD',
        'clientSecret',
        'refresh_token',
        'Authorization',
        'Set-Cookie',
        'sessionId',
        'card_number',
        'cardNumber',
        'cvv',
        'cvv2',
        'CVV',
        'ssn',
        'userSSN',
        'ssn_last4',
        'private_key',
        'PRIVATE-KEY',
        'PIN',
        'shoe_size',  # the service's own list, below
    ],
)
def test_sensitive_names(name: str) -> None:
    wrapper = RecursivelyCensoredDictWrapper.with_sensitive_fields(['shoe_size'])
    assert str(wrapper({name: 'value'})) == repr({name: CENSORED})


@pytest.mark.parametrize('name', ['business_name', 'classname', 'username', 'action', 'email', 'amount', 'cvs'])
def test_ordinary_names_are_kept(name: str) -> None:
    assert str(RecursivelyCensoredDictWrapper({name: 'value'})) == repr({name: 'value'})


def test_decisions_are_remembered_but_not_without_bound() -> None:
    keys = SensitiveKeys(['pin'])
    assert keys['PIN'] and 'PIN' in keys
    for index in range(20_000):
        keys[f'field_{index}']
    assert len(keys) == 10_000
    assert keys['field_19999'] is False
    assert keys[1] is False


def test_replacing_the_sensitive_fields_of_a_subclass_takes_effect() -> None:
    class Wrapper(RecursivelyCensoredDictWrapper):
        pass

    assert str(Wrapper({'colour': 'red'})) == "{'colour': 'red'}"
    Wrapper.SENSITIVE_FIELDS = frozenset({'colour'})
    assert str(Wrapper({'colour': 'red'})) == repr({'colour': CENSORED})


@pytest.mark.parametrize(
    ('text', 'expected'),
    [
        ('bad login password=hunter2 user=bob', f'bad login password={CENSORED} user=bob'),
        ("{'password': 'x', 'n': 1}", f"{{'password': '{CENSORED}', 'n': 1}}"),
        ('{"apiKey": "k1", "name": "n"}', f'{{"apiKey": "{CENSORED}", "name": "n"}}'),
        ('Authorization: Bearer abc123, then more', f'Authorization: {CENSORED}, then more'),
        ('GET /x?API-KEY=zzz&page=2', f'GET /x?API-KEY={CENSORED}&page=2'),
        ("session_token=b'raw'", f"session_token=b'{CENSORED}'"),
        ('redis://:s3cret@127.0.0.1:6379/0', f'redis://:{CENSORED}@127.0.0.1:6379/0'),
        ('redis://user:s3cret@host/0', f'redis://user:{CENSORED}@host/0'),
        ("KeyError: 'password'", "KeyError: 'password'"),
        ('business_name=acme userSSN=123-45-6789', f'business_name=acme userSSN={CENSORED}'),
        ('http://127.0.0.1:80/path', 'http://127.0.0.1:80/path'),
        ('nothing to see here', 'nothing to see here'),
    ],
)
def test_text_redaction(text: str, expected: str) -> None:
    assert RecursivelyCensoredDictWrapper.redact_text(text) == expected


def test_text_redaction_uses_the_services_own_names() -> None:
    wrapper = RecursivelyCensoredDictWrapper.with_sensitive_fields(['shoe_size'])
    assert wrapper.redact_text('shoeSize=44 colour=red') == f'shoeSize={CENSORED} colour=red'
