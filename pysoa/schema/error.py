"""The exceptions of schema validation, and the error codes and `Error` record under their Conformity names."""

import warnings

from pysoa.schema.compat import KeywordErrorBase, PositionalErrorBase, ValidationErrorBase
from pysoa.schema.constants import ERROR_CODE_INVALID, ERROR_CODE_MISSING, ERROR_CODE_UNKNOWN
from pysoa.schema.types import Error

__all__ = (
    'ERROR_CODE_INVALID',
    'ERROR_CODE_MISSING',
    'ERROR_CODE_UNKNOWN',
    'Error',
    'KeywordError',
    'PositionalError',
    'ValidationError',
    'update_error_pointer',
)


class ValidationError(ValidationErrorBase):
    """A value failed validation (a `ValueError`; also Conformity's `ValidationError` where it is installed)."""


class PositionalError(PositionalErrorBase):
    """A validated callable that takes no positional arguments was given some."""


class KeywordError(KeywordErrorBase):
    """A validated callable that takes no keyword arguments was given some."""


def update_error_pointer(error: Error, pointer_or_prefix: object) -> Error:
    """Deprecated alias of `pysoa.schema.fields.utils.update_pointer`, kept for code that still calls it."""
    warnings.warn(
        'update_error_pointer is deprecated: use pysoa.schema.fields.utils.update_pointer',
        DeprecationWarning,
        stacklevel=2,
    )
    from pysoa.schema.fields.utils import update_pointer

    return update_pointer(error, pointer_or_prefix)
