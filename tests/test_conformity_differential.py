"""pysoa.schema against Conformity 1.28: random schemas and values get the same errors, warnings and introspection.

Hypothesis draws a schema description (nested, with options), builds it once with `conformity.fields` and
once with `pysoa.schema.fields`, and validates values drawn both at random and in the schema's shape.
Errors are compared as (code, message, pointer) in order; an exception raised by one library must be
raised, with the same type, by the other, save one intended difference: extra keys of mixed types (text and
integers), which Conformity fails to sort (TypeError) and pysoa lists in an error. Each test counts its cases
and prints the count.
"""

import datetime
import decimal
import string
from collections import OrderedDict
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.ci import require_module

require_module('conformity')
hypothesis = require_module('hypothesis')

from conformity import fields as conformity_fields  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pysoa.schema import fields as our_fields  # noqa: E402

CASES_PER_TEST = 5_000

Spec = tuple[str, tuple[Any, ...], dict[str, Any]]


class Sub:
    """A nested schema inside a spec's arguments."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec


def build(spec: Spec, library: ModuleType) -> Any:
    name, args, kwargs = spec
    return getattr(library, name)(*(_arg(a, library) for a in args), **{k: _arg(v, library) for k, v in kwargs.items()})


def _arg(value: Any, library: ModuleType) -> Any:
    if isinstance(value, Sub):
        return build(value.spec, library)
    if isinstance(value, OrderedDict):
        return OrderedDict((k, _arg(v, library)) for k, v in value.items())
    if isinstance(value, dict):
        return {k: _arg(v, library) for k, v in value.items()}
    return value


# ---- schemas -------------------------------------------------------------------------------------------------

KEYS = st.sampled_from(['a', 'b', 'c', 'kind', 'x', 'y'])
DESCRIPTIONS = st.none() | st.sampled_from(['A field.', 'Other words', ''])
SMALL_INT = st.integers(-3, 3)
LENGTH = st.none() | st.integers(0, 4)


def _kwargs(**options: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the options, each drawn from its strategy (absent options keep their defaults)."""
    return st.fixed_dictionaries({}, optional=options)


def _leaf(name: str, **options: st.SearchStrategy[Any]) -> st.SearchStrategy[Spec]:
    return _kwargs(**options).map(lambda kwargs: (name, (), kwargs))


def _lengths(kwargs: dict[str, Any]) -> bool:
    low, high = kwargs.get('min_length'), kwargs.get('max_length')
    return low is None or high is None or low <= high


NUMBER_BOUND = st.none() | SMALL_INT | st.sampled_from([0.5, -1.5, 2.0])
DECIMAL_BOUND = st.none() | SMALL_INT | st.sampled_from([decimal.Decimal('0.5'), decimal.Decimal('-2')])
DATES = [datetime.date(2020, 1, 1), datetime.date(2021, 6, 15)]
DATETIMES = [datetime.datetime(2020, 1, 1, 12), datetime.datetime(2021, 6, 15, 8, 30)]
TIMES = [datetime.time(8), datetime.time(17, 30)]
DELTAS = [datetime.timedelta(0), datetime.timedelta(seconds=90), datetime.timedelta(days=2)]


class EvenLength(conformity_fields.AdditionalCollectionValidator):  # type: ignore[misc]
    """Conformity's kind of whole-collection validator, usable by both libraries."""

    def errors(self, value: Any) -> list[Any]:
        from pysoa.schema.types import Error

        return [] if len(value) % 2 == 0 else [Error('Odd number of members', pointer='size')]


def _is_positive(value: Any) -> bool:
    return value > 0  # type: ignore[no-any-return]


LEAVES: st.SearchStrategy[Spec] = st.one_of(
    _leaf('Integer', gt=NUMBER_BOUND, gte=NUMBER_BOUND, lt=NUMBER_BOUND, lte=NUMBER_BOUND, description=DESCRIPTIONS),
    _leaf('Float', gt=NUMBER_BOUND, gte=NUMBER_BOUND, lt=NUMBER_BOUND, lte=NUMBER_BOUND),
    _leaf('Decimal', gt=DECIMAL_BOUND, lte=DECIMAL_BOUND),
    _leaf('Boolean', description=DESCRIPTIONS),
    _leaf(
        'UnicodeString', min_length=LENGTH, max_length=LENGTH, allow_blank=st.booleans(), description=DESCRIPTIONS
    ).filter(lambda spec: _lengths(spec[2])),
    _leaf('ByteString', min_length=LENGTH, max_length=LENGTH, allow_blank=st.booleans()).filter(
        lambda spec: _lengths(spec[2])
    ),
    _leaf('UnicodeDecimal', description=DESCRIPTIONS),
    _leaf('Anything', description=DESCRIPTIONS),
    _leaf('Hashable'),
    st.just(('Null', (), {})),
    st.tuples(
        st.just('Constant'),
        st.lists(st.sampled_from([1, 2, 'a', 'b', True, None, 2.5, b'x']), min_size=1, max_size=3).map(tuple),
        _kwargs(description=DESCRIPTIONS),
    ),
    _leaf('Latitude', gte=st.none() | SMALL_INT, lte=st.none() | SMALL_INT),
    _leaf('Longitude', gte=st.none() | SMALL_INT, lte=st.none() | SMALL_INT),
    _leaf('IPv4Address'),
    _leaf('IPv6Address'),
    _leaf('IPAddress', description=DESCRIPTIONS),
    _leaf('EmailAddress'),
    st.tuples(st.just('EmailAddress'), st.just(()), st.just({'whitelist': ['example', 'intranet']})),
    _leaf('Date', gt=st.none() | st.sampled_from(DATES), lte=st.none() | st.sampled_from(DATES)),
    _leaf('DateTime', gte=st.none() | st.sampled_from(DATETIMES), lt=st.none() | st.sampled_from(DATETIMES)),
    _leaf('Time', gt=st.none() | st.sampled_from(TIMES), lte=st.none() | st.sampled_from(TIMES)),
    _leaf('TimeDelta', gte=st.none() | st.sampled_from(DELTAS), lt=st.none() | st.sampled_from(DELTAS)),
    _leaf('TZInfo'),
    st.tuples(st.just('ObjectInstance'), st.sampled_from([(int,), ((int, str),), (decimal.Decimal,)]), st.just({})),
    _leaf('TypeReference', base_classes=st.sampled_from([int, (Exception, int), object])),
    _leaf('PythonPath', description=DESCRIPTIONS),
    _leaf('TypePath', base_classes=st.sampled_from([Exception, (int, str)])),
    st.just(('BooleanValidator', (_is_positive, 'value > 0', 'Not positive'), {})),
)


@st.composite
def polymorph(draw: Callable[..., Any], child: st.SearchStrategy[Sub]) -> Spec:
    contents_map = {key: draw(child) for key in draw(st.lists(st.sampled_from(['x', 'y', 'z']), unique=True))}
    if draw(st.booleans()):
        contents_map['__default__'] = draw(child)
    return ('Polymorph', ('kind', contents_map), draw(_kwargs(description=DESCRIPTIONS)))


def _containers(children: st.SearchStrategy[Spec]) -> st.SearchStrategy[Spec]:
    child = children.map(Sub)
    collection = _kwargs(max_length=LENGTH, min_length=LENGTH, description=DESCRIPTIONS)
    validator = st.none() | st.just(EvenLength())

    @st.composite
    def sequence(draw: Callable[..., Any], name: str) -> Spec:
        kwargs = draw(collection.filter(_lengths))
        if draw(st.booleans()):
            kwargs['additional_validator'] = draw(validator)
        return (name, (draw(child),), kwargs)

    @st.composite
    def dictionary(draw: Callable[..., Any]) -> Spec:
        keys = draw(st.lists(KEYS, unique=True, max_size=4))
        contents = {key: draw(child) for key in keys}
        if draw(st.booleans()):
            contents = OrderedDict(contents)
        kwargs = draw(_kwargs(allow_extra_keys=st.booleans(), description=DESCRIPTIONS))
        optional = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
        if draw(st.booleans()):
            kwargs['optional_keys'] = tuple(optional)
        if draw(st.booleans()):
            kwargs['additional_validator'] = draw(validator)
        return ('Dictionary', (contents,), kwargs)

    @st.composite
    def schemaless(draw: Callable[..., Any]) -> Spec:
        kwargs = draw(collection.filter(_lengths))
        if draw(st.booleans()):
            kwargs['key_type'] = Sub(draw(st.sampled_from([('UnicodeString', (), {}), ('Integer', (), {'gte': 0})])))
        if draw(st.booleans()):
            kwargs['value_type'] = draw(child)
        return ('SchemalessDictionary', (), kwargs)

    @st.composite
    def several(draw: Callable[..., Any], name: str) -> Spec:
        members = tuple(draw(st.lists(child, min_size=1 if name != 'Tuple' else 0, max_size=3)))
        return (name, members, draw(_kwargs(description=DESCRIPTIONS)))

    return st.one_of(
        sequence('List'),
        sequence('Sequence'),
        sequence('Set'),
        dictionary(),
        schemaless(),
        several('Tuple'),
        several('Any'),
        several('All'),
        child.map(lambda sub: ('Nullable', (sub,), {})),
        polymorph(child),
    )


SCHEMAS: st.SearchStrategy[Spec] = st.recursive(LEAVES, _containers, max_leaves=6)


# ---- values --------------------------------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(string.ascii_letters + string.digits + ' .:@-_', max_size=6),
    st.sampled_from(
        [
            '',
            '   ',
            '1.5',
            'NaN',
            '1e3',
            '10.0.0.1',
            '256.1.1.1',
            '1.2.3.4\n',
            '::1',
            '::',
            'fe80::1:2',
            '1::2::3',
            ':1:2',
            '1:2:3:4:5:6:7:8',
            '1:2:3:4:5:6:7:8:9',
            '::ffff:1.2.3.4',
            '1.2.3.4::',
            'gggg::1',
            'user@example.com',
            'user@example',
            'a.b@[10.1.2.3]',
            'x@[::1]',
            'bad..dots@example.com',
            '"quoted"@host.org',
            'no-at-sign',
            'a@b@c.io',
            'user@bücher.de',
            'os.path',
            'os:path.join',
            'os.nope',
            'no_such_module_xyz.thing',
            'builtins.ValueError',
            'builtins:int',
            'decimal.Decimal',
            'single',
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.5, -1.5, 2.0, float('nan'), float('inf'), 90.0, -181.0, 45.5]),
    st.sampled_from([decimal.Decimal('1.5'), decimal.Decimal('-3'), decimal.Decimal('NaN')]),
    TEXT,
    st.binary(max_size=3),
    st.sampled_from(DATES + DATETIMES + TIMES + DELTAS + [datetime.UTC]),
    st.sampled_from([int, str, ValueError, object]),
)


def _random_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=3).map(tuple),
            st.frozensets(st.integers(-3, 3) | st.sampled_from(['a', 'b']), max_size=3),
            st.dictionaries(KEYS, inner, max_size=4),
            st.dictionaries(st.integers(0, 3), inner, max_size=2),
        ),
        max_leaves=6,
    )


RANDOM_VALUES = _random_values()


def shaped(spec: Spec) -> st.SearchStrategy[Any]:
    """Values in the shape of the schema, mostly valid, with random values mixed in at every level."""
    name, args, kwargs = spec

    def sub(value: Any) -> st.SearchStrategy[Any]:
        return shaped(value.spec) | RANDOM_VALUES

    if name in ('List', 'Sequence'):
        return st.lists(sub(args[0]), max_size=5) | st.lists(sub(args[0]), max_size=3).map(tuple)
    if name == 'Set':
        return st.frozensets(SCALARS.filter(_hashable), max_size=3) | st.sets(st.integers(-3, 3), max_size=4)
    if name == 'Dictionary':
        contents = args[0]
        return st.fixed_dictionaries(
            {}, optional={**{key: sub(value) for key, value in contents.items()}, 'z': RANDOM_VALUES}
        )
    if name == 'SchemalessDictionary':
        return st.dictionaries(KEYS | st.integers(-1, 2), RANDOM_VALUES, max_size=3)
    if name == 'Tuple':
        return st.tuples(*(sub(member) for member in args))
    if name in ('Any', 'All'):
        return st.one_of(*(sub(member) for member in args))
    if name == 'Nullable':
        return st.none() | sub(args[0])
    if name == 'Polymorph':
        return st.fixed_dictionaries({'kind': st.sampled_from(['x', 'y', 'z', 'w'])}) | RANDOM_VALUES
    return RANDOM_VALUES


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


# ---- comparison ----------------------------------------------------------------------------------------------


def _outcome(method: Callable[[Any], Any], value: Any) -> Any:
    try:
        issues = method(value)
    except Exception as e:
        return ('raised', type(e).__name__)
    return [(issue.code, issue.message, issue.pointer) for issue in issues or []]


def _introspection(field: Any) -> Any:
    try:
        return field.introspect()
    except Exception as e:
        return ('raised', type(e).__name__)


def _mixed_keys(value: Any) -> bool:
    """Whether `value` holds, at any depth, a dict whose keys do not sort together (text and integers)."""
    if isinstance(value, dict):
        try:
            sorted(value)
        except TypeError:
            return True
        return any(_mixed_keys(member) for member in value.values())
    if isinstance(value, list | tuple):
        return any(_mixed_keys(member) for member in value)
    return False


def _listed_instead_of_raising(value: Any, ours: Any) -> list[Any]:
    """Where Conformity fails to sort extra keys of mixed types (TypeError), pysoa lists them: the one intended
    difference (a request may carry such keys; it gets an error that names them, not a crash)."""
    if _mixed_keys(value) and isinstance(ours, list) and any(m.startswith('Extra keys present') for _, m, _ in ours):
        return [('raised', 'TypeError')]
    return []


def compare(spec: Spec, values: list[Any]) -> int:
    theirs, ours = build(spec, conformity_fields), build(spec, our_fields)
    assert _introspection(ours) == _introspection(theirs), spec
    for value in values:
        expected = _outcome(theirs.errors, value)
        if expected in _listed_instead_of_raising(value, _outcome(ours.errors, value)):
            continue
        # Twice: the first call compiles the fast check, the second uses it.
        assert _outcome(ours.errors, value) == expected, (spec, value)
        assert _outcome(ours.errors, value) == expected, (spec, value)
        assert _outcome(ours.warnings, value) == _outcome(theirs.warnings, value), (spec, value)
    return len(values)


@st.composite
def schema_and_values(draw: Callable[..., Any]) -> tuple[Spec, list[Any]]:
    spec = draw(SCHEMAS)
    values = draw(st.lists(shaped(spec), min_size=3, max_size=3)) + [draw(RANDOM_VALUES)]
    return spec, values


@pytest.mark.timeout(600)
def test_same_errors_warnings_and_introspection_as_conformity() -> None:
    cases = [0]

    @settings(max_examples=CASES_PER_TEST // 4, deadline=None, database=None)
    @given(schema_and_values())
    def run(drawn: tuple[Spec, list[Any]]) -> None:
        cases[0] += compare(*drawn)

    run()
    print(f'\ndifferential cases (schema, value) compared with Conformity: {cases[0]}')
    assert cases[0] >= CASES_PER_TEST


@pytest.mark.timeout(600)
def test_same_results_for_scalar_fields_as_conformity() -> None:
    cases = [0]

    @settings(max_examples=CASES_PER_TEST // 4, deadline=None, database=None)
    @given(LEAVES, st.lists(SCALARS, min_size=4, max_size=4))
    def run(spec: Spec, values: list[Any]) -> None:
        cases[0] += compare(spec, values)

    run()
    print(f'\ndifferential cases (scalar field, value) compared with Conformity: {cases[0]}')
    assert cases[0] >= CASES_PER_TEST
