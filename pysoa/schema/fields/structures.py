"""The container fields: lists, sequences, sets, tuples and dictionaries, and their optional whole-value check."""

import abc
import typing
from collections import OrderedDict
from collections.abc import Hashable as HashableValue
from collections.abc import Iterable, Mapping, Sized
from collections.abc import Sequence as AbstractSequence
from collections.abc import Set as AbstractSet
from typing import ClassVar, Generic, TypeVar, cast

import attr

from pysoa.schema.constants import ERROR_CODE_MISSING, ERROR_CODE_UNKNOWN
from pysoa.schema.fields.arguments import (
    FIELD_EXPECTED,
    OptionCheck,
    bad_option,
    is_field,
    optional,
    require_fields,
    require_no_extras,
    require_text,
    valid_field,
    valid_int,
    valid_text,
)
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
from pysoa.schema.fields.basic import Anything, Hashable
from pysoa.schema.fields.utils import strip_none, update_pointer
from pysoa.schema.types import Error, Warning

__all__ = (
    'AdditionalCollectionValidator',
    'Dictionary',
    'List',
    'SchemalessDictionary',
    'Sequence',
    'Set',
    'Tuple',
)

VT = TypeVar('VT')


class AdditionalCollectionValidator(abc.ABC, Generic[VT]):
    """A check across a whole collection, run after its members have passed (to match keys to each other, say)."""

    @abc.abstractmethod
    def errors(self, value: VT) -> list[Error]:
        """The errors of a collection that passed its field's own validation."""


def _has_errors_method(value: object) -> bool:
    return callable(getattr(value, 'errors', None))


def _valid_additional_validator() -> OptionCheck:
    # Conformity's own AdditionalCollectionValidator instances are welcome: anything with `errors(value)` is.
    return optional(_has_errors_method, 'an AdditionalCollectionValidator')


def _with_additional(plan_check: Check, validator: object | None) -> Check:
    """The check, followed by the whole-collection validator when there is one (as the exact path runs it)."""
    if validator is None:
        return plan_check
    validator_errors = cast(AdditionalCollectionValidator[object], validator).errors

    def check(value: object) -> bool:
        return plan_check(value) and not validator_errors(value)

    return check


def _additional_name(validator: object | None) -> str | None:
    return type(validator).__name__ if validator is not None else None


def _min_max(field: object, min_length: int | None, max_length: int | None) -> None:
    if min_length is not None and max_length is not None and min_length > max_length:
        raise ValueError(f'{type(field).__name__}: min_length cannot be greater than max_length')


@attr.s
class _BaseSequenceOrSet(Base):
    """A collection whose members all pass `contents`, optionally with a `min_length` and a `max_length`."""

    introspect_type: ClassVar[str]
    valid_types: ClassVar[type | tuple[type, ...]]
    fast_types: ClassVar[frozenset[type]]
    type_error: ClassVar[str]

    contents: FieldLike = attr.ib(validator=valid_field())
    max_length: int | None = attr.ib(default=None, validator=valid_int())
    min_length: int | None = attr.ib(default=None, validator=valid_int())
    description: str | None = attr.ib(default=None, validator=valid_text())
    additional_validator: AdditionalCollectionValidator[object] | None = attr.ib(
        default=None, validator=_valid_additional_validator()
    )

    def __attrs_post_init__(self) -> None:
        _min_max(self, self.min_length, self.max_length)

    @staticmethod
    def _pointer(index: int, member: object) -> object:
        return index

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, self.valid_types):
            return [Error(self.type_error)]
        collection = cast('Sized', value)
        result = []
        if self.max_length is not None and len(collection) > self.max_length:
            result.append(Error(f'List is longer than {self.max_length}'))
        elif self.min_length is not None and len(collection) < self.min_length:
            result.append(Error(f'List is shorter than {self.min_length}'))
        for index, member in enumerate(cast('Iterable[object]', value)):
            found = errors_of(self.contents, member)
            if found:
                pointer = self._pointer(index, member)  # only for members in error: a set's costs a str()
                result.extend(update_pointer(error, pointer) for error in found)
        if not result and self.additional_validator is not None:
            return list(self.additional_validator.errors(value) or [])
        return result

    def warnings(self, value: object) -> list[Warning]:
        result: list[Warning] = []
        for index, member in enumerate(cast('Iterable[object]', value)):
            found = warnings_of(self.contents, member)
            if found:
                pointer = self._pointer(index, member)
                result.extend(update_pointer(warning, pointer) for warning in found)
        return result

    def _compile(self) -> Plan:
        member = plan_of(self.contents)
        if member.check is None:
            return NO_PLAN
        member_check, member_types = member.check, member.exact_types
        fast_types, min_length, max_length = self.fast_types, self.min_length, self.max_length

        def check(value: object) -> bool:
            if type(value) not in fast_types:
                return False
            collection = cast('Sized', value)
            if max_length is not None and len(collection) > max_length:
                return False
            if min_length is not None and len(collection) < min_length:
                return False
            # Plain loops: a generator inside all() costs more than the checks it runs.
            if member_types is not None:
                for member in cast('Iterable[object]', value):
                    if type(member) not in member_types:
                        return False
                return True
            for member in cast('Iterable[object]', value):
                if not member_check(member):
                    return False
            return True

        total = member.total and self.additional_validator is None
        return Plan(_with_additional(check, self.additional_validator), total)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'contents': introspect_of(self.contents),
                'max_length': self.max_length,
                'min_length': self.min_length,
                'description': self.description,
                'additional_validation': _additional_name(self.additional_validator),
            }
        )


@attr.s
class List(_BaseSequenceOrSet):
    """A list whose members all pass `contents`."""

    valid_types: ClassVar[type | tuple[type, ...]] = list
    fast_types: ClassVar[frozenset[type]] = frozenset({list})
    introspect_type: ClassVar[str] = 'list'
    type_error: ClassVar[str] = 'Not a list'


@attr.s
class Sequence(_BaseSequenceOrSet):
    """Any sequence (list, tuple, str, ...) whose members all pass `contents`."""

    valid_types: ClassVar[type | tuple[type, ...]] = AbstractSequence
    fast_types: ClassVar[frozenset[type]] = frozenset({list, tuple})
    introspect_type: ClassVar[str] = 'sequence'
    type_error: ClassVar[str] = 'Not a sequence'


@attr.s
class Set(_BaseSequenceOrSet):
    """A set or frozenset whose members all pass `contents`; a member's pointer is `[member]`."""

    valid_types: ClassVar[type | tuple[type, ...]] = AbstractSet
    fast_types: ClassVar[frozenset[type]] = frozenset({set, frozenset})
    introspect_type: ClassVar[str] = 'set'
    type_error: ClassVar[str] = 'Not a set or frozenset'

    @staticmethod
    def _pointer(index: int, member: object) -> object:
        return f'[{member!s}]'


def _key_collection(value: object) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def _valid_optional_keys(instance: object, attribute: 'attr.Attribute[typing.Any]', value: typing.Any) -> None:
    # A lone string is iterable, but `optional_keys='body'` is a missing comma, not the keys 'b', 'o', 'd', 'y'.
    if not _key_collection(value):
        bad_option(
            instance, "'optional_keys'", 'a collection of keys (a tuple, list or set, not a single string)', value
        )


@attr.s
class Dictionary(Base):
    """A dict with the keys of `contents`, each value passing its field.

    Keys are required unless listed in `optional_keys`; other keys are refused unless `allow_extra_keys`.
    With an `OrderedDict` as `contents`, errors follow its order and introspection has a `display_order`.
    A subclass may declare `contents`, `optional_keys`, `allow_extra_keys` and `description` as class
    attributes instead of passing them.
    """

    introspect_type: ClassVar[str] = 'dictionary'
    _no_optional_keys: ClassVar[frozenset[HashableValue]] = frozenset()

    contents: dict[HashableValue, FieldLike] = attr.ib(default=None)
    optional_keys: Iterable[HashableValue] = attr.ib(default=_no_optional_keys, validator=_valid_optional_keys)
    allow_extra_keys: bool = attr.ib(default=None)
    description: str | None = attr.ib(default=None)
    additional_validator: AdditionalCollectionValidator[Mapping[HashableValue, object]] | None = attr.ib(
        default=None, validator=_valid_additional_validator()
    )

    def __attrs_post_init__(self) -> None:
        declared = type(self)
        if self.contents is None:
            self.contents = getattr(declared, 'contents', None)
        if self.contents is None:
            raise ValueError(f"{declared.__name__}: 'contents' is a required argument")
        if not isinstance(self.contents, dict):
            bad_option(self, "'contents'", 'a dict of keys to fields', self.contents)
        for key, field in self.contents.items():
            if not is_field(field):
                bad_option(self, f'contents[{key!r}]', FIELD_EXPECTED, field)
        if self.optional_keys is self._no_optional_keys and getattr(declared, 'optional_keys', None) is not None:
            self.optional_keys = declared.optional_keys
            if not _key_collection(self.optional_keys):
                bad_option(self, "'optional_keys'", 'a collection of keys', self.optional_keys)
        if not isinstance(self.optional_keys, frozenset):
            self.optional_keys = frozenset(self.optional_keys)
        if self.allow_extra_keys is None:
            self.allow_extra_keys = getattr(declared, 'allow_extra_keys', None) or False
        if not isinstance(self.allow_extra_keys, bool):
            bad_option(self, "'allow_extra_keys'", 'a bool', self.allow_extra_keys)
        if self.description is None and getattr(declared, 'description', None):
            self.description = declared.description
        require_text(self, 'description', self.description)

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, dict):
            return [Error('Not a dict')]
        result: list[Error] = []
        optional_keys = cast(frozenset[HashableValue], self.optional_keys)
        for key, field in self.contents.items():
            if key in value:
                result.extend(update_pointer(error, key) for error in errors_of(field, value[key]))
            elif key not in optional_keys:
                result.append(Error(f'Missing key: {key}', code=ERROR_CODE_MISSING, pointer=str(key)))
        if not self.allow_extra_keys:
            extra_keys = set(value.keys()) - set(self.contents.keys())
            if extra_keys:
                listed = ', '.join(str(key) for key in sorted(extra_keys))
                result.append(Error(f'Extra keys present: {listed}', code=ERROR_CODE_UNKNOWN))
        if not result and self.additional_validator is not None:
            return list(self.additional_validator.errors(value) or [])
        return result

    def warnings(self, value: object) -> list[Warning]:
        if not isinstance(value, dict):
            return []
        result: list[Warning] = []
        for key, field in self.contents.items():
            if key in value:
                result.extend(update_pointer(warning, key) for warning in warnings_of(field, value[key]))
        return result

    def _compile(self) -> Plan:
        plans = [(key, plan_of(field)) for key, field in self.contents.items()]
        if any(plan.check is None for _, plan in plans):
            return NO_PLAN
        optional_keys = cast(frozenset[HashableValue], self.optional_keys)
        entries = tuple((key, plan.exact_types, plan.check, key in optional_keys) for key, plan in plans)
        allowed_keys = frozenset(self.contents.keys())
        allow_extra_keys = self.allow_extra_keys

        def check(value: object) -> bool:
            if type(value) is not dict:
                return False
            for key, value_types, value_check, optional_key in entries:
                if key in value:
                    if value_types is not None:
                        if type(value[key]) not in value_types:
                            return False
                    elif not value_check(value[key]):  # type: ignore[misc]  # not None: NO_PLAN above
                        return False
                elif not optional_key:
                    return False
            return allow_extra_keys or value.keys() <= allowed_keys

        # The exact path sorts extra keys for its message, which raises for keys of mixed types.
        total = allow_extra_keys and self.additional_validator is None and all(plan.total for _, plan in plans)
        return Plan(_with_additional(check, self.additional_validator), total)

    def extend(
        self,
        contents: Mapping[HashableValue, FieldLike] | None = None,
        optional_keys: Iterable[HashableValue] | None = None,
        allow_extra_keys: bool | None = None,
        description: str | None = None,
        replace_optional_keys: bool = False,
        additional_validator: AdditionalCollectionValidator[Mapping[HashableValue, object]] | None = None,
    ) -> 'Dictionary':
        """A new `Dictionary` with more `contents` and `optional_keys`, and any other option replaced if given."""
        added_optional = frozenset(optional_keys or ())
        merged_contents = self.contents
        if contents:
            # The same kind of mapping as ours, so an OrderedDict keeps its order and its display_order.
            merged_contents = type(self.contents)((k, v) for d in (self.contents, contents) for k, v in d.items())
        return Dictionary(
            contents=merged_contents,
            optional_keys=added_optional if replace_optional_keys else frozenset(self.optional_keys) | added_optional,
            allow_extra_keys=self.allow_extra_keys if allow_extra_keys is None else allow_extra_keys,
            description=self.description if description is None else description,
            additional_validator=self.additional_validator if additional_validator is None else additional_validator,
        )

    def introspect(self) -> Introspection:
        display_order = list(self.contents.keys()) if isinstance(self.contents, OrderedDict) else None
        return strip_none(
            {
                'type': self.introspect_type,
                'contents': {key: introspect_of(field) for key, field in self.contents.items()},
                'optional_keys': sorted(cast(Iterable[str], self.optional_keys)),
                'allow_extra_keys': self.allow_extra_keys,
                'description': self.description,
                'display_order': display_order,
                'additional_validation': _additional_name(self.additional_validator),
            }
        )


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
        default=None, validator=_valid_additional_validator()
    )

    def __attrs_post_init__(self) -> None:
        _min_max(self, self.min_length, self.max_length)

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
        return Plan(_with_additional(check, self.additional_validator), total)

    def introspect(self) -> Introspection:
        result: Introspection = {
            'type': self.introspect_type,
            'max_length': self.max_length,
            'min_length': self.min_length,
            'description': self.description,
            'additional_validation': _additional_name(self.additional_validator),
        }
        # The exact classes only: a subclass of Hashable or Anything is a different key or value type.
        if type(self.key_type) is not Hashable:
            result['key_type'] = introspect_of(self.key_type)
        if type(self.value_type) is not Anything:
            result['value_type'] = introspect_of(self.value_type)
        return strip_none(result)


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
        if additional_validator and not _has_errors_method(additional_validator):
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
        return Plan(_with_additional(check, self.additional_validator or None), total)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'contents': [introspect_of(field) for field in self.contents],
                'description': self.description,
                'additional_validation': _additional_name(self.additional_validator or None),
            }
        )
