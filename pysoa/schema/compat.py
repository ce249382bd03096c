"""Conformity's exception classes when Conformity is installed, so that ours can also be instances of them.

Code written for PySOA 1.x catches `conformity.error.ValidationError` and
`conformity.settings.Settings.ImproperlyConfigured`; the exceptions of `pysoa.schema` subclass those when
they can be imported and the builtin they derive from otherwise. Likewise every field of ours is an instance
of `conformity.fields.Base` where Conformity is installed (a plain object otherwise), so Conformity's own
containers take our fields as members.
"""

from typing import TYPE_CHECKING, cast

__all__ = (
    'ImproperlyConfiguredBase',
    'KeywordErrorBase',
    'PositionalErrorBase',
    'FieldBase',
    'ValidationErrorBase',
    'ConformityView',
    'conformity_schema_types',
    'unwrap_provided',
    'wrap_provided',
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


class _Unavailable:
    """Stands for Conformity's `SchemalessDictionary` where Conformity is not installed (never instantiated)."""


def _conformity_schemaless_dictionary() -> type:
    try:
        from conformity.fields import SchemalessDictionary
    except ImportError:
        return _Unavailable
    return cast(type, SchemalessDictionary)


class ConformityView(_conformity_schemaless_dictionary()):  # type: ignore[misc]  # a base chosen at import time
    """Our provider's schema as Conformity's own `ClassConfigurationSchema` accepts it (only with Conformity).

    Conformity only takes a class whose provided schema is an instance of its `Dictionary` or
    `SchemalessDictionary`. The view is one, and forwards everything (attributes, `errors`, `introspect`,
    `extend`, `__class__`, equality) to our schema, so code that reads the provided schema sees ours.
    """

    def __init__(self, schema: object) -> None:  # Conformity's attrs __init__ is skipped on purpose
        object.__setattr__(self, '_pysoa_schema', schema)

    def __getattribute__(self, name: str) -> object:
        schema = object.__getattribute__(self, '_pysoa_schema')
        if name == '_pysoa_schema':
            return schema
        return getattr(schema, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(object.__getattribute__(self, '_pysoa_schema'), name, value)

    def __eq__(self, other: object) -> bool:
        return bool(object.__getattribute__(self, '_pysoa_schema') == unwrap_provided(other))

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, '_pysoa_schema'))

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, '_pysoa_schema'))


def wrap_provided(schema: object) -> object:
    """What `ClassConfigurationSchema.provider` stores: a `ConformityView` of `schema` where Conformity is installed."""
    if ConformityView.__bases__ == (_Unavailable,):
        return schema
    return ConformityView(schema)


def unwrap_provided(schema: object) -> object:
    """The schema a `ConformityView` stands for (anything else as it is)."""
    if type(schema) is ConformityView:
        return object.__getattribute__(schema, '_pysoa_schema')
    return schema
