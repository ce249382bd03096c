"""Which field names are sensitive: the one rule that redaction applies to dict keys and to `key=value` text.

A name is compared in its normalized form: lower case, without `_`, `-`, `.` and spaces, so `api_key`, `apiKey`
and `API-KEY` are one name. It is sensitive when:

- its normalized form is one of the exact names (the redaction wrapper's `SENSITIVE_FIELDS` and the service's
  `extra_fields_to_redact`, normalized the same way); or
- it contains one of the `SENSITIVE_STEMS` (`user_password`, `X-Api-Key`, `sessionId`, `refreshToken`); or
- one of its words is one of the `SHORT_SENSITIVE_STEMS`, alone or followed by digits or a plural `s` (`ssn`,
  `userSSN`, `cvv2`). These are matched by word, not inside a name: `business_name` contains "ssn".

A decision is remembered per name, so a name costs one dict look-up after the first time it is seen.
"""

import re
from collections.abc import Iterable

__all__ = ('SENSITIVE_STEMS', 'SHORT_SENSITIVE_STEMS', 'SensitiveKeys', 'normalized_name')

SENSITIVE_STEMS: tuple[str, ...] = (
    'password',
    'passwd',
    'secret',
    'token',
    'apikey',
    'authorization',
    'cookie',
    'session',
    'cardnumber',
    'privatekey',
)
"""Normalized stems that make any name containing them sensitive."""

SHORT_SENSITIVE_STEMS: tuple[str, ...] = ('cvv', 'ssn')
"""Stems too short to look for inside names; they make a name sensitive when they are one of its words."""

_SEPARATORS = str.maketrans('', '', '_-. ')
# Words of a name in any of snake_case, kebab-case, camelCase and CAPS: `userSSNLast4` -> user, SSN, Last, 4.
_WORDS = re.compile(r'[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+')
_SHORT_WORDS = frozenset(word for stem in SHORT_SENSITIVE_STEMS for word in (stem, stem + 's'))

_MAXIMUM_REMEMBERED = 10_000
"""Names remembered per rule: keys come from requests, and a caller sending endless new names must not fill memory."""


def normalized_name(name: str) -> str:
    """`name` in lower case without separators: the form in which names are compared."""
    return name.lower().translate(_SEPARATORS)


def _has_short_stem(name: str) -> bool:
    words = _WORDS.findall(name)
    for index, word in enumerate(words):
        if word.lower() in _SHORT_WORDS:
            return True
        # `cvv2` splits as cvv, 2: a stem followed by digits is still the stem.
        if index + 1 < len(words) and words[index + 1].isdigit() and word.lower() in SHORT_SENSITIVE_STEMS:
            return True
    return False


class SensitiveKeys(dict[object, bool]):
    """Field name -> whether its values are censored; `keys[name]` decides (and remembers) for any name.

    Anything but a string is never sensitive. Reading `keys[name]` costs a dict look-up for a name seen before.
    """

    __slots__ = ('exact_names', 'fields')

    def __init__(self, exact_names: Iterable[str]) -> None:
        super().__init__()
        # What the rule was built from: the wrapper class compares it to tell when it must build a new one.
        self.fields = exact_names
        self.exact_names = frozenset(normalized_name(name) for name in exact_names if isinstance(name, str))

    def __missing__(self, key: object) -> bool:
        sensitive = isinstance(key, str) and self.is_sensitive(key)
        if len(self) < _MAXIMUM_REMEMBERED:
            self[key] = sensitive
        return sensitive

    def is_sensitive(self, name: str) -> bool:
        """Apply the rule to `name` (without remembering the decision)."""
        normal = normalized_name(name)
        if normal in self.exact_names or any(stem in normal for stem in SENSITIVE_STEMS):
            return True
        return _has_short_stem(name)
