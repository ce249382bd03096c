"""Redaction of secrets in logged messages: `RecursivelyCensoredDictWrapper`.

The wrapper is handed to the logger in place of a request or response dict; the walk that replaces
sensitive values runs only when (and if) the record is formatted, so a disabled level costs nothing.
Every request and response logged at INFO goes through the walk, so it has a fast path for the plain
dicts, lists and scalars that decoded messages are made of. The text is cut at the log bound
(`pysoa.common.log_text`), so a large message never makes a large log line.
"""

import numbers
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

from pysoa.common.log_text import truncated
from pysoa.common.sensitive_keys import SensitiveKeys
from pysoa.common.text_redaction import redacted_text

__all__ = ('RecursivelyCensoredDictWrapper',)

# bool is a Number too; it is excluded where this is used (a True flag gives nothing away).
_CENSORED_SCALARS = (str, bytes, bytearray, numbers.Number)

# The scalar types of decoded requests, checked by exact type on the redaction walk's fast path.
_PLAIN_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})
_PLAIN_CENSORED_SCALARS = frozenset({str, int, float, bytes})


def _spellings(snake_case: str, plural: bool = True) -> frozenset[str]:
    """The snake_case, kebab-case and camelCase spellings of a term, and of its plural unless told not to."""
    terms = [snake_case]
    if plural:
        head, _, last = snake_case.rpartition('_')
        last = last[:-1] + 'ies' if last.endswith('ty') else last + 's'
        terms.append(f'{head}_{last}' if head else last)
    spellings: set[str] = set()
    for term in terms:
        words = term.split('_')
        spellings.update((term, '-'.join(words), words[0] + ''.join(w.capitalize() for w in words[1:])))
    return frozenset(spellings)


class RecursivelyCensoredDictWrapper:
    """Wraps a dict for logging: its str/repr is a copy with the values of sensitive keys replaced, at any depth.

    A value is censored when its key is sensitive and it is a non-empty string, bytes or non-zero number (not a
    bool, not None). A key is sensitive when it is one of `SENSITIVE_FIELDS` compared without case and separators
    (`apiKey`, `API-KEY`), or contains a sensitive stem (`user_password`, `sessionId`): the rule is in
    `pysoa.common.sensitive_keys`. Lists, tuples and sets under a
    sensitive key have their items censored; dicts anywhere are censored by their own keys. The
    work happens on the first str/repr and is cached. To add keys, subclass and extend
    `SENSITIVE_FIELDS`, or call `with_sensitive_fields`.
    """

    SENSITIVE_FIELDS: ClassVar[frozenset[str]] = frozenset().union(
        # Authentication and related
        *(
            _spellings(term)
            for term in (
                'password',
                'passwd',
                'passphrase',
                'pass_phrase',
                'private',
                'private_key',
                'secret',
                'secret_key',
                'security_code',
            )
        ),
        *(
            _spellings(term, plural=False)
            for term in (
                'pass',
                'auth',
                'token',
                'auth_token',
                'authorization',
                'authorization_token',
                'authentication',
                'authentication_token',
            )
        ),
        # Payment cards, banking and related
        *(
            _spellings(term)
            for term in (
                'credit_card',
                'credit_card_number',
                'card_number',
                'cc_number',
                'ccn',
                'cid',
                'csc',
                'csn',
                'cvc',
                'cvc2',
                'cvd',
                'cve',
                'cvn2',
                'cvv',
                'cvv2',
                'icvv',
                'card_id',
                'card_identification',
                'card_identification_code',
                'card_identification_number',
                'card_identification_value',
                'card_security',
                'card_security_code',
                'card_security_number',
                'card_security_value',
                'card_validation',
                'card_validation_code',
                'card_validation_number',
                'card_validation_value',
                'card_verification',
                'card_verification_code',
                'card_verification_number',
                'card_verification_value',
                'account_number',
                'bank_account',
                'bank_account_number',
                'pin',
                'pin_code',
                'pin_number',
                'personal_id_number',
                'personal_identification_number',
            )
        ),
    )
    """Keys whose values are censored, in snake_case, kebab-case and camelCase, singular and plural."""

    CENSORED_STRING = '**********'

    _sensitive_keys: ClassVar[SensitiveKeys | None] = None

    MAXIMUM_CHARACTERS: ClassVar[int | None] = None
    """Where the text is cut (None: `pysoa.common.log_text.MAXIMUM_LOG_CHARACTERS`; 0: nowhere)."""

    def __init__(self, wrapped_dict: Mapping[str, object]) -> None:
        if not isinstance(wrapped_dict, Mapping):
            raise ValueError('wrapped_dict must be a dict')
        self._wrapped_dict = wrapped_dict
        self._repr_cache: str | None = None

    @classmethod
    def with_sensitive_fields(cls, extra_fields: Iterable[str]) -> type[Self]:
        """Return a subclass that also censors the values of `extra_fields` (for example a server's settings)."""
        extra = frozenset(extra_fields)
        if extra <= cls.SENSITIVE_FIELDS:
            return cls
        namespace = {'SENSITIVE_FIELDS': cls.SENSITIVE_FIELDS | extra, '__module__': cls.__module__}
        return type(cls.__name__, (cls,), namespace)

    def __repr__(self) -> str:
        if self._repr_cache is None:
            try:
                text = repr(self._censored(self._wrapped_dict, False, self.sensitive_keys()))
            except RecursionError:
                # Nested nearly as deep as a message may be, the walk and repr() run out of stack inside logging.
                text = '<a message nested too deeply to log>'
            self._repr_cache = truncated(text, self.MAXIMUM_CHARACTERS)
        return self._repr_cache

    def __str__(self) -> str:
        return self.__repr__()

    def __bytes__(self) -> bytes:
        return self.__repr__().encode('utf-8')

    @classmethod
    def sensitive_keys(cls) -> SensitiveKeys:
        """The rule deciding which keys are censored (`pysoa.common.sensitive_keys`), built from `SENSITIVE_FIELDS`."""
        keys = cls.__dict__.get('_sensitive_keys')
        if keys is None or keys.fields is not cls.SENSITIVE_FIELDS:
            # Built per class, and again if a subclass or a test replaces SENSITIVE_FIELDS after the fact.
            keys = SensitiveKeys(cls.SENSITIVE_FIELDS)
            cls._sensitive_keys = keys
        return keys

    @classmethod
    def redact_text(cls, text: str) -> str:
        """`text` with the values of sensitive `key=value` and `'key': 'value'` pairs censored (same rule as keys)."""
        return redacted_text(text, cls.sensitive_keys(), cls.CENSORED_STRING)

    # The fast path of the walk (every request and response logged at INFO goes through it): plain dicts, lists
    # and tuples of plain scalars are checked by exact type, and are returned as they are, not copied, when
    # nothing in them is censored (their repr is then the same as a copy's). Anything else takes the general
    # path, `_censor_value`. The loops call each other directly for nested plain containers: on this path a
    # function call per container is a measurable share of the cost. `sensitive[key]` is a dict look-up once a
    # key has been seen (`SensitiveKeys` remembers its decisions).

    @classmethod
    def _censored(cls, value: Any, censor: bool, sensitive: SensitiveKeys) -> Any:
        kind = type(value)
        if kind is dict:
            return cls._censored_plain_dict(value, sensitive)
        if kind is list or kind is tuple:
            return cls._censored_plain_sequence(value, censor, sensitive)
        if kind in _PLAIN_SCALARS:
            return cls.CENSORED_STRING if censor and value and kind in _PLAIN_CENSORED_SCALARS else value
        return cls._censor_value(value, censor, sensitive)

    @classmethod
    def _censored_plain_dict(cls, value: dict[Any, Any], sensitive: SensitiveKeys) -> dict[Any, Any]:
        copy: dict[Any, Any] | None = None
        for key, item in value.items():
            item_kind = type(item)
            if item_kind in _PLAIN_SCALARS:
                if not (item and item_kind in _PLAIN_CENSORED_SCALARS and sensitive[key]):
                    continue
                new_item: Any = cls.CENSORED_STRING
            elif item_kind is dict:
                new_item = cls._censored_plain_dict(item, sensitive)
            elif item_kind is list or item_kind is tuple:
                new_item = cls._censored_plain_sequence(item, sensitive[key], sensitive)
            else:
                new_item = cls._censor_value(item, sensitive[key], sensitive)
            if new_item is item:
                continue
            if copy is None:
                copy = dict(value)
            copy[key] = new_item
        return value if copy is None else copy

    @classmethod
    def _censored_plain_sequence(
        cls, value: list[Any] | tuple[Any, ...], censor: bool, sensitive: SensitiveKeys
    ) -> list[Any] | tuple[Any, ...]:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            item_kind = type(item)
            if item_kind in _PLAIN_SCALARS:
                if not (censor and item and item_kind in _PLAIN_CENSORED_SCALARS):
                    continue
                new_item: Any = cls.CENSORED_STRING
            elif item_kind is dict:
                new_item = cls._censored_plain_dict(item, sensitive)
            elif item_kind is list or item_kind is tuple:
                new_item = cls._censored_plain_sequence(item, censor, sensitive)
            else:
                new_item = cls._censor_value(item, censor, sensitive)
            if new_item is item:
                continue
            if items is None:
                items = list(value)
            items[index] = new_item
        if items is None:
            return value
        return items if type(value) is list else tuple(items)

    @classmethod
    def _censor_dict(cls, value: Mapping[Any, Any], sensitive: SensitiveKeys) -> dict[Any, Any]:
        return {k: cls._censored(v, sensitive[k], sensitive) for k, v in value.items()}

    @classmethod
    def _censor_value(cls, value: Any, censor: bool, sensitive: SensitiveKeys) -> Any:
        if isinstance(value, Mapping):
            return cls._censor_dict(value, sensitive)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = (cls._censored(item, censor, sensitive) for item in value)
            if type(value) in (list, tuple, set, frozenset):
                return type(value)(items)
            # A namedtuple or custom container may not take an iterable: a plain list shows the content.
            return list(items)
        if censor and value and isinstance(value, _CENSORED_SCALARS) and not isinstance(value, bool):
            return cls.CENSORED_STRING
        return value
