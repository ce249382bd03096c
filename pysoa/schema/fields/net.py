"""IP address fields: a str that is an IPv4 address, an IPv6 address, or either."""

import re
from typing import ClassVar, cast

import attr

from pysoa.schema.fields.base import FieldLike, Introspection, Plan, exact_plan
from pysoa.schema.fields.basic import UnicodeString
from pysoa.schema.fields.meta import Any
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error

__all__ = ('IPAddress', 'IPv4Address', 'IPv6Address', 'ipv4_regex')

_OCTET = r'(25[0-5]|2[0-4]\d|[0-1]?\d?\d)'
ipv4_regex = re.compile(rf'^{_OCTET}(\.{_OCTET}){{3}}$')
"""Four dot-separated decimal octets (`$` also allows one trailing newline, as Conformity's pattern does)."""


@attr.s
class IPv4Address(UnicodeString):
    """A str holding a dotted-quad IPv4 address."""

    introspect_type: ClassVar[str] = 'ipv4_address'

    def _errors(self, value: object) -> list[Error]:
        found = super()._errors(value)
        if found:
            return found
        return [] if ipv4_regex.match(cast(str, value)) else [Error('Not a valid IPv4 address')]

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)

    def introspect(self) -> Introspection:
        return strip_none({'type': self.introspect_type, 'description': self.description})


def _ipv6_shape_problem(address: str) -> str | None:
    """What is wrong with the colons and dots of `address`, before its groups are looked at."""
    colons = address.count(':')
    if colons == 0:
        return 'no colons'
    if address.count('::') > 1:
        return 'multiple shorteners'
    if ':::' in address:
        return 'shortener not bounded'
    lone_colon_at_start = address.startswith(':') and not address.startswith('::')
    lone_colon_at_end = address.endswith(':') and not address.endswith('::')
    if lone_colon_at_start or lone_colon_at_end:
        return 'colon at start or end'
    if colons > 7:
        return 'too many colons'
    # Without a shortener there must be eight groups, unless the last is an embedded IPv4 address.
    if '::' not in address and colons != 7 and address.count('.') != 3:
        return 'v4 section not valid address'
    return None


def _ipv6_group_problem(expanded: str) -> str | None:
    groups = expanded.split(':')
    for group in groups:
        if group.count('.') == 3:
            if group != groups[-1]:
                return 'v4 section not at end'
            if not ipv4_regex.match(group):
                return 'v4 section not valid address'
            continue
        try:
            number = int(group, 16)
        except ValueError:
            return 'invalid hextet'
        if number < 0 or number > 0xFFFF:
            return 'invalid hextet'
    return None


@attr.s
class IPv6Address(UnicodeString):
    """A str holding an IPv6 address, shortened (`::`) or not, possibly ending in an IPv4 address."""

    introspect_type: ClassVar[str] = 'ipv6_address'

    def _errors(self, value: object) -> list[Error]:
        found = super()._errors(value)
        if found:
            return found
        address = cast(str, value)
        problem = _ipv6_shape_problem(address) or _ipv6_group_problem(self.expand_ipv6_address(address))
        return [Error(f'Not a valid IPv6 address ({problem})')] if problem else []

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)

    @staticmethod
    def expand_ipv6_address(value: str) -> str:
        """The address with its `::` filled with zero groups and every group four lower-case digits long."""
        halves = value.split('::')
        # An embedded IPv4 address takes the room of two groups.
        group_count = 7 if '.' in value.split(':')[-1] else 8
        if len(halves) > 1:
            left, right = halves[0].split(':'), halves[1].split(':')
            groups = left + ['0000'] * (group_count - len(left) - len(right)) + right
        else:
            groups = value.split(':')
        return ':'.join(group.rjust(4, '0').lower() for group in groups)

    def introspect(self) -> Introspection:
        return strip_none({'type': self.introspect_type, 'description': self.description})


class IPAddress(Any):
    """A str holding an IPv4 or an IPv6 address."""

    introspect_type: ClassVar[str] = 'ip_address'

    def __init__(self, **kwargs: str | None) -> None:
        options: tuple[FieldLike, ...] = (IPv4Address(), IPv6Address())
        super().__init__(*options, **kwargs)
