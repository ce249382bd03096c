"""Conformity's exception classes when Conformity is installed, so that ours can also be instances of them.

Code written for PySOA 1.x catches `conformity.error.ValidationError` and
`conformity.settings.Settings.ImproperlyConfigured`; the exceptions of `pysoa.schema` subclass those when
they can be imported and the builtin they derive from otherwise. Likewise every field of ours is an instance
of `conformity.fields.Base` where Conformity is installed (a plain object otherwise), so Conformity's own
containers take our fields as members.
"""

from typing import TYPE_CHECKING

__all__ = (
    'ImproperlyConfiguredBase',
    'KeywordErrorBase',
    'PositionalErrorBase',
    'FieldBase',
    'ValidationErrorBase',
    'conformity_schema_types',
)

if TYPE_CHECKING:
    ValidationErrorBase = ValueError
    PositionalErrorBase = TypeError
    KeywordErrorBase = TypeError
    ImproperlyConfiguredBase = Exception
    FieldBase = object
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
    try:
        # Conformity's containers (and attrs validators in code written for it) accept only instances of its
        # `Base`: ours is one where Conformity is installed, so our fields nest inside Conformity's.
        from conformity.fields.basic import Base as FieldBase
    except ImportError:
        FieldBase = object


def conformity_schema_types() -> tuple[type, ...]:
    """Conformity's `Dictionary` and `SchemalessDictionary` classes, or () without Conformity."""
    try:
        from conformity.fields import Dictionary, SchemalessDictionary
    except ImportError:
        return ()
    return (Dictionary, SchemalessDictionary)
