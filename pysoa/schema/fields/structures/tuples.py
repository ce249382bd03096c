"""`Tuple`: a tuple with one member per field, each passing its field."""

from typing import ClassVar, cast

from pysoa.schema.fields.arguments import bad_option, require_fields, require_no_extras
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
from pysoa.schema.fields.structures.collection_validator import (
    AdditionalCollectionValidator,
    additional_name,
    has_errors_method,
    with_additional,
)
from pysoa.schema.fields.utils import strip_none, update_pointer
from pysoa.schema.types import Error, Warning

__all__ = ('Tuple',)


class Tuple(Base):
    """A tuple with exactly one member per field given, each passing its field."""

    introspect_type: ClassVar[str] = 'tuple'

    def __init__(
        self,
        *contents: FieldLike,
        description: str | None = None,
        additional_validator: AdditionalCollectionValidator[tuple[object, ...]] | None = None,
        **unknown: object,
    ) -> None:
        require_fields(self, contents)
        require_no_extras(self, description, unknown)
        if additional_validator and not has_errors_method(additional_validator):
            bad_option(self, "'additional_validator'", 'an AdditionalCollectionValidator', additional_validator)
        self.contents = contents
        self.description = description
        self.additional_validator = additional_validator

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, tuple):
            return [Error('Not a tuple')]
        result = []
        if len(value) != len(self.contents):
            result.append(Error(f'Number of elements {len(value)} does not match expected {len(self.contents)}'))
        for index, (field, member) in enumerate(zip(self.contents, value, strict=False)):
            result.extend(update_pointer(error, index) for error in errors_of(field, member))
        if not result and self.additional_validator:
            return list(self.additional_validator.errors(value) or [])
        return result

    def warnings(self, value: object) -> list[Warning]:
        if not isinstance(value, tuple) or len(value) != len(self.contents):
            return []
        result: list[Warning] = []
        for index, (field, member) in enumerate(zip(self.contents, value, strict=True)):
            result.extend(update_pointer(warning, index) for warning in warnings_of(field, member))
        return result

    def _compile(self) -> Plan:
        plans = [plan_of(field) for field in self.contents]
        if any(plan.check is None for plan in plans):
            return NO_PLAN
        checks = tuple(cast(Check, plan.check) for plan in plans)
        size = len(checks)

        def check(value: object) -> bool:
            if type(value) is not tuple or len(value) != size:
                return False
            return all(member_check(member) for member_check, member in zip(checks, value, strict=True))

        total = all(plan.total for plan in plans) and not self.additional_validator
        return Plan(with_additional(check, self.additional_validator or None), total)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'contents': [introspect_of(field) for field in self.contents],
                'description': self.description,
                'additional_validation': additional_name(self.additional_validator or None),
            }
        )
