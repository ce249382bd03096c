"""A whole-collection check (`AdditionalCollectionValidator`) and the options every container shares."""

import abc
from typing import Generic, TypeVar, cast

from pysoa.schema.fields.arguments import OptionCheck, optional
from pysoa.schema.fields.base import Check
from pysoa.schema.types import Error

__all__ = (
    'AdditionalCollectionValidator',
    'additional_name',
    'check_lengths',
    'has_errors_method',
    'valid_additional_validator',
    'with_additional',
)


VT = TypeVar('VT')


class AdditionalCollectionValidator(abc.ABC, Generic[VT]):
    """A check across a whole collection, run after its members have passed (to match keys to each other, say)."""

    @abc.abstractmethod
    def errors(self, value: VT) -> list[Error]:
        """The errors of a collection that passed its field's own validation."""


def has_errors_method(value: object) -> bool:
    return callable(getattr(value, 'errors', None))


def valid_additional_validator() -> OptionCheck:
    # Conformity's own AdditionalCollectionValidator instances are welcome: anything with `errors(value)` is.
    return optional(has_errors_method, 'an AdditionalCollectionValidator')


def with_additional(plan_check: Check, validator: object | None) -> Check:
    """The check, followed by the whole-collection validator when there is one (as the exact path runs it)."""
    if validator is None:
        return plan_check
    validator_errors = cast(AdditionalCollectionValidator[object], validator).errors

    def check(value: object) -> bool:
        return plan_check(value) and not validator_errors(value)

    return check


def additional_name(validator: object | None) -> str | None:
    return type(validator).__name__ if validator is not None else None


def check_lengths(field: object, min_length: int | None, max_length: int | None) -> None:
    if min_length is not None and max_length is not None and min_length > max_length:
        raise ValueError(f'{type(field).__name__}: min_length cannot be greater than max_length')
