"""`Base`, the root of every field, and the compiled validity check that makes valid values cheap to validate.

A field answers `errors(value)` in two steps. First a check compiled once per field (closures over the
field's options and its members' checks) says whether the value is certainly valid; most values are, and
then no list, pointer or message is built. Otherwise `_errors(value)` computes the errors the slow, exact
way, in the order and with the texts Conformity gives. A check may answer False for a valid value (it then
only costs the exact path) but never True for an invalid one.

Fields are declarations: the check is compiled on first use and kept, so change a field's options before
it first validates, not after.
"""

import functools
from collections.abc import Callable, Iterable
from typing import ClassVar, NamedTuple, Protocol, cast

import attr

from pysoa.schema.compat import FieldBase
from pysoa.schema.types import Error, Validation, Warning

__all__ = (
    'Base',
    'Check',
    'FieldLike',
    'Introspection',
    'NO_PLAN',
    'Plan',
    'errors_of',
    'exact_plan',
    'introspect_of',
    'plan_of',
    'type_plan',
    'warnings_of',
)

Introspection = dict[str, object]
"""A JSON-like description of a field: its `type`, its options, and its members' introspection."""

Check = Callable[[object], bool]


class FieldLike(Protocol):
    """What a nested field must offer: Conformity's `errors(value)` and `introspect()` (`warnings` is optional)."""

    def errors(self, value: object, /) -> object: ...

    def introspect(self) -> object: ...


class Plan(NamedTuple):
    """How to check a field fast."""

    check: Check | None
    """True only if `errors(value)` would be empty and not raise; None when there is no fast check."""
    total: bool
    """`errors()` never raises, whatever the value (so a False from the check is a plain "invalid")."""
    exact_types: frozenset[type] | None = None
    """Set when the check is exactly `type(value) in exact_types`, so containers can inline it."""


NO_PLAN = Plan(None, False)


def type_plan(types: Iterable[type], total: bool = True) -> Plan:
    """A check that the value's exact type is one of `types`."""
    exact = frozenset(types)

    def check(value: object) -> bool:
        return type(value) in exact

    return Plan(check, total, exact)


def _side_effects(field: object) -> bool:
    # A class configuration schema adds `path` and `object` to the dict it validates: such a field must be
    # validated in full, exactly where and as often as Conformity would, so no check can stand in for it.
    return any(klass.__name__ == 'ClassConfigurationSchema' for klass in type(field).__mro__)


def plan_of(field: FieldLike) -> Plan:
    """The plan of a nested field: its own if it is ours and unchanged, else a check that asks its `errors()`."""
    if isinstance(field, Base) and type(field).errors is Base.errors:
        return field._plan
    if _side_effects(field):
        return NO_PLAN
    field_errors = field.errors

    def check(value: object) -> bool:
        return not field_errors(value)

    return Plan(check, False)


def errors_of(field: FieldLike, value: object) -> list[Error]:
    """A nested field's errors as a fresh list (a foreign field may return None, or Conformity's own `Error`)."""
    if isinstance(field, Base):
        return field.errors(value)  # already a fresh list
    found = field.errors(value)
    # Conformity's Error has the same three attributes as ours; containers only read and prefix them.
    return list(cast('Iterable[Error]', found)) if found else []


def warnings_of(field: FieldLike, value: object) -> list[Warning]:
    """A nested field's warnings (none for an object that has no `warnings()`)."""
    method = getattr(field, 'warnings', None)
    if method is None:
        return []
    found = method(value)
    return list(cast('Iterable[Warning]', found)) if found else []


def introspect_of(field: FieldLike) -> Introspection:
    """A nested field's introspection."""
    return cast(Introspection, field.introspect())


def _defer(_value: object) -> bool:
    return False


def exact_plan(field: 'Base', total: bool = False) -> Plan:
    """A check that runs the exact path: for fields rarely found on a hot path, or too subtle to compile."""
    field_errors = field._errors

    def check(value: object) -> bool:
        return not field_errors(value)

    return Plan(check, total)


@attr.s
class Base(FieldBase):
    """The root of every field: `errors(value)`, `warnings(value)`, `validate(value)` and `introspect()`.

    Subclasses put their exact validation in `_errors` and their fast check in `_compile`; a subclass
    written for Conformity that overrides `errors` itself keeps working (its parents then ask it directly).
    """

    introspect_type: ClassVar[str]

    def errors(self, value: object) -> list[Error]:
        """The reasons `value` is invalid; empty when it is valid."""
        try:
            if self._fast_check(value):
                return []
        except Exception:  # the exact path raises the same, or explains the problem
            pass
        return self._errors(value)

    def _errors(self, value: object) -> list[Error]:
        return [Error('Validation not implemented on base type')]

    def warnings(self, value: object) -> list[Warning]:
        """Things worth telling about the value or the field (such as a deprecation)."""
        return []

    def validate(self, value: object) -> Validation:
        """The errors and the warnings of `value` together."""
        return Validation(errors=self.errors(value), warnings=self.warnings(value))

    def introspect(self) -> Introspection:
        """A JSON-like description of the field, for documentation and the `introspect` action."""
        raise NotImplementedError('You must override introspect() in a subclass')

    def _compile(self) -> Plan:
        return NO_PLAN

    @functools.cached_property
    def _plan(self) -> Plan:
        return self._compile()

    @functools.cached_property
    def _fast_check(self) -> Check:
        """The plan's check, or one that always defers to the exact path (kept apart: `errors()` is the hot path)."""
        return self._plan.check or _defer

    def __getstate__(self) -> dict[str, object]:
        # The compiled check is made of closures, which neither pickle nor need to: it is rebuilt on use.
        state = dict(self.__dict__)
        state.pop('_plan', None)
        state.pop('_fast_check', None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
