"""`BooleanValidator`: a value for which a callable says true."""

import typing
from collections.abc import Callable
from typing import ClassVar

import attr

from pysoa.schema.fields.arguments import bad_option, valid_text
from pysoa.schema.fields.base import Base, Introspection, Plan, exact_plan
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error

__all__ = ('BooleanValidator',)


def _valid_callable(instance: object, attribute: 'attr.Attribute[typing.Any]', value: typing.Any) -> None:
    if not callable(value):
        bad_option(instance, "'validator'", 'a callable taking the value and returning a bool', value)


@attr.s
class BooleanValidator(Base):
    """A value for which `validator(value)` is true; `error` is the message otherwise."""

    introspect_type: ClassVar[str] = 'boolean_validator'

    validator: Callable[[object], object] = attr.ib(validator=_valid_callable)
    validator_description: str = attr.ib(validator=valid_text(allow_none=False))
    error: str = attr.ib(validator=valid_text(allow_none=False))
    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        try:
            ok = self.validator(value)
        except Exception as e:  # the validator's failure is the value's error, as in Conformity
            return [Error(f'Validator encountered an error (invalid type?): {e!r}')]
        return [] if ok else [Error(self.error)]

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)

    def introspect(self) -> Introspection:
        return strip_none(
            {'type': self.introspect_type, 'description': self.description, 'validator': self.validator_description}
        )
