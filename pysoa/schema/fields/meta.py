"""Fields about other fields or about Python objects: nullable, any-of, all-of, polymorphic, paths and types.

`ClassConfigurationSchema` validates a `{'path': 'module:Class', 'kwargs': {...}}` setting against the schema
that the class declares with `@ClassConfigurationSchema.provider(...)`, and (as pysoa's settings rely on)
writes the resolved class into the dict under `object`.
"""

import importlib
import typing
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from types import ModuleType
from typing import ClassVar, TypeVar, cast

import attr

from pysoa.schema.compat import conformity_schema_types, unwrap_provided, wrap_provided
from pysoa.schema.constants import ERROR_CODE_MISSING, ERROR_CODE_UNKNOWN, WARNING_CODE_FIELD_DEPRECATED
from pysoa.schema.error import ValidationError
from pysoa.schema.fields.arguments import (
    bad_option,
    require_field,
    require_fields,
    require_no_extras,
    valid_bool,
    valid_field,
    valid_text,
    valid_type_or_types,
)
from pysoa.schema.fields.base import (
    NO_PLAN,
    Base,
    Check,
    FieldLike,
    Introspection,
    Plan,
    errors_of,
    exact_plan,
    introspect_of,
    plan_of,
    warnings_of,
)
from pysoa.schema.fields.structures import Dictionary, SchemalessDictionary
from pysoa.schema.fields.utils import strip_none, update_pointer
from pysoa.schema.types import Error, Warning

__all__ = (
    'All',
    'Any',
    'BooleanValidator',
    'ClassConfigurationSchema',
    'Deprecated',
    'Null',
    'Nullable',
    'ObjectInstance',
    'Polymorph',
    'PythonPath',
    'TypePath',
    'TypeReference',
)

ClassT = TypeVar('ClassT', bound=type)


@attr.s
class Nullable(Base):
    """`None`, or a value that passes `field`."""

    introspect_type: ClassVar[str] = 'nullable'

    field: FieldLike = attr.ib(validator=valid_field())

    def _errors(self, value: object) -> list[Error]:
        return [] if value is None else errors_of(self.field, value)

    def _compile(self) -> Plan:
        inner = plan_of(self.field)
        inner_check = inner.check
        if inner_check is None:
            return NO_PLAN

        def check(value: object) -> bool:
            return value is None or inner_check(value)

        return Plan(check, inner.total)

    # Like Conformity, no warnings pass through a Nullable: `warnings()` is the base one.

    def introspect(self) -> Introspection:
        return {'type': self.introspect_type, 'nullable': introspect_of(self.field)}


def _is_none(value: object) -> bool:
    return value is None


class Null(Base):
    """`None` and nothing else (the return value of an action that returns nothing, say)."""

    introspect_type: ClassVar[str] = 'null'

    def _errors(self, value: object) -> list[Error]:
        return [] if value is None else [Error('Value is not null')]

    def _compile(self) -> Plan:
        return Plan(_is_none, True)

    def introspect(self) -> Introspection:
        return {'type': self.introspect_type}


def _valid_contents_map(instance: object, attribute: 'attr.Attribute[typing.Any]', value: typing.Any) -> None:
    if not isinstance(value, dict):
        bad_option(instance, "'contents_map'", 'a dict of switch values to fields', value)
    for key, field in value.items():
        require_field(instance, f'contents_map[{key!r}]', field)


@attr.s
class Polymorph(Base):
    """A value validated by one of several fields, chosen by the value at `switch_field` (dotted keys) in it.

    The field under the key `__default__` of `contents_map`, if any, takes switch values not in the map.
    """

    introspect_type: ClassVar[str] = 'polymorph'

    switch_field: str = attr.ib(validator=valid_text(allow_none=False))
    contents_map: Mapping[Hashable, FieldLike] = attr.ib(validator=_valid_contents_map)
    description: str | None = attr.ib(default=None, validator=valid_text())

    def _switch(self, value: object) -> tuple[object, bool]:
        """The key into `contents_map` and whether there is a field for it (raises when the value has no switch)."""
        switch_value = value
        for bit in self.switch_field.split('.'):
            switch_value = cast(Mapping[str, object], switch_value)[bit]
        if switch_value in self.contents_map:
            return switch_value, True
        if '__default__' in self.contents_map:
            return '__default__', True
        return switch_value, False

    def _errors(self, value: object) -> list[Error]:
        switch_value, known = self._switch(value)
        if not known:
            return [Error(f"Invalid switch value '{switch_value}'", code=ERROR_CODE_UNKNOWN)]
        return errors_of(self.contents_map[switch_value], value)

    def warnings(self, value: object) -> list[Warning]:
        switch_value, known = self._switch(value)
        return warnings_of(self.contents_map[switch_value], value) if known else []

    def _compile(self) -> Plan:
        checks: dict[Hashable, Check] = {}
        for key, field in self.contents_map.items():
            plan = plan_of(field)
            if plan.check is None:
                return NO_PLAN
            checks[key] = plan.check
        switch = self._switch

        def check(value: object) -> bool:
            switch_value, known = switch(value)
            return known and checks[switch_value](value)

        return Plan(check, False)  # a value without the switch key raises

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'switch_field': self.switch_field,
                'contents_map': {key: introspect_of(field) for key, field in self.contents_map.items()},
            }
        )


@attr.s
class ObjectInstance(Base):
    """An instance of `valid_type` (a class or a tuple of classes)."""

    introspect_type: ClassVar[str] = 'object_instance'

    valid_type: type | tuple[type, ...] = attr.ib(validator=valid_type_or_types(allow_none=False))
    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        if isinstance(value, self.valid_type):
            return []
        return [Error(f'Not an instance of {getattr(self.valid_type, "__name__", repr(self.valid_type))}')]

    def _compile(self) -> Plan:
        valid_type = self.valid_type

        def check(value: object) -> bool:
            return isinstance(value, valid_type)

        return Plan(check, True)

    def introspect(self) -> Introspection:
        return strip_none(
            {'type': self.introspect_type, 'description': self.description, 'valid_type': repr(self.valid_type)}
        )


@attr.s
class PythonPath(Base):
    """A str naming an importable object: `module.name`, `module:name` or `module:Outer.inner`.

    The module part ends at the last dot unless there is a colon. A `value_schema`, if given, validates the
    object found. `resolve_python_path(path)` returns that object; imports are cached.
    """

    introspect_type: ClassVar[str] = 'python_path'

    value_schema: FieldLike | None = attr.ib(default=None, validator=valid_field(allow_none=True))
    description: str | None = attr.ib(default=None, validator=valid_text())

    _module_cache: ClassVar[dict[str, ModuleType]] = {}
    _import_cache: ClassVar[dict[tuple[str, str], object]] = {}

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, str):
            return [Error('Not a unicode string')]
        try:
            thing = self.resolve_python_path(value)
        except ValueError:
            return [Error(f'Value "{value}" is not a valid Python import path')]
        except ImportError as e:
            return [Error(f'ImportError: {e.args[0]!s}')]
        except AttributeError as e:
            return [Error(f'AttributeError: {e.args[0]!s}')]
        if self.value_schema:
            return errors_of(self.value_schema, thing)
        return []

    def _compile(self) -> Plan:
        return exact_plan(self)

    def warnings(self, value: object) -> list[Warning]:
        # Conformity asks the value schema about the path string itself, not the object it names; so do we.
        return warnings_of(self.value_schema, value) if self.value_schema else []

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'value_schema': introspect_of(self.value_schema) if self.value_schema else None,
            }
        )

    @classmethod
    def resolve_python_path(cls, type_path: str) -> object:
        """The object that `type_path` names (raises ValueError, ImportError or AttributeError if none)."""
        if ':' in type_path:
            module_name, local_path = type_path.split(':', 1)
        else:
            module_name, local_path = type_path.rsplit('.', 1)
        cache_key = (module_name, local_path)
        if cache_key in cls._import_cache:
            return cls._import_cache[cache_key]
        if module_name not in cls._module_cache:
            cls._module_cache[module_name] = importlib.import_module(module_name)
        thing: object = cls._module_cache[module_name]
        for bit in local_path.split('.'):
            thing = getattr(thing, bit)
        cls._import_cache[cache_key] = thing
        return thing


@attr.s
class TypeReference(Base):
    """A class, optionally a subclass of `base_classes` (a class or a tuple of classes)."""

    introspect_type: ClassVar[str] = 'type_reference'

    base_classes: type | tuple[type, ...] | None = attr.ib(default=None, validator=valid_type_or_types(allow_none=True))
    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, type):
            return [Error('Not a type')]
        if self.base_classes and not issubclass(value, self.base_classes):
            return [Error(f'Type {value} is not one of or a subclass of one of: {self.base_classes}')]
        return []

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)

    def introspect(self) -> Introspection:
        base_classes = None
        if self.base_classes:
            classes = (self.base_classes,) if isinstance(self.base_classes, type) else self.base_classes
            base_classes = [str(c) for c in classes]
        return strip_none({'type': self.introspect_type, 'description': self.description, 'base_classes': base_classes})


class TypePath(PythonPath):
    """A `PythonPath` that must name a class, optionally a subclass of `base_classes`."""

    def __init__(self, base_classes: type | tuple[type, ...] | None = None, description: str | None = None) -> None:
        super().__init__(value_schema=TypeReference(base_classes=base_classes), description=description)


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
            listed = ', '.join(str(k) for k in sorted(extra_keys))
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


class Any(Base):
    """A value that passes at least one of the fields given (tried in order)."""

    introspect_type: ClassVar[str] = 'any'

    def __init__(self, *options: FieldLike, description: str | None = None, **unknown: object) -> None:
        require_fields(self, options)
        require_no_extras(self, description, unknown)
        self.options = options
        self.description = description

    def _errors(self, value: object) -> list[Error]:
        result: list[Error] = []
        for option in self.options:
            found = errors_of(option, value)
            if not found:
                return []
            result.extend(found)
        return result

    def warnings(self, value: object) -> list[Warning]:
        result: list[Warning] = []
        for option in self.options:
            if not errors_of(option, value):
                return warnings_of(option, value)
            result.extend(warnings_of(option, value))
        return result

    def _compile(self) -> Plan:
        plans = [plan_of(option) for option in self.options]
        # The exact path stops at the first option without errors, having asked every option before it: a
        # fast "valid" is the exact path's answer only if none of those earlier options could have raised.
        if not plans or any(plan.check is None for plan in plans) or not all(plan.total for plan in plans[:-1]):
            return exact_plan(self) if plans and all(plan.check for plan in plans) else NO_PLAN
        checks = tuple(cast(Check, plan.check) for plan in plans)

        def check(value: object) -> bool:
            for option_check in checks:
                if option_check(value):
                    return True
            return False

        return Plan(check, all(plan.total for plan in plans))

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'options': [introspect_of(option) for option in self.options],
            }
        )


class All(Base):
    """A value that passes every one of the fields given."""

    introspect_type: ClassVar[str] = 'all'

    def __init__(self, *requirements: FieldLike, description: str | None = None, **unknown: object) -> None:
        require_fields(self, requirements)
        require_no_extras(self, description, unknown)
        self.requirements = requirements
        self.description = description

    def _errors(self, value: object) -> list[Error]:
        result: list[Error] = []
        for requirement in self.requirements:
            result.extend(errors_of(requirement, value))
        return result

    def warnings(self, value: object) -> list[Warning]:
        result: list[Warning] = []
        for requirement in self.requirements:
            result.extend(warnings_of(requirement, value))
        return result

    def _compile(self) -> Plan:
        plans = [plan_of(requirement) for requirement in self.requirements]
        if any(plan.check is None for plan in plans):
            return NO_PLAN
        checks = tuple(cast(Check, plan.check) for plan in plans)

        def check(value: object) -> bool:
            for requirement_check in checks:
                if not requirement_check(value):
                    return False
            return True

        return Plan(check, all(plan.total for plan in plans))

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'requirements': [introspect_of(requirement) for requirement in self.requirements],
            }
        )


def _valid_callable(instance: object, attribute: 'attr.Attribute[typing.Any]', value: typing.Any) -> None:
    if not callable(value):
        bad_option(instance, "'validator'", 'a callable taking the value and returning a bool', value)


@attr.s
class BooleanValidator(Base):
    """A value for which `validator(value)` is true; `error` is the message otherwise."""

    introspect_type: ClassVar[str] = 'boolean_validator'

    validator: Callable[[object], object] = attr.ib(validator=_valid_callable)
    validator_description: str = attr.ib(validator=valid_text(allow_none=False))
    error: str = attr.ib(validator=valid_text(allow_none=False))
    description: str | None = attr.ib(default=None, validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        try:
            ok = self.validator(value)
        except Exception as e:  # the validator's failure is the value's error, as in Conformity
            return [Error(f'Validator encountered an error (invalid type?): {e!r}')]
        return [] if ok else [Error(self.error)]

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)

    def introspect(self) -> Introspection:
        return strip_none(
            {'type': self.introspect_type, 'description': self.description, 'validator': self.validator_description}
        )


@attr.s
class Deprecated(Base):
    """A field still accepted but on its way out: its values validate as `field`'s and carry a warning."""

    field: FieldLike = attr.ib(validator=valid_field())
    message: str = attr.ib(default='This field has been deprecated', validator=valid_text())

    def _errors(self, value: object) -> list[Error]:
        # Conformity 1.28 answers 'Validation not implemented on base type' for every value here, which makes
        # the field unusable; the wrapped field's errors are what was meant.
        return errors_of(self.field, value)

    def _compile(self) -> Plan:
        return plan_of(self.field)

    def warnings(self, value: object) -> list[Warning]:
        found = warnings_of(self.field, value)
        found.append(Warning(code=WARNING_CODE_FIELD_DEPRECATED, message=self.message))
        return found

    def introspect(self) -> Introspection:
        introspection = introspect_of(self.field)
        introspection['deprecated'] = True
        return introspection
