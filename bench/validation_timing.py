"""Time action-body validation: `pysoa.schema` against Conformity, and against the retired compiled check.

Prints microseconds per `errors()` call for the benchmark's request and response bodies (valid) and for an
invalid request body. Conformity's own `errors()` is timed when Conformity is installed, and the compiled
check of `pysoa.common.fast_validation` (PySOA before `pysoa.schema`) when that module still exists, so the
same script run on an older checkout gives the figures to compare with. It asserts nothing.

    .venv/bin/python bench/validation_timing.py
"""

import importlib
import timeit
from collections.abc import Callable
from types import ModuleType
from typing import Any

REQUEST = {
    'user_id': 42,
    'name': 'Ada Lovelace',
    'email': 'ada@example.com',
    'tags': ['a', 'b', 'c'],
    'score': 0.5,
    'active': True,
}
RESPONSE = {'user_id': 42, 'greeting': 'Hello, Ada Lovelace', 'tags': ['a', 'b', 'c'], 'ok': True}
BAD_REQUEST = {**REQUEST, 'user_id': 'forty-two', 'extra': 1}


def schemas(fields: ModuleType) -> tuple[Any, Any]:
    """The request and response schemas of the benchmark's action (`bench/benchpeer/service.py`)."""
    request = fields.Dictionary(
        {
            'user_id': fields.Integer(),
            'name': fields.UnicodeString(),
            'email': fields.UnicodeString(),
            'tags': fields.List(fields.UnicodeString()),
            'score': fields.Float(),
            'active': fields.Boolean(),
        }
    )
    response = fields.Dictionary(
        {
            'user_id': fields.Integer(),
            'greeting': fields.UnicodeString(),
            'tags': fields.List(fields.UnicodeString()),
            'ok': fields.Boolean(),
        }
    )
    return request, response


def microseconds(call: Callable[[], object], number: int = 20000) -> float:
    """The best of five runs of `number` calls, in microseconds per call."""
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def main() -> None:
    rows: list[tuple[str, Callable[[Any, object], object], ModuleType]] = []
    ours = optional('pysoa.schema.fields')
    if ours is not None:
        rows.append(('pysoa.schema', lambda schema, value: schema.errors(value), ours))
    conformity = optional('conformity.fields')
    if conformity is not None:
        rows.append(('conformity', lambda schema, value: schema.errors(value), conformity))
        compiled = optional('pysoa.common.fast_validation')
        if compiled is not None:
            rows.append(('fast_validation', compiled.errors, conformity))
    print(f'{"implementation":<16} {"request µs":>11} {"response µs":>12} {"invalid µs":>11}')
    for name, errors, fields in rows:
        request, response = schemas(fields)
        figures = [
            microseconds(lambda errors=errors, schema=schema, value=value: errors(schema, value))
            for schema, value in ((request, REQUEST), (response, RESPONSE), (request, BAD_REQUEST))
        ]
        print(f'{name:<16} {figures[0]:>11.2f} {figures[1]:>12.2f} {figures[2]:>11.2f}')


if __name__ == '__main__':
    main()
