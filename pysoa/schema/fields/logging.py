"""The schema of a `logging.config.dictConfig` dict, and a log-level field.

Its descriptions are part of what `introspect()` returns, so they read exactly as Conformity's do: a service's
introspection must not change when it moves its imports here.
"""

import logging
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence

from pysoa.schema.constants import ERROR_CODE_UNKNOWN
from pysoa.schema.fields.basic import Boolean, Constant, Integer, UnicodeString
from pysoa.schema.fields.meta import TypePath
from pysoa.schema.fields.structures import AdditionalCollectionValidator, Dictionary, List, SchemalessDictionary
from pysoa.schema.types import Error

__all__ = (
    'PYTHON_LOGGER_SCHEMA',
    'PYTHON_LOGGING_CONFIG_SCHEMA',
    'PYTHON_ROOT_LOGGER_SCHEMA',
    'PythonLogLevel',
)


class PythonLogLevel(Constant):
    """One of the names of Python's standard log levels, `DEBUG` to `CRITICAL`."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__(
            *(logging.getLevelName(level) for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)),
            logging.getLevelName(logging.CRITICAL),
            description=description,
        )


Config = Mapping[str, Mapping[str, object]]


class _LoggingValidator(AdditionalCollectionValidator[Mapping[Hashable, object]]):
    """Checks that the names a logging config refers to (formatters, filters, handlers) are configured in it."""

    def errors(self, value: Mapping[Hashable, object]) -> list[Error]:
        errors: list[Error] = []
        filters = _section(value, 'filters')
        for filter_name, filter_config in filters.items():
            errors.extend(_standard_filter_errors(filter_name, filter_config))
        if value.get('incremental', False) is True:
            return errors  # an incremental config may refer to names configured before it
        formatters, handlers = _section(value, 'formatters'), _section(value, 'handlers')
        for handler_name, handler_config in handlers.items():
            if 'formatter' in handler_config:
                formatter = handler_config['formatter']
                where = f'handlers.{handler_name}.formatter'
                errors.extend(_unconfigured(formatters, formatter, 'Handler', handler_name, 'formatter', where))
            for i, referenced in enumerate(_names(handler_config, 'filters')):
                where = f'handlers.{handler_name}.filters.{i}'
                errors.extend(_unconfigured(filters, referenced, 'Handler', handler_name, 'filter', where))
        for logger_name, logger_config in _section(value, 'loggers').items():
            errors.extend(_logger_errors(logger_name, logger_config, filters, handlers, f'loggers.{logger_name}'))
        root = value.get('root', {})
        if root:
            errors.extend(_logger_errors('root', _as_config(root), filters, handlers, 'root'))
        return errors


def _section(value: Mapping[Hashable, object], name: str) -> Config:
    return _as_mapping(value.get(name, {}))


def _as_mapping(value: object) -> Config:
    return value if isinstance(value, Mapping) else {}


def _as_config(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _names(config: Mapping[str, object], key: str) -> Sequence[object]:
    names = config.get(key, [])
    return names if isinstance(names, Sequence) else []


def _standard_filter_errors(filter_name: str, filter_config: Mapping[str, object]) -> list[Error]:
    # Only a custom filter class (`()`) takes keys other than `name`.
    standard_keys = 0
    is_standard = True
    if '()' in filter_config:
        standard_keys = 1
        is_standard = filter_config['()'] == 'logging.Filter'
    if 'name' in filter_config:
        standard_keys += 1
    if is_standard and len(filter_config) > standard_keys:
        return [
            Error(
                code=ERROR_CODE_UNKNOWN,
                message=f'Not all keys supported for filter named "{filter_name}"',
                pointer=f'filters.{filter_name}',
            )
        ]
    return []


def _logger_errors(
    name: str, config: Mapping[str, object], filters: Config, handlers: Config, pointer: str
) -> list[Error]:
    errors: list[Error] = []
    for i, filter_name in enumerate(_names(config, 'filters')):
        errors.extend(_unconfigured(filters, filter_name, 'Logger', name, 'filter', f'{pointer}.filters.{i}'))
    for i, handler_name in enumerate(_names(config, 'handlers')):
        errors.extend(_unconfigured(handlers, handler_name, 'Logger', name, 'handler', f'{pointer}.handlers.{i}'))
    return errors


def _unconfigured(
    configured: Config, name: object, referrer_noun: str, referrer: str, referred_noun: str, pointer: str
) -> list[Error]:
    if name in configured:
        return []
    message = f'{referrer_noun} "{referrer}" references {referred_noun} "{name}", which is not configured.'
    return [Error(code=ERROR_CODE_UNKNOWN, message=message, pointer=pointer)]


PYTHON_ROOT_LOGGER_SCHEMA = Dictionary(
    {
        'level': PythonLogLevel(
            description='The logging level at or above which this logger will handle logging events and send them to '
            'its configured handlers.',
        ),
        'filters': List(
            UnicodeString(),
            description='A list of references to keys from `filters` for assigning those filters to this logger.',
        ),
        'handlers': List(
            UnicodeString(),
            description='A list of references to keys from `handlers` for assigning those handlers to this logger.',
        ),
    },
    optional_keys=('level', 'filters', 'handlers'),
)
"""The `root` logger of a logging config."""

PYTHON_LOGGER_SCHEMA = PYTHON_ROOT_LOGGER_SCHEMA.extend(
    contents={
        'propagate': Boolean(
            description='Whether logging events handled by this logger should propagate to other loggers and/or the '
            'root logger. Defaults to `True`.'
        ),
    },
    optional_keys=('propagate',),
)
"""One named logger of a logging config."""

PYTHON_LOGGING_CONFIG_SCHEMA = Dictionary(
    OrderedDict(
        (
            ('version', Integer(gte=1, lte=1)),
            (
                'formatters',
                SchemalessDictionary(
                    key_type=UnicodeString(),
                    value_type=Dictionary(
                        {
                            'format': UnicodeString(
                                description='The format string for this formatter (see '
                                'https://docs.python.org/3/library/logging.html#logrecord-attributes).',
                            ),
                            'datefmt': UnicodeString(
                                description='The optional date format used when formatting dates in the log output '
                                '(see https://docs.python.org/3/library/datetime.html#strftime-strptime-behavior).',
                            ),
                        },
                        optional_keys=('datefmt',),
                    ),
                    description='This defines a mapping of logging formatter names to formatter configurations. The '
                    '`format` key specifies the log format and the `datefmt` key specifies the date format.',
                ),
            ),
            (
                'filters',
                SchemalessDictionary(
                    key_type=UnicodeString(),
                    value_type=Dictionary(
                        {
                            '()': TypePath(
                                base_classes=logging.Filter,
                                description='The optional, fully-qualified name of the class extending '
                                '`logging.Filter`, used to override the default class `logging.Filter`.',
                            ),
                            'name': UnicodeString(
                                description='The optional filter name which will be passed to the `name` argument of '
                                'the `logging.Filter` class.',
                            ),
                        },
                        optional_keys=('()', 'name'),
                        allow_extra_keys=True,
                    ),
                    description='This defines a mapping of logging filter names to filter configurations. If a config '
                    'has only the `name` key, then `logging.Filter` will be instantiated with that argument. You can '
                    'specify a `()` key (yes, really) to override the default `logging.Filter` class with a custom '
                    'filter implementation (which should extend `logging.Filter`). Extra keys are allowed only for '
                    'custom implementations having extra constructor arguments matching those key names.',
                ),
            ),
            (
                'handlers',
                SchemalessDictionary(
                    key_type=UnicodeString(),
                    value_type=Dictionary(
                        {
                            'class': TypePath(
                                base_classes=logging.Handler,
                                description='The fully-qualified name of the class extending `logging.Handler`.',
                            ),
                            'level': PythonLogLevel(
                                description='The logging level at or above which this handler will emit logging '
                                'events.',
                            ),
                            'formatter': UnicodeString(
                                description='A reference to a key from `formatters` for assigning that formatter to '
                                'this handler.',
                            ),
                            'filters': List(
                                UnicodeString(),
                                description='A list of references to keys from `filters` for assigning those filters '
                                'to this handler.',
                            ),
                        },
                        optional_keys=('level', 'formatter', 'filters'),
                        allow_extra_keys=True,
                    ),
                    description='This defines a mapping of logging handler names to handler configurations. The '
                    '`class` key is the importable Python path to the class extending `logging.Handler`. The `level` '
                    'and `filters` keys apply to all handlers. The `formatter` key is valid for all handlers, but not '
                    'all handlers will use it. Extra keys are allowed only for handlers having extra constructor '
                    'arguments matching those key names.',
                ),
            ),
            (
                'loggers',
                SchemalessDictionary(
                    key_type=UnicodeString(),
                    value_type=PYTHON_LOGGER_SCHEMA,
                    description='This defines a mapping of logger names to logger configurations. A log event not '
                    'handled by one of these configured loggers (if any) will instead be handled by the root logger. '
                    'A log event handled by one of these configured loggers may still be handled by another logger or '
                    'the root logger unless its `propagate` key is set to `False`.',
                ),
            ),
            ('root', PYTHON_ROOT_LOGGER_SCHEMA),
            (
                'incremental',
                Boolean(
                    description='Whether this configuration should be considered incremental to any existing '
                    'configuration. It defaults to `False` and it is rare that you should ever need to change that.',
                ),
            ),
            (
                'disable_existing_loggers',
                Boolean(
                    description='Whether all existing loggers (objects obtained from `logging.getLogger()`) should be '
                    'disabled when this logging config is loaded. Take our advice and *always* set this to `False`. '
                    'It defaults to `True` and you almost never want that, because loggers in already-loaded modules '
                    'will stop working.',
                ),
            ),
        )
    ),
    optional_keys=(
        'version',
        'formatters',
        'filters',
        'handlers',
        'root',
        'loggers',
        'incremental',
        'disable_existing_loggers',
    ),
    description='Settings to enforce the standard Python logging dictionary-based configuration, as you would load '
    'with `logging.config.dictConfig()`. For more information than the documentation here, see '
    'https://docs.python.org/3/library/logging.config.html#configuration-dictionary-schema.',
    additional_validator=_LoggingValidator(),
)
"""A whole `logging.config.dictConfig` dict, with its cross-references checked."""
