"""Values that exercise every msgpack extension type, and a JSON-able description to compare them across processes."""

import datetime
import decimal
import hashlib
from typing import Any

from currint import Amount


def _utc() -> datetime.tzinfo:
    # Upstream encodes an aware datetime only when its tzinfo is pytz's UTC; ours also takes datetime.timezone.utc.
    try:
        import pytz  # type: ignore[import-untyped]
    except ImportError:
        return datetime.UTC
    utc: datetime.tzinfo = pytz.UTC
    return utc


def sample_values() -> dict[str, Any]:
    """One value of each extension type (and the plain types around them), in a dict."""
    return {
        'datetime_naive': datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
        'datetime_utc': datetime.datetime(2021, 12, 31, 23, 59, 58, 123456, tzinfo=_utc()),
        'datetime_pre_epoch': datetime.datetime(1969, 7, 20, 20, 17, 40, 500000),
        'date': datetime.date(2020, 1, 2),
        'time': datetime.time(3, 4, 5, 6),
        'decimal': decimal.Decimal('1.2345'),
        'decimal_negative': decimal.Decimal('-98765432109876543210.0001'),
        'amount': Amount.from_code_and_minor('USD', 12345),
        'amount_negative': Amount.from_code_and_minor('EUR', -500),
        'nested': {'list': [datetime.date(1999, 12, 31), decimal.Decimal('0.1')], 'text': 'h\u00e9llo', 'n': -7},
        'bytes': b'\x00\x01binary\xff',
    }


def large_payload(size: int) -> str:
    """A deterministic string of `size` characters that never repeats a 64-byte block, so a misordered chunk shows."""
    blocks = (hashlib.sha256(str(i).encode()).hexdigest() for i in range(size // 64 + 1))
    return ''.join(blocks)[:size]


def fingerprint(text: str) -> dict[str, Any]:
    """A short stand-in for a long string: its length and SHA-256."""
    return {'$type': 'long_str', 'length': len(text), 'sha256': hashlib.sha256(text.encode()).hexdigest()}


def describe(value: Any) -> Any:
    """A JSON-able form of `value` that keeps its exact type and content, so two processes can compare values."""
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [describe(v) for v in value]
    if isinstance(value, datetime.datetime):
        offset = value.utcoffset()
        return {
            '$type': 'datetime',
            'value': value.replace(tzinfo=None).isoformat(),
            'utc_offset_seconds': None if offset is None else offset.total_seconds(),
        }
    if isinstance(value, datetime.date):
        return {'$type': 'date', 'value': value.isoformat()}
    if isinstance(value, datetime.time):
        return {'$type': 'time', 'value': value.isoformat(), 'aware': value.tzinfo is not None}
    if isinstance(value, decimal.Decimal):
        return {'$type': 'decimal', 'value': str(value)}
    if isinstance(value, Amount):
        return {'$type': 'amount', 'currency': value.currency.code, 'minor': int(value.value)}
    if isinstance(value, bytes):
        return {'$type': 'bytes', 'value': value.hex()}
    if isinstance(value, str) and len(value) > 4096:
        return fingerprint(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return {'$type': type(value).__name__, 'repr': repr(value)}
