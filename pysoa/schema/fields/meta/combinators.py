"""`Any` and `All`: a value that passes at least one, or every one, of several fields."""

from typing import ClassVar, cast

from pysoa.schema.fields.arguments import require_fields, require_no_extras
from pysoa.schema.fields.base import (
    NO_PLAN,
    Base,
    Check,
    FieldLike,
    Introspection,
    Plan,
    errors_of,
    exact_plan,
    introspect_of,
    plan_of,
    warnings_of,
)
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error, Warning

__all__ = (
    'All',
    'Any',
)


class Any(Base):
    """A value that passes at least one of the fields given (tried in order)."""

    introspect_type: ClassVar[str] = 'any'

    def __init__(self, *options: FieldLike, description: str | None = None, **unknown: object) -> None:
        require_fields(self, options)
        require_no_extras(self, description, unknown)
        self.options = options
        self.description = description

    def _errors(self, value: object) -> list[Error]:
        result: list[Error] = []
        for option in self.options:
            found = errors_of(option, value)
            if not found:
                return []
            result.extend(found)
        return result

    def warnings(self, value: object) -> list[Warning]:
        result: list[Warning] = []
        for option in self.options:
            if not errors_of(option, value):
                return warnings_of(option, value)
            result.extend(warnings_of(option, value))
        return result

    def _compile(self) -> Plan:
        plans = [plan_of(option) for option in self.options]
        # The exact path stops at the first option without errors, having asked every option before it: a
        # fast "valid" is the exact path's answer only if none of those earlier options could have raised.
        if not plans or any(plan.check is None for plan in plans) or not all(plan.total for plan in plans[:-1]):
            return exact_plan(self) if plans and all(plan.check for plan in plans) else NO_PLAN
        checks = tuple(cast(Check, plan.check) for plan in plans)

        def check(value: object) -> bool:
            for option_check in checks:
                if option_check(value):
                    return True
            return False

        return Plan(check, all(plan.total for plan in plans))

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'options': [introspect_of(option) for option in self.options],
            }
        )


class All(Base):
    """A value that passes every one of the fields given."""

    introspect_type: ClassVar[str] = 'all'

    def __init__(self, *requirements: FieldLike, description: str | None = None, **unknown: object) -> None:
        require_fields(self, requirements)
        require_no_extras(self, description, unknown)
        self.requirements = requirements
        self.description = description

    def _errors(self, value: object) -> list[Error]:
        result: list[Error] = []
        for requirement in self.requirements:
            result.extend(errors_of(requirement, value))
        return result

    def warnings(self, value: object) -> list[Warning]:
        result: list[Warning] = []
        for requirement in self.requirements:
            result.extend(warnings_of(requirement, value))
        return result

    def _compile(self) -> Plan:
        plans = [plan_of(requirement) for requirement in self.requirements]
        if any(plan.check is None for plan in plans):
            return NO_PLAN
        checks = tuple(cast(Check, plan.check) for plan in plans)

        def check(value: object) -> bool:
            for requirement_check in checks:
                if not requirement_check(value):
                    return False
            return True

        return Plan(check, all(plan.total for plan in plans))

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'requirements': [introspect_of(requirement) for requirement in self.requirements],
            }
        )
