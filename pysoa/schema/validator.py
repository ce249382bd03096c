"""`validate(schema, value)`, which raises `ValidationError`, and decorators that validate a callable's arguments."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pysoa.schema import fields
from pysoa.schema.error import KeywordError, PositionalError, ValidationError
from pysoa.schema.fields.base import FieldLike, errors_of

__all__ = ('KeywordError', 'PositionalError', 'ValidationError', 'validate', 'validate_call', 'validate_method')

P = ParamSpec('P')
R = TypeVar('R')


def validate(schema: FieldLike, value: object, noun: str = 'value') -> None:
    """Raise `ValidationError` listing every error of `value` (`Invalid <noun>:` then one line per error)."""
    errors = errors_of(schema, value)
    if errors:
        lines = ''.join(
            f'  - {error.pointer}: {error.message}\n' if error.pointer else f'  - {error.message}\n' for error in errors
        )
        raise ValidationError(f'Invalid {noun}:\n{lines}')


def validate_call(
    kwargs: fields.Dictionary | fields.SchemalessDictionary | None,
    returns: FieldLike,
    is_method: bool = False,
    args: fields.Tuple | fields.List | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a callable so its keyword arguments, positional arguments and return value are validated.

    Positional arguments are refused unless `args` (a `Tuple` or `List`) is given, keyword arguments unless
    `kwargs` is; `is_method=True` leaves the first argument (`self` or `cls`) alone.
    """
    if args is not None and not isinstance(args, fields.Tuple | fields.List):
        raise ValueError("validate_call: 'args' must be a fields.Tuple, a fields.List or None")
    if kwargs is not None and not isinstance(kwargs, fields.Dictionary | fields.SchemalessDictionary):
        raise ValueError("validate_call: 'kwargs' must be a fields.Dictionary, a fields.SchemalessDictionary or None")

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def decorated(*passed_args: P.args, **passed_kwargs: P.kwargs) -> R:
            skipped = 1 if is_method else 0
            if args is not None:
                positional = passed_args[skipped:]
                validate(
                    args, list(positional) if isinstance(args, fields.List) else positional, 'positional arguments'
                )
            elif len(passed_args) > skipped:
                raise PositionalError(f'{func.__name__} does not accept positional arguments')
            if kwargs is not None:
                validate(kwargs, passed_kwargs, 'keyword arguments')
            elif passed_kwargs:
                raise KeywordError(f'{func.__name__} does not accept keyword arguments')
            result = func(*passed_args, **passed_kwargs)
            validate(returns, result, 'return value')
            return result

        # Introspection tools look for these, as they do on Conformity's decorated callables.
        setattr(decorated, '__validated__', True)  # noqa: B010
        setattr(decorated, '__validated_schema_args__', args)  # noqa: B010
        setattr(decorated, '__validated_schema_kwargs__', kwargs)  # noqa: B010
        setattr(decorated, '__validated_schema_returns__', returns)  # noqa: B010
        return decorated

    return decorator


def validate_method(
    kwargs: fields.Dictionary | fields.SchemalessDictionary | None,
    returns: FieldLike,
    args: fields.Tuple | fields.List | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`validate_call` for methods: the first argument (`self` or `cls`) is not validated."""
    return validate_call(kwargs=kwargs, returns=returns, is_method=True, args=args)
