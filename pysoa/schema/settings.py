"""`Settings`: a read-only mapping of validated settings, whose `schema` and `defaults` merge through subclasses.

A subclass's `schema` and `defaults` are merged with those of its `Settings` bases when the class is defined:
bases on the left win over bases on the right, and the class's own entries win over all of them, as method
lookup does. `Settings(data)` merges `data` over the defaults (nested mappings merge key by key), then
refuses missing and unknown keys and invalid values with `Settings.ImproperlyConfigured`.
"""

import copy
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, overload

from pysoa.schema.compat import ImproperlyConfiguredBase
from pysoa.schema.error import ValidationError
from pysoa.schema.fields.arguments import is_field
from pysoa.schema.fields.base import FieldLike
from pysoa.schema.fields.utils import listed_keys
from pysoa.schema.validator import validate

__all__ = ('Settings', 'SettingsData', 'SettingsSchema')

SettingsSchema = Mapping[str, FieldLike]
SettingsData = Mapping[str, Any]  # settings values are whatever their fields accept; readers know their types

T = TypeVar('T')


class _ImproperlyConfigured(ImproperlyConfiguredBase):
    """Settings data failed validation (also Conformity's `Settings.ImproperlyConfigured` where installed)."""


def _merged(data: Mapping[str, object], defaults: Mapping[str, object]) -> dict[str, object]:
    """`data` over `defaults`, merging key by key where both hold a mapping."""
    result: dict[str, object] = {}
    for key, value in data.items():
        default = defaults.get(key)
        if isinstance(value, Mapping) and isinstance(default, Mapping):
            result[key] = _merged(value, default)
        else:
            result[key] = value
    for key, default in defaults.items():
        if key not in data:
            result[key] = default
    return result


class Settings(Mapping[str, Any]):
    """Validated settings, read as a mapping; subclasses declare `schema` and `defaults` (see the module)."""

    # Not ClassVars, so that subclasses written for Conformity may annotate them as they like.
    schema: SettingsSchema = {}
    defaults: SettingsData = {}

    ImproperlyConfigured = _ImproperlyConfigured

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        bases = [base for base in cls.__bases__ if issubclass(base, Settings)]
        schema: dict[str, FieldLike] = {}
        defaults: dict[str, object] = {}
        # The rightmost base first, so that bases further left overwrite it.
        for base in reversed(bases):
            schema.update(base.schema)
            defaults.update(base.defaults)
        if not any(cls.schema is base.schema for base in bases):
            schema.update(cls.schema)
        if not any(cls.defaults is base.defaults for base in bases):
            defaults.update(cls.defaults)
        for key, field in schema.items():
            if not isinstance(key, str):
                raise TypeError(f'{cls.__name__}.schema: setting names must be str, not {key!r}')
            if not is_field(field):
                raise TypeError(
                    f'{cls.__name__}.schema[{key!r}] must be a schema field (an object with errors() and '
                    f'introspect()), not {field!r}'
                )
        cls.schema = schema
        cls.defaults = defaults

    def __init__(self, data: SettingsData) -> None:
        """Validate `data`, merged over the defaults (raises `ImproperlyConfigured`)."""
        self._data: dict[str, Any] = {}
        self.set(data)

    def set(self, data: SettingsData) -> None:
        """Replace the settings with `data` merged over the defaults, once valid (raises `ImproperlyConfigured`)."""
        settings = _merged(copy.deepcopy(data), copy.deepcopy(self.defaults))
        missing = self.schema.keys() - settings.keys()
        if missing:
            raise self.ImproperlyConfigured(f'No value provided for required setting(s): {listed_keys(missing)}')
        unknown = settings.keys() - self.schema.keys()
        if unknown:
            raise self.ImproperlyConfigured(f'Unknown setting(s): {listed_keys(unknown)}')
        for key, value in settings.items():
            try:
                validate(self.schema[key], value, f"setting '{key}'")
            except ValidationError as e:
                raise self.ImproperlyConfigured(*e.args)
        self._data = settings

    @overload
    def get(self, key: str, /) -> Any: ...

    @overload
    def get(self, key: str, /, default: T) -> Any | T: ...

    def get(self, key: str, /, default: object = None) -> Any:
        """The value of setting `key`, or `default`."""
        return self._data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and self._data == other._data

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # a mapping with value equality is not hashable
