"""`Dictionary`: a dict with declared keys, each value passing its own field."""

import typing
from collections import OrderedDict
from collections.abc import Hashable as HashableValue
from collections.abc import Iterable, Mapping
from typing import ClassVar, cast

import attr

from pysoa.schema.constants import ERROR_CODE_MISSING, ERROR_CODE_UNKNOWN
from pysoa.schema.fields.arguments import FIELD_EXPECTED, bad_option, is_field, require_text
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
    valid_additional_validator,
    with_additional,
)
from pysoa.schema.fields.utils import listed_keys, strip_none, update_pointer
from pysoa.schema.types import Error, Warning

__all__ = ('Dictionary',)


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
        default=None, validator=valid_additional_validator()
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
                listed = listed_keys(extra_keys)
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
        return Plan(with_additional(check, self.additional_validator), total)

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
                'additional_validation': additional_name(self.additional_validator),
            }
        )
