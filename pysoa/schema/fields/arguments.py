"""Checks of field options when a schema is built, so a malformed schema fails at once, naming field and option.

Each check is an attrs validator (`instance`, `attribute`, `value`) or a plain function for the fields that
take `*args`. Type problems raise `TypeError`, impossible combinations `ValueError`, as Conformity does.
"""

import decimal
from collections.abc import Callable
from typing import Any, NoReturn

import attr

__all__ = (
    'FIELD_EXPECTED',
    'OptionCheck',
    'bad_option',
    'is_field',
    'optional',
    'require_field',
    'require_fields',
    'require_no_extras',
    'require_text',
    'valid_bool',
    'valid_field',
    'valid_int',
    'valid_number',
    'valid_text',
    'valid_type_or_types',
)

# Any: attrs types a validator by the option it guards, and these guard options of every type (their job is
# to refuse a value of the wrong type, so they take anything).
OptionCheck = Callable[[object, 'attr.Attribute[Any]', Any], None]
"""An attrs validator: called with the field being built, the option's attribute and the value given."""


FIELD_EXPECTED = 'a schema field (an object with errors() and introspect())'


def bad_option(field: object, option: str, expected: str, value: object) -> NoReturn:
    """Raise the `TypeError` that says which option of which field needs what, and what it got."""
    field_name = field if isinstance(field, str) else type(field).__name__
    raise TypeError(f'{field_name}: {option} must be {expected}, not {value!r} ({type(value).__name__})')


def is_field(value: object) -> bool:
    """Whether `value` can be used as a field: ours, Conformity's, or anything with `errors()` and `introspect()`."""
    # A class has the methods too, unbound: `List(fields.Integer)` is a missing pair of parentheses.
    if isinstance(value, type):
        return False
    return callable(getattr(value, 'errors', None)) and callable(getattr(value, 'introspect', None))


def _is(kinds: type | tuple[type, ...], expected: str, allow_none: bool) -> OptionCheck:
    wanted = f'{expected} or None' if allow_none else expected

    def check(instance: object, attribute: 'attr.Attribute[Any]', value: Any) -> None:
        if (value is None and allow_none) or isinstance(value, kinds):
            return
        bad_option(instance, repr(attribute.name), wanted, value)

    return check


def valid_text(allow_none: bool = True) -> OptionCheck:
    """A str option (a description, a message, ...)."""
    return _is(str, 'a str', allow_none)


def valid_int(allow_none: bool = True) -> OptionCheck:
    """An int option (a length)."""
    return _is(int, 'an int', allow_none)


def valid_bool() -> OptionCheck:
    """A bool option (a switch)."""
    return _is(bool, 'a bool', False)


def valid_number() -> OptionCheck:
    """A bound of a number field: int, float or Decimal."""
    return _is((int, float, decimal.Decimal), 'an int, float or Decimal', True)


def valid_field(allow_none: bool = False) -> OptionCheck:
    """A nested field option."""
    wanted = 'a schema field (an object with errors() and introspect())'

    def check(instance: object, attribute: 'attr.Attribute[Any]', value: Any) -> None:
        if (value is None and allow_none) or is_field(value):
            return
        bad_option(instance, repr(attribute.name), wanted + (' or None' if allow_none else ''), value)

    return check


def valid_type_or_types(allow_none: bool) -> OptionCheck:
    """A class, or a tuple of classes, as `isinstance` takes them."""
    wanted = 'a type or a tuple of types' + (' or None' if allow_none else '')

    def check(instance: object, attribute: 'attr.Attribute[Any]', value: Any) -> None:
        if (value is None and allow_none) or isinstance(value, type):
            return
        if isinstance(value, tuple) and all(isinstance(item, type) for item in value):
            return
        bad_option(instance, repr(attribute.name), wanted, value)

    return check


def optional(check: Callable[[object], bool], expected: str) -> OptionCheck:
    """An option that is None or passes `check`."""

    def validator(instance: object, attribute: 'attr.Attribute[Any]', value: Any) -> None:
        if value is not None and not check(value):
            bad_option(instance, repr(attribute.name), f'{expected} or None', value)

    return validator


def require_text(field: object, option: str, value: object) -> None:
    """For fields built without attrs: an optional str option."""
    if value is not None and not isinstance(value, str):
        bad_option(field, repr(option), 'a str or None', value)


def require_no_extras(field: object, description: object, unknown: dict[str, object]) -> None:
    """For fields built without attrs: `description` is a str (or empty) and no unknown keyword was given."""
    if description:
        require_text(field, 'description', description)
    if unknown:
        raise TypeError(f'{type(field).__name__}: unknown keyword arguments: {", ".join(unknown)}')


def require_field(field: object, option: str, value: object) -> None:
    """For fields built without attrs: one nested field."""
    if not is_field(value):
        bad_option(field, option, 'a schema field (an object with errors() and introspect())', value)


def require_fields(field: object, values: tuple[object, ...]) -> None:
    """For fields built without attrs: every positional argument is a nested field."""
    for index, value in enumerate(values):
        require_field(field, f'argument {index}', value)
