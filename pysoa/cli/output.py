"""What the `pysoa` command prints: plain tables for people, JSON for programs."""

import json
from collections.abc import Sequence

import click

__all__ = ('echo_json', 'format_seconds', 'render_table', 'to_json')


def to_json(value: object) -> str:
    """`value` as indented JSON; what JSON cannot hold (currency amounts, dates) as its text."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def echo_json(value: object) -> None:
    """Print `value` as JSON on standard output."""
    click.echo(to_json(value))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns two spaces apart, under a header line."""
    cells = [[str(cell) for cell in row] for row in [list(headers), *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return '\n'.join(lines)


def format_seconds(seconds: float | None) -> str:
    """`4.2s`, `3m05s`, `2h10m`; `-` for None."""
    if seconds is None:
        return '-'
    if seconds < 60:
        return f'{seconds:.1f}s'
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f'{minutes}m{rest:02d}s'
    return f'{minutes // 60}h{minutes % 60:02d}m'
