"""Write docs/_inventories/: the parts of Python's and pytest's intersphinx inventories that pysoa's docs link to.

The docs build with `sphinx-build -W -n` (every cross-reference must resolve) on machines without internet, so
intersphinx cannot download https://docs.python.org/3/objects.inv; conf.py reads this file instead, and the
links it makes still point at docs.python.org. The entries are copied unchanged (name, role, priority, page,
anchor) from a real inventory of the Python documentation, keeping only the builtins and the modules named in
MODULES. Regenerate it when the docs start referencing another standard library module: add the module and run

    python docs/make_inventories.py [SOURCE]

SOURCE is a Python 3 objects.inv: by default the one Debian's `python3.11-doc` package installs
(`apt-get install python3.11-doc`), or one downloaded from https://docs.python.org/3/objects.inv. The format
(Sphinx inventory version 2: four header lines, then zlib-compressed `name domain:role priority uri display`
lines) is written here directly, and read back with Sphinx's own reader to check it.

pytest.inv is written from PYTEST_ENTRIES below, by hand: pytest's own inventory is not on this machine, and
annotations name pytest's classes by their private modules (`_pytest._code.code.ExceptionInfo`), where pytest's
documentation names them `pytest.ExceptionInfo`. Each entry gives the page pytest documents the class on.
"""

import re
import sys
import zlib
from pathlib import Path

DEFAULT_SOURCE = Path('/usr/share/doc/python3.11/html/objects.inv')
INVENTORIES = Path(__file__).resolve().parent / '_inventories'

# Modules whose documented names the API reference's annotations use (annotations name the module an object
# is defined in, so `collections.abc`, not `typing`, for `Mapping`).
MODULES = (
    'asyncio',
    'collections',
    'collections.abc',
    'concurrent.futures',
    'contextlib',
    'datetime',
    'decimal',
    'enum',
    'logging',
    'logging.config',
    'logging.handlers',
    'pathlib',
    'signal',
    'socket',
    'subprocess',
    'threading',
    'types',
    'typing',
    'unittest',
    'unittest.mock',
    'uuid',
)
ROLES = ('py:', 'std:doc', 'std:label')

# Classes that the Python docs list as data (`types.FrameType` is documented with `.. data::`), so an annotation
# naming them, a class reference, would not find them; listed again as classes, at the same page and anchor.
CLASSES_DOCUMENTED_AS_DATA = ('types.FrameType', 'types.TracebackType', 'types.ModuleType')

# (name as annotations give it, role, page and anchor under https://docs.pytest.org/en/stable/, display name)
PYTEST_ENTRIES = (
    (
        '_pytest._code.code.ExceptionInfo',
        'py:class',
        'reference/reference.html#pytest.ExceptionInfo',
        'pytest.ExceptionInfo',
    ),
)

LINE = re.compile(r'(?P<name>.+?)\s+(?P<role>\S+)\s+(?P<priority>-?\d+)\s+?(?P<uri>\S*)\s+(?P<display>.*)')


def wanted(name: str, role: str) -> bool:
    """Whether an entry of the source inventory belongs in ours."""
    if role == 'py:module':
        return name in MODULES
    if role.startswith('py:'):
        module = name.rpartition('.')[0]
        return '.' not in name or any(module == kept or module.startswith(kept + '.') for kept in MODULES)
    return False  # pages and labels of the Python docs are not referenced


def entries(source: bytes) -> list[str]:
    """The kept lines of `source` (an inventory version 2), plus the classes documented as data."""
    *_, header, compressed = source.split(b'\n', 4)
    if not header.startswith(b'# The remainder of this file is compressed using zlib'):
        raise SystemExit(f'not a Sphinx inventory version 2: {header!r}')
    kept: list[str] = []
    for line in zlib.decompress(compressed).decode().splitlines():
        match = LINE.fullmatch(line.rstrip())
        if match and wanted(match['name'], match['role']):
            kept.append(line.rstrip())
            if match['role'] == 'py:data' and match['name'] in CLASSES_DOCUMENTED_AS_DATA:
                kept.append(line.rstrip().replace(' py:data ', ' py:class ', 1))
    return sorted(kept)


def write(target: Path, project: str, version: str, lines: list[str]) -> None:
    """Write `target` in Sphinx's inventory format version 2, and check that Sphinx reads every line back."""
    from sphinx.util.inventory import InventoryFile

    target.parent.mkdir(exist_ok=True)
    header = (
        '# Sphinx inventory version 2\n'
        f'# Project: {project}\n'
        f'# Version: {version}\n'
        '# The remainder of this file is compressed using zlib.\n'
    )
    target.write_bytes(header.encode() + zlib.compress(''.join(line + '\n' for line in lines).encode(), 9))
    inventory = InventoryFile.loads(target.read_bytes(), uri='https://example.invalid/')
    loaded = sum(len(names) for names in inventory.data.values())
    if loaded != len(lines):
        raise SystemExit(f'{target}: Sphinx read {loaded} entries back, {len(lines)} were written')
    print(f'{target}: {len(lines)} entries of {project} {version}')


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    data = source.read_bytes()
    version = data.split(b'\n', 3)[2].decode().removeprefix('# Version: ').strip()
    write(INVENTORIES / 'python.inv', 'Python', version, entries(data))
    pytest_lines = [' '.join(entry[:2]) + f' 1 {entry[2]} {entry[3]}' for entry in PYTEST_ENTRIES]
    write(INVENTORIES / 'pytest.inv', 'pytest', 'stable', pytest_lines)


if __name__ == '__main__':
    main()
