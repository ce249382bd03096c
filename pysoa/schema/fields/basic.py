"""The scalar fields: numbers, strings, booleans, constants, and the fields that accept (almost) anything."""

import decimal
from typing import ClassVar, cast

import attr

from pysoa.schema.constants import ERROR_CODE_UNKNOWN
from pysoa.schema.fields.arguments import require_no_extras, valid_bool, valid_int, valid_number, valid_text
from pysoa.schema.fields.base import Base, Introspection, Plan, exact_plan, type_plan
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error

__all__ = (
    'Anything',
    'Base',
    'Boolean',
    'ByteString',
    'Constant',
    'Decimal',
    'Float',
    'Hashable',
    'Integer',
    'Introspection',
    'Number',
    'UnicodeDecimal',
    'UnicodeString',
)

Number = int | float | decimal.Decimal
_PLAIN_VALUES = (str, bytes, int, float, bool, type(None))


def _constant_text(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else f'{value}'


class Constant(Base):
    """The value equals the one constant given, or one of the constants given."""

    introspect_type: ClassVar[str] = 'constant'

    def __init__(self, *values: object, description: str | None = None, **unknown: object) -> None:
        self.values = frozenset(values)
        if not self.values:
            raise ValueError(f'{type(self).__name__}: give at least one constant value')
        require_no_extras(self, description, unknown)
        self.description = description
        if len(self.values) == 1:
            self._error_message = f'Value is not {_constant_text(next(iter(self.values)))}'
        else:
            self._error_message = 'Value is not one of: ' + ', '.join(sorted(_constant_text(v) for v in self.values))

    def _errors(self, value: object) -> list[Error]:
        try:
            known = value in self.values
        except TypeError:  # an unhashable value is none of the constants
            known = False
        return [] if known else [Error(self._error_message, code=ERROR_CODE_UNKNOWN)]

    def _compile(self) -> Plan:
        values = self.values

        def check(value: object) -> bool:
            try:
                return value in values
            except TypeError:
                return False

        # Membership compares with `__eq__`, which only plain values are known never to raise.
        return Plan(check, all(type(v) in _PLAIN_VALUES for v in values))

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'values': [
                    v if isinstance(v, str | bool | int | float | None) else str(v)
                    for v in sorted(self.values, key=str)
                ],
                'description': self.description,
            }
        )


@attr.s
class Anything(Base):
    """Any value at all."""

    introspect_type: ClassVar[str] = 'anything'

    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        return []

    def _compile(self) -> Plan:
        return Plan(_always, True)

    def introspect(self) -> Introspection:
        return strip_none({'type': self.introspect_type, 'description': self.description})


def _always(_value: object) -> bool:
    return True


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@attr.s
class Hashable(Anything):
    """A value that `hash()` accepts."""

    introspect_type: ClassVar[str] = 'hashable'

    def _errors(self, value: object) -> list[Error]:
        return [] if _hashable(value) else [Error('Value is not hashable')]

    def _compile(self) -> Plan:
        return Plan(_hashable, False)  # a custom __hash__ may raise anything


@attr.s
class Boolean(Base):
    """`True` or `False`."""

    introspect_type: ClassVar[str] = 'boolean'

    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        return [] if isinstance(value, bool) else [Error('Not a boolean')]

    def _compile(self) -> Plan:
        return type_plan((bool,))

    def introspect(self) -> Introspection:
        return strip_none({'type': self.introspect_type, 'description': self.description})


def bound_errors(value: Number, gt: object, gte: object, lt: object, lte: object) -> list[Error]:
    """The errors of a number against its bounds, in Conformity's order (strictly above, below, then or-equal)."""
    number = cast(decimal.Decimal, value)  # any mix of int, float and Decimal compares; Decimal's stubs say so
    errors = []
    if gt is not None and number <= cast(decimal.Decimal, gt):
        errors.append(Error(f'Value not > {gt}'))
    if lt is not None and number >= cast(decimal.Decimal, lt):
        errors.append(Error(f'Value not < {lt}'))
    if gte is not None and number < cast(decimal.Decimal, gte):
        errors.append(Error(f'Value not >= {gte}'))
    if lte is not None and number > cast(decimal.Decimal, lte):
        errors.append(Error(f'Value not <= {lte}'))
    return errors


@attr.s
class Integer(Base):
    """An int (not a bool), optionally bounded by `gt`, `gte`, `lt` and `lte`."""

    valid_type: ClassVar[type | tuple[type, ...]] = int
    valid_noun: ClassVar[str] = 'an integer'
    introspect_type: ClassVar[str] = 'integer'
    fast_types: ClassVar[tuple[type, ...]] = (int,)
    """The exact types the compiled check accepts (subclasses of them take the exact path)."""

    gt: Number | None = attr.ib(default=None, validator=valid_number())
    gte: Number | None = attr.ib(default=None, validator=valid_number())
    lt: Number | None = attr.ib(default=None, validator=valid_number())
    lte: Number | None = attr.ib(default=None, validator=valid_number())
    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, self.valid_type) or isinstance(value, bool):
            return [Error(f'Not {self.valid_noun}')]
        return bound_errors(cast(Number, value), self.gt, self.gte, self.lt, self.lte)

    def _compile(self) -> Plan:
        gt, gte, lt, lte = self.gt, self.gte, self.lt, self.lte
        types = frozenset(self.fast_types)
        # Decimal comparisons raise on NaN; int and float ones never raise.
        total = decimal.Decimal not in types and all(b is None or type(b) in (int, float) for b in (gt, gte, lt, lte))
        if gt is None and gte is None and lt is None and lte is None:
            return type_plan(types, total)

        def check(value: object) -> bool:
            if type(value) not in types:
                return False
            number = cast(decimal.Decimal, value)
            # The negations of the exact path's tests, so NaN passes and fails as it does there.
            return (
                not (gt is not None and number <= gt)
                and not (lt is not None and number >= lt)
                and not (gte is not None and number < gte)
                and not (lte is not None and number > lte)
            )

        return Plan(check, total)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'gt': self.gt,
                'gte': self.gte,
                'lt': self.lt,
                'lte': self.lte,
            }
        )


@attr.s
class Float(Integer):
    """An int or a float (not a bool), optionally bounded."""

    valid_type: ClassVar[type | tuple[type, ...]] = (int, float)
    valid_noun: ClassVar[str] = 'a float'
    introspect_type: ClassVar[str] = 'float'
    fast_types: ClassVar[tuple[type, ...]] = (int, float)


@attr.s
class Decimal(Integer):
    """A `decimal.Decimal`, optionally bounded."""

    valid_type: ClassVar[type | tuple[type, ...]] = decimal.Decimal
    valid_noun: ClassVar[str] = 'a decimal'
    introspect_type: ClassVar[str] = 'decimal'
    fast_types: ClassVar[tuple[type, ...]] = (decimal.Decimal,)


@attr.s
class UnicodeString(Base):
    """A str, optionally with a `min_length`, a `max_length`, and refused when blank (`allow_blank=False`)."""

    valid_type: ClassVar[type] = str
    valid_noun: ClassVar[str] = 'unicode string'
    introspect_type: ClassVar[str] = 'unicode'

    min_length: int | None = attr.ib(default=None, validator=valid_int())
    max_length: int | None = attr.ib(default=None, validator=valid_int())
    description: str | None = attr.ib(default=None, validator=valid_text())
    allow_blank: bool = attr.ib(default=True, validator=valid_bool())

    def __attrs_post_init__(self) -> None:
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise ValueError(f'{type(self).__name__}: min_length cannot be greater than max_length')

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, self.valid_type):
            return [Error(f'Not a {self.valid_noun}')]
        text = cast(str, value)
        if self.min_length is not None and len(text) < self.min_length:
            return [Error(f'String must have a length of at least {self.min_length}')]
        if self.max_length is not None and len(text) > self.max_length:
            return [Error(f'String must have a length no more than {self.max_length}')]
        if not (self.allow_blank or text.strip()):
            return [Error('String cannot be blank')]
        return []

    def _compile(self) -> Plan:
        value_type, min_length, max_length, allow_blank = (
            self.valid_type,
            self.min_length,
            self.max_length,
            self.allow_blank,
        )
        if min_length is None and max_length is None and allow_blank:
            return type_plan((value_type,))

        def check(value: object) -> bool:
            if type(value) is not value_type:
                return False
            text = cast(str, value)
            return (
                not (min_length is not None and len(text) < min_length)
                and not (max_length is not None and len(text) > max_length)
                and bool(allow_blank or text.strip())
            )

        return Plan(check, True)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'min_length': self.min_length,
                'max_length': self.max_length,
                'allow_blank': self.allow_blank and None,  # shown only when blank strings are refused
            }
        )


@attr.s
class ByteString(UnicodeString):
    """A bytes value, with the same length and blankness options as `UnicodeString`."""

    valid_type: ClassVar[type] = bytes
    valid_noun: ClassVar[str] = 'byte string'
    introspect_type: ClassVar[str] = 'bytes'


@attr.s
class UnicodeDecimal(Base):
    """A str that `decimal.Decimal` can parse."""

    introspect_type: ClassVar[str] = 'unicode_decimal'

    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, str):
            return [Error('Invalid decimal value (not unicode string)')]
        try:
            decimal.Decimal(value)
        except decimal.InvalidOperation:
            return [Error('Invalid decimal value (parse error)')]
        return []

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)

    def introspect(self) -> Introspection:
        return strip_none({'type': self.introspect_type, 'description': self.description})
