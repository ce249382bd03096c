"""`ClassConfigurationSchema`: a `{'path': 'module:Class', 'kwargs': {...}}` setting, checked against the schema
that the class declares with `@ClassConfigurationSchema.provider(...)`; validation (as pysoa's settings rely on)
writes the resolved class into the dict under `object`.
"""

from collections.abc import Callable, Mapping, MutableMapping
from typing import ClassVar, TypeVar, cast

import attr

from pysoa.schema.compat import conformity_schema_types, unwrap_provided, wrap_provided
from pysoa.schema.constants import ERROR_CODE_MISSING, ERROR_CODE_UNKNOWN
from pysoa.schema.error import ValidationError
from pysoa.schema.fields.arguments import bad_option, valid_bool, valid_text, valid_type_or_types
from pysoa.schema.fields.base import Base, FieldLike, Introspection, errors_of, introspect_of
from pysoa.schema.fields.meta.python_objects import PythonPath, TypePath
from pysoa.schema.fields.structures import Dictionary, SchemalessDictionary
from pysoa.schema.fields.utils import listed_keys, strip_none, update_pointer
from pysoa.schema.types import Error

__all__ = ('ClassConfigurationSchema',)


ClassT = TypeVar('ClassT', bound=type)


def _settings_schema_types() -> tuple[type, ...]:
    return (Dictionary, SchemalessDictionary, *conformity_schema_types())


@attr.s
class ClassConfigurationSchema(Base):
    """A `{'path': ..., 'kwargs': {...}}` dict: `path` names a class, `kwargs` passes the schema that class provides.

    A class provides its schema with the decorator `@ClassConfigurationSchema.provider(fields.Dictionary(...))`
    (Conformity's decorator works too). Validation writes the path (or `default_path`) back under `path` and,
    unless `add_class_object_to_dict=False`, the class under `object`. `instantiate_from(config)` validates and
    builds the object. `eager_default_validation=False` delays checking `default_path` until first use, which
    avoids import cycles.
    """

    introspect_type: ClassVar[str] = 'class_config_dictionary'
    _init_schema_attribute: ClassVar[str] = '_conformity_initialization_schema'

    base_class: type | None = attr.ib(default=None, validator=valid_type_or_types(allow_none=True))
    default_path: str | None = attr.ib(default=None, validator=valid_text())
    description: str | None = attr.ib(default=None, validator=valid_text())
    eager_default_validation: bool = attr.ib(default=True, validator=valid_bool())
    add_class_object_to_dict: bool = attr.ib(default=True, validator=valid_bool())

    switch_field_schema: PythonPath
    """Validates `path`: set per instance for its base class (the class attribute serves `object`)."""

    def __attrs_post_init__(self) -> None:
        if isinstance(self.base_class, tuple):
            bad_option(self, "'base_class'", 'a type or None', self.base_class)
        self._schema_cache: dict[str, FieldLike] = {}
        declared = type(self)
        if not self.base_class:
            self.base_class = getattr(declared, 'base_class', None) or object
        self.switch_field_schema = (
            _DEFAULT_SWITCH_FIELD_SCHEMA if self.base_class is object else TypePath(base_classes=self.base_class)
        )
        if not self.description and getattr(declared, 'description', None):
            self.description = declared.description
        if not self.default_path and getattr(declared, 'default_path', None):
            self.default_path = declared.default_path
        if self.default_path and self.eager_default_validation:
            self.initiate_cache_for(self.default_path)

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, Mapping):
            return [Error('Not a mapping (dictionary)')]
        # `object` is allowed, in case the same settings are validated twice
        extra_keys = [k for k in value if k not in ('path', 'kwargs', 'object')]
        if extra_keys:
            listed = listed_keys(extra_keys)
            return [Error(f'Extra keys present: {listed}', code=ERROR_CODE_UNKNOWN)]
        if 'path' not in value and not self.default_path:
            return [Error('Missing key (and no default specified): path', code=ERROR_CODE_MISSING, pointer='path')]
        path = value.get('path') or self.default_path
        errors = self._populate_schema_cache_if_necessary(cast(str, path))
        if errors:
            return [update_pointer(e, 'path') for e in errors]
        if isinstance(value, MutableMapping):
            value['path'] = path  # in case it was defaulted
            if self.add_class_object_to_dict:
                value['object'] = PythonPath.resolve_python_path(cast(str, path))
        kwargs_errors = errors_of(self._schema_cache[cast(str, path)], value.get('kwargs', {}))
        return [update_pointer(e, 'kwargs') for e in kwargs_errors]

    # No fast check: validation writes into the value, so it always runs in full (see `base.plan_of`).

    def initiate_cache_for(self, path: str) -> None:
        """Check `path` and remember its class's schema now (raises ValidationError if it is not usable)."""
        errors = self._populate_schema_cache_if_necessary(path)
        if errors:
            raise ValidationError(errors)

    def _populate_schema_cache_if_necessary(self, path: str) -> list[Error]:
        if path in self._schema_cache:
            return []
        errors = self.switch_field_schema.errors(path)
        if errors:
            return errors
        clazz = PythonPath.resolve_python_path(path)
        if not hasattr(clazz, self._init_schema_attribute):
            return [
                Error(
                    f"Neither class '{path}' nor one of its superclasses was decorated with "
                    '@ClassConfigurationSchema.provider'
                )
            ]
        schema = unwrap_provided(getattr(clazz, self._init_schema_attribute))
        if not isinstance(schema, _settings_schema_types()):
            return [
                Error(
                    f"Class '{path}' attribute '{self._init_schema_attribute}' should be a Dictionary or "
                    'SchemalessDictionary Conformity field or one of their subclasses'
                )
            ]
        self._schema_cache[path] = cast(FieldLike, schema)
        return []

    def instantiate_from(self, configuration: MutableMapping[str, object]) -> object:
        """Validate `configuration` and build the object it describes (raises ValidationError if invalid)."""
        if not isinstance(configuration, MutableMapping):
            raise ValidationError([Error('Not a mutable mapping (dictionary)')])
        errors = self.errors(configuration)
        if errors:
            raise ValidationError(errors)
        clazz = configuration.get('object') or PythonPath.resolve_python_path(cast(str, configuration['path']))
        kwargs = cast(Mapping[str, object], configuration.get('kwargs', {}))
        return cast(Callable[..., object], clazz)(**kwargs)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'base_class': self.base_class.__name__ if self.base_class else None,
                'default_path': self.default_path,
                'switch_field': 'path',
                'switch_field_schema': self.switch_field_schema.introspect(),
                'kwargs_field': 'kwargs',
                'kwargs_contents_map': {k: introspect_of(v) for k, v in self._schema_cache.items()},
            }
        )

    @staticmethod
    def provider(schema: Dictionary | SchemalessDictionary) -> Callable[[ClassT], ClassT]:
        """A class decorator that declares the schema of the class's keyword arguments."""
        if not isinstance(schema, _settings_schema_types()):
            raise TypeError(
                "ClassConfigurationSchema.provider: 'schema' must be a Dictionary or SchemalessDictionary field "
                f'(or a subclass of one), not {schema!r}'
            )

        def wrapper(cls: ClassT) -> ClassT:
            if not isinstance(cls, type):
                raise TypeError('ClassConfigurationSchema.provider can only decorate classes')
            # Wrapped so that Conformity's own ClassConfigurationSchema also accepts the class (see compat).
            setattr(cls, ClassConfigurationSchema._init_schema_attribute, wrap_provided(schema))
            return cls

        return wrapper


_DEFAULT_SWITCH_FIELD_SCHEMA = TypePath(base_classes=object)
ClassConfigurationSchema.switch_field_schema = _DEFAULT_SWITCH_FIELD_SCHEMA
