"""`Polymorph`: a value validated by the field that one of its keys (the switch) selects."""

import typing
from collections.abc import Hashable, Mapping
from typing import ClassVar, cast

import attr

from pysoa.schema.constants import ERROR_CODE_UNKNOWN
from pysoa.schema.fields.arguments import bad_option, require_field, valid_text
from pysoa.schema.fields.base import (
    NO_PLAN,
    Base,
    Check,
    FieldLike,
    Introspection,
    Plan,
    errors_of,
    introspect_of,
    plan_of,
    warnings_of,
)
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error, Warning

__all__ = ('Polymorph',)


def _valid_contents_map(instance: object, attribute: 'attr.Attribute[typing.Any]', value: typing.Any) -> None:
    if not isinstance(value, dict):
        bad_option(instance, "'contents_map'", 'a dict of switch values to fields', value)
    for key, field in value.items():
        require_field(instance, f'contents_map[{key!r}]', field)


@attr.s
class Polymorph(Base):
    """A value validated by one of several fields, chosen by the value at `switch_field` (dotted keys) in it.

    The field under the key `__default__` of `contents_map`, if any, takes switch values not in the map.
    """

    introspect_type: ClassVar[str] = 'polymorph'

    switch_field: str = attr.ib(validator=valid_text(allow_none=False))
    contents_map: Mapping[Hashable, FieldLike] = attr.ib(validator=_valid_contents_map)
    description: str | None = attr.ib(default=None, validator=valid_text())

    def _switch(self, value: object) -> tuple[object, bool]:
        """The key into `contents_map` and whether there is a field for it (raises when the value has no switch)."""
        switch_value = value
        for bit in self.switch_field.split('.'):
            switch_value = cast(Mapping[str, object], switch_value)[bit]
        if switch_value in self.contents_map:
            return switch_value, True
        if '__default__' in self.contents_map:
            return '__default__', True
        return switch_value, False

    def _errors(self, value: object) -> list[Error]:
        switch_value, known = self._switch(value)
        if not known:
            return [Error(f"Invalid switch value '{switch_value}'", code=ERROR_CODE_UNKNOWN)]
        return errors_of(self.contents_map[switch_value], value)

    def warnings(self, value: object) -> list[Warning]:
        switch_value, known = self._switch(value)
        return warnings_of(self.contents_map[switch_value], value) if known else []

    def _compile(self) -> Plan:
        checks: dict[Hashable, Check] = {}
        for key, field in self.contents_map.items():
            plan = plan_of(field)
            if plan.check is None:
                return NO_PLAN
            checks[key] = plan.check
        switch = self._switch

        def check(value: object) -> bool:
            switch_value, known = switch(value)
            return known and checks[switch_value](value)

        return Plan(check, False)  # a value without the switch key raises

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'switch_field': self.switch_field,
                'contents_map': {key: introspect_of(field) for key, field in self.contents_map.items()},
            }
        )
