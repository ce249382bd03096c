"""`Deprecated`: a field that still validates as before and warns that it is deprecated."""

import attr

from pysoa.schema.constants import WARNING_CODE_FIELD_DEPRECATED
from pysoa.schema.fields.arguments import valid_field, valid_text
from pysoa.schema.fields.base import (
    Base,
    FieldLike,
    Introspection,
    Plan,
    errors_of,
    introspect_of,
    plan_of,
    warnings_of,
)
from pysoa.schema.types import Error, Warning

__all__ = ('Deprecated',)


@attr.s
class Deprecated(Base):
    """A field still accepted but on its way out: its values validate as `field`'s and carry a warning."""

    field: FieldLike = attr.ib(validator=valid_field())
    message: str = attr.ib(default='This field has been deprecated', validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        # Conformity 1.28 answers 'Validation not implemented on base type' for every value here, which makes
        # the field unusable; the wrapped field's errors are what was meant.
        return errors_of(self.field, value)

    def _compile(self) -> Plan:
        return plan_of(self.field)

    def warnings(self, value: object) -> list[Warning]:
        found = warnings_of(self.field, value)
        found.append(Warning(code=WARNING_CODE_FIELD_DEPRECATED, message=self.message))
        return found

    def introspect(self) -> Introspection:
        introspection = introspect_of(self.field)
        introspection['deprecated'] = True
        return introspection
