"""A fast "is this valid?" for Conformity schemas, with Conformity itself for everything else.

Conformity's `errors()` builds lists, generators and pointers for every key and element, even when
nothing is wrong: validating a small action body costs tens of microseconds, and every action call
validates its request and its response. `errors(schema, value)` first runs a check compiled once
per schema (plain closures over the schema's settings) and returns `[]` only when that check proves
the value valid; otherwise, or for any schema part it does not know, Conformity runs and has the last
word, so error messages, codes and pointers are always Conformity's own.

The compiled check answers "valid" only where Conformity would find no error and raise nothing:

- it accepts only the exact built-in types (`dict`, `list`, `str`, `int`, `float`, `bool`, ...) where
  Conformity accepts subclasses too, and makes the same comparisons on them;
- a field type it does not know, a subclass that overrides `errors`, and any `additional_validator`
  are handed to Conformity for that part of the value;
- `Any` is compiled only when the options tried before a matching one cannot raise.

Schemas are treated as immutable once used, as Conformity fields are declarations.
"""

import decimal
import threading
import weakref
from collections.abc import Callable
from typing import Any, cast

from conformity import fields
from conformity.error import Error as ConformityError

__all__ = ('errors', 'is_valid')

Check = Callable[[object], bool]

_compiled: dict[int, tuple['weakref.ref[fields.Base]', Check]] = {}
_compile_lock = threading.Lock()


def errors(schema: fields.Base, value: object) -> list[ConformityError]:
    """`schema.errors(value)`, answered without Conformity when the compiled check proves `value` valid."""
    if is_valid(schema, value):
        return []
    return schema.errors(value) or []


def is_valid(schema: fields.Base, value: object) -> bool:
    """True only if `schema.errors(value)` would return no errors; False means "ask Conformity"."""
    entry = _compiled.get(id(schema))
    if entry is None or entry[0]() is not schema:
        check = _compile_and_remember(schema)
    else:
        check = entry[1]
    try:
        return check(value)
    except Exception:  # Conformity would raise too, or explain: let it
        return False


def _compile_and_remember(schema: fields.Base) -> Check:
    check = _compile(schema)[0]
    key = id(schema)
    # Bound here: at interpreter exit, callbacks can run after the module's globals are cleared.
    compiled, lock = _compiled, _compile_lock

    def forget(_reference: 'weakref.ref[fields.Base]') -> None:
        with lock:
            entry = compiled.get(key)
            if entry is not None and entry[0] is _reference:
                del compiled[key]

    try:
        reference = weakref.ref(schema, forget)
    except TypeError:  # cannot be tracked, so cannot be cached: Conformity only
        return _conformity_check(schema)[0]
    with _compile_lock:
        _compiled[key] = (reference, check)
    return check


# Each compiler returns the check and whether Conformity's `errors()` for that field can never raise.
Compiled = tuple[Check, bool]


def _compile(field: fields.Base) -> Compiled:
    compiler = _COMPILERS.get(type(field))
    if compiler is None and isinstance(field, fields.Dictionary) and type(field).errors is fields.Dictionary.errors:
        compiler = _compile_dictionary  # a subclass that only declares contents, optional keys, ...
    if compiler is None:
        return _conformity_check(field)
    return compiler(field)


def _conformity_check(field: fields.Base) -> Compiled:
    """A part the compiler does not know: Conformity checks it (and might raise, for all we know)."""
    field_errors = field.errors

    def check(value: object) -> bool:
        return not field_errors(value)

    return check, False


def _type_check(value_types: tuple[type, ...]) -> Check:
    """A check that only compares the exact type; containers inline it (see `_exact_types`)."""
    types = frozenset(value_types)

    def check(value: object) -> bool:
        return type(value) in types

    check.exact_types = types  # type: ignore[attr-defined]  # a function attribute, read back by `_exact_types`
    return check


def _exact_types(check: Check) -> frozenset[type] | None:
    types: frozenset[type] | None = getattr(check, 'exact_types', None)
    return types


def _plain_number(bound: object) -> bool:
    return bound is None or type(bound) in (int, float)


def _compile_number(field: fields.Integer, value_types: tuple[type, ...]) -> Compiled:
    gt, gte, lt, lte = field.gt, field.gte, field.lt, field.lte
    # Decimal bounds or values can raise on comparison (NaN); int and float ones never do.
    total = value_types != (decimal.Decimal,) and all(_plain_number(b) for b in (gt, gte, lt, lte))
    if gt is None and gte is None and lt is None and lte is None:
        return _type_check(value_types), total

    def check_bounded(value: object) -> bool:
        if type(value) not in value_types:
            return False
        number = cast('int | float | decimal.Decimal', value)  # its exact type was just checked
        # The negations of Conformity's own tests, so NaN passes and fails exactly as it does there.
        return (
            not (gt is not None and number <= gt)
            and not (lt is not None and number >= lt)
            and not (gte is not None and number < gte)
            and not (lte is not None and number > lte)
        )

    return check_bounded, total


def _compile_integer(field: fields.Integer) -> Compiled:
    return _compile_number(field, (int,))


def _compile_float(field: fields.Float) -> Compiled:
    return _compile_number(field, (int, float))


def _compile_decimal(field: fields.Decimal) -> Compiled:
    return _compile_number(field, (decimal.Decimal,))


def _compile_string(field: fields.UnicodeString | fields.ByteString, value_type: type) -> Compiled:
    min_length, max_length, allow_blank = field.min_length, field.max_length, field.allow_blank
    if min_length is None and max_length is None and allow_blank:
        return _type_check((value_type,)), True

    def check(value: object) -> bool:
        if type(value) is not value_type:
            return False
        text = cast(str | bytes, value)
        return (
            not (min_length is not None and len(text) < min_length)
            and not (max_length is not None and len(text) > max_length)
            and bool(allow_blank or text.strip())
        )

    return check, True


def _compile_unicode(field: fields.UnicodeString) -> Compiled:
    return _compile_string(field, str)


def _compile_bytes(field: fields.ByteString) -> Compiled:
    return _compile_string(field, bytes)


def _compile_boolean(_field: fields.Boolean) -> Compiled:
    return _type_check((bool,)), True


def _compile_anything(_field: fields.Anything) -> Compiled:
    def check(_value: object) -> bool:
        return True

    return check, True


def _compile_hashable(_field: fields.Hashable) -> Compiled:
    def check(value: object) -> bool:
        try:
            hash(value)
        except TypeError:
            return False
        return True

    return check, False  # a custom __hash__ may raise anything


def _compile_null(_field: fields.Null) -> Compiled:
    def check(value: object) -> bool:
        return value is None

    return check, True


def _compile_nullable(field: fields.Nullable) -> Compiled:
    inner, total = _compile(field.field)

    def check(value: object) -> bool:
        return value is None or inner(value)

    return check, total


def _compile_constant(field: fields.Constant) -> Compiled:
    values = field.values

    def check(value: object) -> bool:
        try:
            return value in values
        except TypeError:
            return False

    # Membership compares with the values' own `__eq__`, which only plain values are known not to raise.
    return check, all(type(v) in (str, int, float, bool, bytes, type(None)) for v in values)


def _compile_any(field: fields.Any) -> Compiled:
    options = [_compile(option) for option in field.options]
    # Conformity tries the options in order and stops at the first without errors: a valid answer here is
    # also Conformity's only if every option tried before the matching one cannot raise there.
    if not options or not all(total for _, total in options[:-1]):
        return _conformity_check(field)
    checks = tuple(check for check, _ in options)

    def check(value: object) -> bool:
        for option in checks:
            if option(value):
                return True
        return False

    return check, all(total for _, total in options)


def _compile_list(field: fields.List) -> Compiled:
    if field.additional_validator is not None:
        return _conformity_check(field)
    item, total = _compile(field.contents)
    item_types = _exact_types(item)
    min_length, max_length = field.min_length, field.max_length

    def check(value: object) -> bool:
        if type(value) is not list:
            return False
        if max_length is not None and len(value) > max_length:
            return False
        if min_length is not None and len(value) < min_length:
            return False
        if item_types is not None:
            for element in value:
                if type(element) not in item_types:
                    return False
            return True
        for element in value:
            if not item(element):
                return False
        return True

    return check, total


def _compile_dictionary(field: fields.Dictionary) -> Compiled:
    if field.additional_validator is not None:
        return _conformity_check(field)
    compiled = [(key, _compile(value_field)) for key, value_field in field.contents.items()]
    entries = tuple((key, _exact_types(check), check, key in field.optional_keys) for key, (check, _) in compiled)
    allowed_keys = frozenset(field.contents.keys())
    allow_extra_keys = bool(field.allow_extra_keys)
    # Conformity sorts extra keys for its message, which raises for keys of mixed types.
    total = allow_extra_keys and all(total for _, (_, total) in compiled)

    def check(value: object) -> bool:
        if type(value) is not dict:
            return False
        for key, value_types, value_check, optional in entries:
            if key in value:
                if value_types is not None:
                    if type(value[key]) not in value_types:
                        return False
                elif not value_check(value[key]):
                    return False
            elif not optional:
                return False
        return allow_extra_keys or value.keys() <= allowed_keys

    return check, total


def _compile_schemaless_dictionary(field: fields.SchemalessDictionary) -> Compiled:
    if field.additional_validator is not None:
        return _conformity_check(field)
    min_length, max_length = field.min_length, field.max_length
    # Keys of a dict are hashable by construction: the default key type needs no check.
    key_check: Check | None = None
    key_total = True
    if type(field.key_type) is not fields.Hashable:
        key_check, key_total = _compile(field.key_type)
    value_check: Check | None = None
    value_total = True
    if type(field.value_type) is not fields.Anything:
        value_check, value_total = _compile(field.value_type)

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

    return check, key_total and value_total


_COMPILERS: dict[type, Callable[[Any], Compiled]] = {
    fields.Anything: _compile_anything,
    fields.Boolean: _compile_boolean,
    fields.ByteString: _compile_bytes,
    fields.Constant: _compile_constant,
    fields.Decimal: _compile_decimal,
    fields.Dictionary: _compile_dictionary,
    fields.Float: _compile_float,
    fields.Hashable: _compile_hashable,
    fields.Integer: _compile_integer,
    fields.List: _compile_list,
    fields.Null: _compile_null,
    fields.Nullable: _compile_nullable,
    fields.SchemalessDictionary: _compile_schemaless_dictionary,
    fields.UnicodeString: _compile_unicode,
    fields.Any: _compile_any,
}
"""Exact field types only: a subclass may change `errors`, so it goes to Conformity (Dictionary aside, above)."""
