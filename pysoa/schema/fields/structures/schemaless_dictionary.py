"""`SchemalessDictionary`: a dict whose keys all pass one field and whose values all pass another."""

from collections.abc import Hashable as HashableValue
from collections.abc import Mapping
from typing import ClassVar

import attr

from pysoa.schema.fields.arguments import valid_field, valid_int, valid_text
from pysoa.schema.fields.base import (
    NO_PLAN,
    Base,
    FieldLike,
    Introspection,
    Plan,
    errors_of,
    introspect_of,
    plan_of,
    warnings_of,
)
from pysoa.schema.fields.basic import Anything, Hashable
from pysoa.schema.fields.structures.collection_validator import (
    AdditionalCollectionValidator,
    additional_name,
    check_lengths,
    valid_additional_validator,
    with_additional,
)
from pysoa.schema.fields.utils import strip_none, update_pointer
from pysoa.schema.types import Error, Warning

__all__ = ('SchemalessDictionary',)


@attr.s
class SchemalessDictionary(Base):
    """A dict of any keys; optionally each key passes `key_type`, each value `value_type`, and its size is bounded."""

    introspect_type: ClassVar[str] = 'schemaless_dictionary'

    key_type: FieldLike = attr.ib(factory=Hashable, validator=valid_field())
    value_type: FieldLike = attr.ib(factory=Anything, validator=valid_field())
    max_length: int | None = attr.ib(default=None, validator=valid_int())
    min_length: int | None = attr.ib(default=None, validator=valid_int())
    description: str | None = attr.ib(default=None, validator=valid_text())
    additional_validator: AdditionalCollectionValidator[Mapping[HashableValue, object]] | None = attr.ib(
        default=None, validator=valid_additional_validator()
    )

    def __attrs_post_init__(self) -> None:
        check_lengths(self, self.min_length, self.max_length)

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, dict):
            return [Error('Not a dict')]
        result = []
        if self.max_length is not None and len(value) > self.max_length:
            result.append(Error(f'Dict contains more than {self.max_length} value(s)'))
        elif self.min_length is not None and len(value) < self.min_length:
            result.append(Error(f'Dict contains fewer than {self.min_length} value(s)'))
        for key, member in value.items():
            result.extend(update_pointer(error, key) for error in errors_of(self.key_type, key))
            result.extend(update_pointer(error, key) for error in errors_of(self.value_type, member))
        if not result and self.additional_validator is not None:
            return list(self.additional_validator.errors(value) or [])
        return result

    def warnings(self, value: object) -> list[Warning]:
        if not isinstance(value, dict):
            return []
        result: list[Warning] = []
        for key, member in value.items():
            result.extend(update_pointer(warning, key) for warning in warnings_of(self.key_type, key))
            result.extend(update_pointer(warning, key) for warning in warnings_of(self.value_type, member))
        return result

    def _compile(self) -> Plan:
        # Keys of a dict are hashable by construction, so the default key type needs no check.
        key_plan = None if type(self.key_type) is Hashable else plan_of(self.key_type)
        value_plan = None if type(self.value_type) is Anything else plan_of(self.value_type)
        if (key_plan is not None and key_plan.check is None) or (value_plan is not None and value_plan.check is None):
            return NO_PLAN
        key_check = key_plan.check if key_plan is not None else None
        value_check = value_plan.check if value_plan is not None else None
        min_length, max_length = self.min_length, self.max_length

        def check(value: object) -> bool:
            if type(value) is not dict:
                return False
            if max_length is not None and len(value) > max_length:
                return False
            if min_length is not None and len(value) < min_length:
                return False
            if key_check is not None and not all(map(key_check, value)):
                return False
            return value_check is None or all(map(value_check, value.values()))

        total = all(p is None or p.total for p in (key_plan, value_plan)) and self.additional_validator is None
        return Plan(with_additional(check, self.additional_validator), total)

    def introspect(self) -> Introspection:
        result: Introspection = {
            'type': self.introspect_type,
            'max_length': self.max_length,
            'min_length': self.min_length,
            'description': self.description,
            'additional_validation': additional_name(self.additional_validator),
        }
        # The exact classes only: a subclass of Hashable or Anything is a different key or value type.
        if type(self.key_type) is not Hashable:
            result['key_type'] = introspect_of(self.key_type)
        if type(self.value_type) is not Anything:
            result['value_type'] = introspect_of(self.value_type)
        return strip_none(result)
