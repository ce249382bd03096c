"""`Nullable` (a field, or None) and `Null` (None only)."""

from typing import ClassVar

import attr

from pysoa.schema.fields.arguments import valid_field
from pysoa.schema.fields.base import NO_PLAN, Base, FieldLike, Introspection, Plan, errors_of, introspect_of, plan_of
from pysoa.schema.types import Error

__all__ = (
    'Null',
    'Nullable',
)


@attr.s
class Nullable(Base):
    """`None`, or a value that passes `field`."""

    introspect_type: ClassVar[str] = 'nullable'

    field: FieldLike = attr.ib(validator=valid_field())

    def _errors(self, value: object) -> list[Error]:
        return [] if value is None else errors_of(self.field, value)

    def _compile(self) -> Plan:
        inner = plan_of(self.field)
        inner_check = inner.check
        if inner_check is None:
            return NO_PLAN

        def check(value: object) -> bool:
            return value is None or inner_check(value)

        return Plan(check, inner.total)

    # Like Conformity, no warnings pass through a Nullable: `warnings()` is the base one.

    def introspect(self) -> Introspection:
        return {'type': self.introspect_type, 'nullable': introspect_of(self.field)}


def _is_none(value: object) -> bool:
    return value is None


class Null(Base):
    """`None` and nothing else (the return value of an action that returns nothing, say)."""

    introspect_type: ClassVar[str] = 'null'

    def _errors(self, value: object) -> list[Error]:
        return [] if value is None else [Error('Value is not null')]

    def _compile(self) -> Plan:
        return Plan(_is_none, True)

    def introspect(self) -> Introspection:
        return {'type': self.introspect_type}
