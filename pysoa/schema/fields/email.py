"""The email address field: a str that is an address by RFC 2822, with a `whitelist` of extra accepted domains."""

import re
import warnings
from collections.abc import Iterable
from typing import ClassVar, cast

from pysoa.schema.fields.base import Introspection, Plan, exact_plan
from pysoa.schema.fields.basic import UnicodeString
from pysoa.schema.fields.net import IPAddress
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error

__all__ = ('EmailAddress',)

# The local part: a dot-atom (atoms of letters, digits and the RFC's specials, joined by single dots), or a
# quoted string of printable ASCII with backslash escapes.
_ATOM = r"[-!#$%&'*+/=?^_`{}|~0-9A-Z]+"
_QUOTED_CHARACTER = r'[\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177]'
_USER = rf'(^{_ATOM}(\.{_ATOM})*\Z|^"({_QUOTED_CHARACTER})*"\Z)'
# The domain: labels of up to 63 letters, digits and inner hyphens, then a top-level label not ending in '-'.
_LABEL = r'[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?'
_DOMAIN = rf'((?:{_LABEL}\.)+)(?:[A-Z0-9-]{{2,63}}(?<!-))\Z'
# An address literal: an IPv4 or IPv6 address in brackets.
_LITERAL = r'\[([A-f0-9:.]+)\]\Z'


class EmailAddress(UnicodeString):
    """A str that is a valid email address; domains in `whitelist` pass even when not valid domain names."""

    introspect_type: ClassVar[str] = 'email_address'
    ip_schema: ClassVar[IPAddress] = IPAddress()

    user_regex: ClassVar[re.Pattern[str]] = re.compile(_USER, re.IGNORECASE)
    domain_regex: ClassVar[re.Pattern[str]] = re.compile(_DOMAIN, re.IGNORECASE)
    literal_regex: ClassVar[re.Pattern[str]] = re.compile(_LITERAL, re.IGNORECASE)
    domain_whitelist: frozenset[str] = frozenset({'localhost'})

    # Accepted and ignored, as in Conformity (where they are deprecated).
    message: ClassVar[None] = None
    code: ClassVar[None] = None

    def __init__(
        self,
        message: None = None,
        code: None = None,
        whitelist: Iterable[str] | None = None,
        **kwargs: object,
    ) -> None:
        if whitelist is not None and (
            not hasattr(whitelist, '__iter__') or not all(isinstance(c, str) for c in whitelist)
        ):
            raise TypeError(f"{type(self).__name__}: 'whitelist' must be an iterable of str, not {whitelist!r}")
        if message is not None or code is not None:
            warnings.warn(
                'EmailAddress: the arguments message and code are deprecated', DeprecationWarning, stacklevel=2
            )
        super().__init__(**kwargs)  # type: ignore[arg-type]  # UnicodeString's own options, checked there
        if whitelist is not None:
            self.domain_whitelist = whitelist if isinstance(whitelist, frozenset) else frozenset(whitelist)

    def _errors(self, value: object) -> list[Error]:
        found = super()._errors(value)
        if found:
            return found
        address = cast(str, value)
        if not address or '@' not in address:
            return [Error('Not a valid email address (missing @ sign)')]
        user_part, domain_part = address.rsplit('@', 1)
        if not self.user_regex.match(user_part):
            return [Error('Not a valid email address (invalid local user field)', pointer=user_part)]
        if domain_part in self.domain_whitelist or self.is_domain_valid(domain_part):
            return []
        try:
            domain_part = domain_part.encode('idna').decode('ascii')
        except UnicodeError:
            pass
        else:
            if self.is_domain_valid(domain_part):
                return []
        return [Error('Not a valid email address (invalid domain field)', pointer=domain_part)]

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)

    @classmethod
    def is_domain_valid(cls, domain_part: str) -> bool:
        """Whether `domain_part` is a domain name or a bracketed IP address."""
        if cls.domain_regex.match(domain_part):
            return True
        literal = cls.literal_regex.match(domain_part)
        return bool(literal) and not cls.ip_schema.errors(literal.group(1) if literal else '')

    def introspect(self) -> Introspection:
        custom = self.domain_whitelist and self.domain_whitelist is not type(self).domain_whitelist
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'domain_whitelist': sorted(self.domain_whitelist) if custom else None,
            }
        )
