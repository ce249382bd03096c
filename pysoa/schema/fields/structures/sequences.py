"""Lists, sequences and sets: collections whose members all pass one field."""

from collections.abc import Iterable, Sized
from collections.abc import Sequence as AbstractSequence
from collections.abc import Set as AbstractSet
from typing import ClassVar, cast

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
from pysoa.schema.fields.structures.collection_validator import (
    AdditionalCollectionValidator,
    additional_name,
    check_lengths,
    valid_additional_validator,
    with_additional,
)
from pysoa.schema.fields.utils import strip_none, update_pointer
from pysoa.schema.types import Error, Warning

__all__ = (
    'List',
    'Sequence',
    'Set',
)


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
        default=None, validator=valid_additional_validator()
    )

    def __attrs_post_init__(self) -> None:
        check_lengths(self, self.min_length, self.max_length)

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
        return Plan(with_additional(check, self.additional_validator), total)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'contents': introspect_of(self.contents),
                'max_length': self.max_length,
                'min_length': self.min_length,
                'description': self.description,
                'additional_validation': additional_name(self.additional_validator),
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
