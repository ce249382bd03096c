"""Fields about Python objects: an instance of a type, an importable path, a type, a path to a type."""

import importlib
from types import ModuleType
from typing import ClassVar

import attr

from pysoa.schema.fields.arguments import valid_field, valid_text, valid_type_or_types
from pysoa.schema.fields.base import (
    Base,
    FieldLike,
    Introspection,
    Plan,
    errors_of,
    exact_plan,
    introspect_of,
    warnings_of,
)
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error, Warning

__all__ = (
    'ObjectInstance',
    'PythonPath',
    'TypePath',
    'TypeReference',
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
