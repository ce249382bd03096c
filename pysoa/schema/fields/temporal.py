"""The date and time fields: `datetime`, `date`, `time` and `timedelta` values with optional bounds, and `tzinfo`."""

import datetime
import warnings
from typing import ClassVar, cast

import attr

from pysoa.schema.fields.arguments import valid_text
from pysoa.schema.fields.base import Base, Introspection, Plan, exact_plan
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error

__all__ = ('Date', 'DateTime', 'TZInfo', 'Time', 'TimeDelta', 'TemporalBase')

Temporal = datetime.date | datetime.time | datetime.timedelta | datetime.tzinfo


def _frozen_by_freezegun(value_type: type, name: str) -> bool:
    # freezegun swaps in its own datetime classes while time is frozen; they count as the real ones. Matching
    # by name spares importing freezegun where it is not used.
    return value_type.__name__ == name and value_type.__module__ == 'freezegun.api'


@attr.s
class TemporalBase(Base):
    """A value of exactly one temporal type, optionally bounded by `gt`, `gte`, `lt` and `lte` of that type."""

    introspect_type: ClassVar[str]
    valid_noun: ClassVar[str]
    valid_types: ClassVar[frozenset[type]]
    freezegun_name: ClassVar[str | None] = None
    valid_isinstance: ClassVar[type | None] = None

    gt: Temporal | None = attr.ib(default=None)
    gte: Temporal | None = attr.ib(default=None)
    lt: Temporal | None = attr.ib(default=None)
    lte: Temporal | None = attr.ib(default=None)
    description: str | None = attr.ib(default=None, validator=valid_text())

    def __attrs_post_init__(self) -> None:
        for name in ('gt', 'gte', 'lt', 'lte'):
            bound = getattr(self, name)
            if bound is not None and self._invalid(bound):
                raise TypeError(
                    f'{type(self).__name__}: {name!r} value {bound!r} cannot be used for comparisons in this type'
                )

    @classmethod
    def _invalid(cls, value: object) -> bool:
        # The exact type, not isinstance: a datetime is a date, yet the two do not compare.
        value_type = type(value)
        if value_type in cls.valid_types:
            return False
        if cls.freezegun_name is not None and _frozen_by_freezegun(value_type, cls.freezegun_name):
            return False
        return not cls.valid_isinstance or not isinstance(value, cls.valid_isinstance)

    def _errors(self, value: object) -> list[Error]:
        if self._invalid(value):
            return [Error(f'Not a {self.valid_noun} instance')]
        moment = cast(datetime.datetime, value)  # the bounds are of the same type (checked when built)
        gt, gte, lt, lte = (cast(datetime.datetime, b) for b in (self.gt, self.gte, self.lt, self.lte))
        errors = []
        if gt is not None and moment <= gt:
            errors.append(Error(f'Value not > {gt}'))
        if lt is not None and moment >= lt:
            errors.append(Error(f'Value not < {lt}'))
        if gte is not None and moment < gte:
            errors.append(Error(f'Value not >= {gte}'))
        elif lte is not None and moment > lte:  # `elif`: Conformity reports one of the or-equal bounds only
            errors.append(Error(f'Value not <= {lte}'))
        return errors

    def _compile(self) -> Plan:
        return exact_plan(self)  # naive and aware datetimes raise when compared

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                # Falsy bounds (a zero timedelta) are not shown, as in Conformity.
                'gt': str(self.gt) if self.gt else None,
                'gte': str(self.gte) if self.gte else None,
                'lt': str(self.lt) if self.lt else None,
                'lte': str(self.lte) if self.lte else None,
            }
        )


@attr.s
class DateTime(TemporalBase):
    """A `datetime.datetime`, optionally bounded by datetimes."""

    valid_types: ClassVar[frozenset[type]] = frozenset({datetime.datetime})
    freezegun_name: ClassVar[str | None] = 'FakeDatetime'
    valid_noun: ClassVar[str] = 'datetime.datetime'
    introspect_type: ClassVar[str] = 'datetime'


@attr.s
class Date(TemporalBase):
    """A `datetime.date` (not a datetime), optionally bounded by dates."""

    valid_types: ClassVar[frozenset[type]] = frozenset({datetime.date})
    freezegun_name: ClassVar[str | None] = 'FakeDate'
    valid_noun: ClassVar[str] = 'datetime.date'
    introspect_type: ClassVar[str] = 'date'


@attr.s
class Time(TemporalBase):
    """A `datetime.time`, optionally bounded by times."""

    valid_types: ClassVar[frozenset[type]] = frozenset({datetime.time})
    valid_noun: ClassVar[str] = 'datetime.time'
    introspect_type: ClassVar[str] = 'time'


@attr.s
class TimeDelta(TemporalBase):
    """A `datetime.timedelta`, optionally bounded by timedeltas."""

    valid_types: ClassVar[frozenset[type]] = frozenset({datetime.timedelta})
    valid_noun: ClassVar[str] = 'datetime.timedelta'
    introspect_type: ClassVar[str] = 'timedelta'


@attr.s
class TZInfo(TemporalBase):
    """A `datetime.tzinfo` (its bounds, accepted for compatibility, are deprecated and cannot be used)."""

    valid_types: ClassVar[frozenset[type]] = frozenset({datetime.tzinfo})
    valid_isinstance: ClassVar[type | None] = datetime.tzinfo
    valid_noun: ClassVar[str] = 'datetime.tzinfo'
    introspect_type: ClassVar[str] = 'tzinfo'

    def __attrs_post_init__(self) -> None:
        if self.gt is not None or self.gte is not None or self.lt is not None or self.lte is not None:
            warnings.warn('TZInfo: the arguments gt, gte, lt and lte are deprecated', DeprecationWarning, stacklevel=3)
        super().__attrs_post_init__()
