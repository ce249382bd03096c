"""Money fields built on currint: `currint.Amount` objects, `'USD,1234'` strings, and amount dicts."""

import re
import typing
import warnings
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import ClassVar

import attr
import currint

from pysoa.schema.constants import ERROR_CODE_INVALID
from pysoa.schema.fields.arguments import bad_option, valid_int, valid_text
from pysoa.schema.fields.base import Base, Introspection, Plan, exact_plan
from pysoa.schema.fields.basic import Constant, Integer, UnicodeString
from pysoa.schema.fields.structures import Dictionary
from pysoa.schema.fields.utils import strip_none
from pysoa.schema.types import Error

__all__ = (
    'Amount',
    'AmountDictionary',
    'AmountRequestDictionary',
    'AmountResponseDictionary',
    'AmountString',
    'CurrencyCodeField',
    'DEFAULT_CURRENCY_CODES',
)

DEFAULT_CURRENCY_CODES: frozenset[str] = frozenset(currint.currencies.keys())


def _amount_errors(
    currency_code: str,
    value: int,
    valid_currencies: AbstractSet[str],
    gt: int | None,
    gte: int | None,
    lt: int | None,
    lte: int | None,
) -> list[Error]:
    errors = []
    if currency_code not in valid_currencies:
        errors.append(Error('Not a valid currency code', code=ERROR_CODE_INVALID))
    if gt is not None and value <= gt:
        errors.append(Error(f'Value not > {gt}', code=ERROR_CODE_INVALID))
    if lt is not None and value >= lt:
        errors.append(Error(f'Value not < {lt}', code=ERROR_CODE_INVALID))
    if gte is not None and value < gte:
        errors.append(Error(f'Value not >= {gte}', code=ERROR_CODE_INVALID))
    if lte is not None and value > lte:
        errors.append(Error(f'Value not <= {lte}', code=ERROR_CODE_INVALID))
    return errors


def _valid_currencies(instance: object, attribute: 'attr.Attribute[typing.Any]', value: typing.Any) -> None:
    if not isinstance(value, set | frozenset) or not all(isinstance(code, str) for code in value):
        bad_option(instance, "'valid_currencies'", 'a set or frozenset of currency codes (str)', value)


def _currencies_introspection(valid_currencies: AbstractSet[str]) -> object:
    return '(all currencies)' if valid_currencies is DEFAULT_CURRENCY_CODES else sorted(valid_currencies)


@attr.s
class _AmountBase(Base):
    valid_currencies: AbstractSet[str] = attr.ib(default=frozenset(), validator=_valid_currencies)
    gt: int | None = attr.ib(default=None, validator=valid_int())
    gte: int | None = attr.ib(default=None, validator=valid_int())
    lt: int | None = attr.ib(default=None, validator=valid_int())
    lte: int | None = attr.ib(default=None, validator=valid_int())
    description: str | None = attr.ib(default=None, validator=valid_text())

    def __attrs_post_init__(self) -> None:
        if not self.valid_currencies:
            self.valid_currencies = DEFAULT_CURRENCY_CODES

    def _amount_errors(self, currency_code: str, value: int) -> list[Error]:
        return _amount_errors(currency_code, value, self.valid_currencies, self.gt, self.gte, self.lt, self.lte)

    def _compile(self) -> Plan:
        return exact_plan(self)

    def introspect(self) -> Introspection:
        return strip_none(
            {
                'type': self.introspect_type,
                'description': self.description,
                'valid_currencies': _currencies_introspection(self.valid_currencies),
                'gt': self.gt,
                'gte': self.gte,
                'lt': self.lt,
                'lte': self.lte,
            }
        )


@attr.s
class Amount(_AmountBase):
    """A `currint.Amount` in one of `valid_currencies` (default: all), optionally bounded in minor units."""

    introspect_type: ClassVar[str] = 'currint.Amount'

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, currint.Amount):
            return [Error('Not a currint.Amount instance', code=ERROR_CODE_INVALID)]
        return self._amount_errors(value.currency.code, value.value)


@attr.s
class AmountString(_AmountBase):
    """A str `CUR,1234` or `CUR:1234`: a currency code and an integer amount in minor units."""

    introspect_type: ClassVar[str] = 'currency_amount_string'
    _format: ClassVar[re.Pattern[str]] = re.compile(r'[,:]')

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, str):
            return [Error('Not a unicode string currency amount')]
        parts = self._format.split(value)
        if len(parts) != 2:
            return [Error('Currency string does not match format CUR,1234 or CUR:1234')]
        currency, amount = parts
        try:
            minor_units = int(amount)
        except ValueError:
            return [Error(f'Currency amount {amount} cannot be converted to an integer')]
        return self._amount_errors(currency, minor_units)


class AmountRequestDictionary(Dictionary):
    """A dict of exactly `currency` (a valid code) and `value` (an integer in minor units, optionally bounded)."""

    def __init__(
        self,
        valid_currencies: Iterable[str] | None = None,
        gt: int | None = None,
        gte: int | None = None,
        lt: int | None = None,
        lte: int | None = None,
        description: str | None = None,
        *args: object,
        **kwargs: object,
    ) -> None:
        name = type(self).__name__
        if valid_currencies is not None and (
            not hasattr(valid_currencies, '__iter__') or not all(isinstance(c, str) for c in valid_currencies)
        ):
            bad_option(name, "'valid_currencies'", 'an iterable of currency codes (str)', valid_currencies)
        for option, bound in (('gt', gt), ('gte', gte), ('lt', lt), ('lte', lte)):
            if bound is not None and not isinstance(bound, int):
                bad_option(name, repr(option), 'an int or None', bound)
        if args or kwargs:
            warnings.warn(f'{name}: extra arguments are deprecated and ignored', DeprecationWarning, stacklevel=2)
        super().__init__(
            {
                'currency': Constant(*(valid_currencies or DEFAULT_CURRENCY_CODES)),
                'value': Integer(gt=gt, gte=gte, lt=lt, lte=lte),
            },
            optional_keys=(),
            allow_extra_keys=False,
            description=description,
        )


class AmountDictionary(AmountRequestDictionary):
    """Deprecated name of `AmountRequestDictionary`."""

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:  # Any: AmountRequestDictionary's arguments
        warnings.warn('AmountDictionary is deprecated: use AmountRequestDictionary', DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


class AmountResponseDictionary(Dictionary):
    """A dict of `currency`, `value`, `major_value` and `display` (the last two can be made optional)."""

    def __init__(
        self, description: str | None = None, major_value_required: bool = True, display_required: bool = True
    ) -> None:
        optional_keys: tuple[str, ...] = ()
        if not major_value_required:
            optional_keys += ('major_value',)
        if not display_required:
            optional_keys += ('display',)
        super().__init__(
            {
                'currency': Constant(*DEFAULT_CURRENCY_CODES),
                'value': Integer(),
                'major_value': UnicodeString(),
                'display': UnicodeString(),
            },
            optional_keys=optional_keys,
            allow_extra_keys=False,
            description=description,
        )


def _every_code(_code: str) -> bool:
    return True


class CurrencyCodeField(Constant):
    """A str that is a currency code known to currint, and passes `code_filter` if one is given."""

    introspect_type: ClassVar[str] = 'currency_code_field'

    def __init__(self, code_filter: Callable[[str], bool] = _every_code, **kwargs: object) -> None:
        super().__init__(*(code for code in DEFAULT_CURRENCY_CODES if code_filter(code)), **kwargs)  # type: ignore[arg-type]  # only `description`, checked there

    def _errors(self, value: object) -> list[Error]:
        if not isinstance(value, str):
            return [Error('Not a unicode string')]
        return super()._errors(value)

    def _compile(self) -> Plan:
        return exact_plan(self, total=True)
