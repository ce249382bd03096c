"""Conformity's exception classes when Conformity is installed, so that ours can also be instances of them.

Code written for PySOA 1.x catches `conformity.error.ValidationError` and
`conformity.settings.Settings.ImproperlyConfigured`; the exceptions of `pysoa.schema` subclass those when
they can be imported and the builtin they derive from otherwise. Nothing else of Conformity is used here.
"""

from typing import TYPE_CHECKING

__all__ = (
    'ImproperlyConfiguredBase',
    'KeywordErrorBase',
    'PositionalErrorBase',
    'ValidationErrorBase',
    'conformity_schema_types',
)

if TYPE_CHECKING:
    ValidationErrorBase = ValueError
    PositionalErrorBase = TypeError
    KeywordErrorBase = TypeError
    ImproperlyConfiguredBase = Exception
else:
    try:
        from conformity.error import (
            KeywordError as KeywordErrorBase,
        )
        from conformity.error import (
            PositionalError as PositionalErrorBase,
        )
        from conformity.error import (
            ValidationError as ValidationErrorBase,
        )
        from conformity.settings import Settings as _ConformitySettings

        ImproperlyConfiguredBase = _ConformitySettings.ImproperlyConfigured
    except ImportError:  # Conformity is optional
        ValidationErrorBase = ValueError
        PositionalErrorBase = TypeError
        KeywordErrorBase = TypeError
        ImproperlyConfiguredBase = Exception


def conformity_schema_types() -> tuple[type, ...]:
    """Conformity's `Dictionary` and `SchemalessDictionary` classes, or () without Conformity."""
    try:
        from conformity.fields import Dictionary, SchemalessDictionary
    except ImportError:
        return ()
    return (Dictionary, SchemalessDictionary)
