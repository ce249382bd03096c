"""Redaction of secrets in free text: error messages and tracebacks that a server sends back to its callers.

An exception's message often quotes what it was given: `KeyError: 'password'` is harmless, but
`ValueError: bad login password=hunter2` or a `repr` of a settings dict is not. In text, a value is censored when
it follows a sensitive name (the rule of `pysoa.common.sensitive_keys`) as:

- `name=value` or `name: value`, the name optionally quoted (`'password': 'x'`, `"apiKey": "x"`); the value is a
  quoted string (its quotes are kept) or a bare word (`token=abc123`, `Authorization: Bearer abc123`: an HTTP
  scheme word is taken with its credentials);
- the password of a URL's user information (`redis://user:secret@host`).
"""

import re

from pysoa.common.sensitive_keys import SensitiveKeys

__all__ = ('redacted_text',)

_PAIR = re.compile(
    r"""
    (?P<quote>['"]?)(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)(?P=quote)    # a name, perhaps quoted
    (?P<separator>\s*[:=]\s*)                                        # then = or :
    (?P<value>
        (?P<prefix>b?)(?P<open>['"])(?P<quoted>(?:\\.|(?!(?P=open)).)*)(?P=open)   # a quoted value
      | (?:(?:Bearer|Basic|Digest|Token)\s+)?[^\s,;&(){}\[\]'"<>]+                 # or a bare word
    )
    """,
    re.VERBOSE,
)
_URL_PASSWORD = re.compile(r'(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<password>[^\s@/]+)(?=@)')


def redacted_text(text: str, sensitive: SensitiveKeys, censored: str) -> str:
    """`text` with the values of sensitive names, and URL passwords, replaced by `censored`."""

    def pair(match: re.Match[str]) -> str:
        if not sensitive[match['name']]:
            return match[0]
        start = match.start('value') - match.start()
        if match['open'] is not None:
            value = f'{match["prefix"]}{match["open"]}{censored}{match["open"]}'
        else:
            value = censored
        return match[0][:start] + value

    if ':' not in text and '=' not in text:
        return text  # the common case: nothing that could pair a name with a value
    text = _PAIR.sub(pair, text)
    return _URL_PASSWORD.sub(lambda match: match['head'] + censored, text)
