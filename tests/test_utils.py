"""`pysoa.utils`: hashable dicts (client caches key on settings) and the interpreter's own arguments."""

import subprocess
import sys
from pathlib import Path

from pysoa.utils import dict_to_hashable, get_python_interpreter_arguments


def test_equal_dicts_give_equal_hashable_values_whatever_their_order() -> None:
    first = {'hosts': ['a', 'b'], 'connection_kwargs': {'password': 'x', 'timeout': 20}, 'retries': 6}
    same = {'retries': 6, 'connection_kwargs': {'timeout': 20, 'password': 'x'}, 'hosts': ['a', 'b']}
    other = {'retries': 6, 'connection_kwargs': {'timeout': 20, 'password': 'x'}, 'hosts': ['a', 'c']}

    assert dict_to_hashable(first) == dict_to_hashable(same)
    assert dict_to_hashable(first) != dict_to_hashable(other)
    cache = {('type', dict_to_hashable(first)): 'hello'}
    assert cache[('type', dict_to_hashable(same))] == 'hello'
    assert ('type', dict_to_hashable(other)) not in cache


PRINT_ARGUMENTS = 'import sys; from pysoa.utils import get_python_interpreter_arguments as g; print(g())'


def _arguments(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout.strip()


def test_interpreter_arguments_stop_where_the_program_arguments_start(tmp_path: Path) -> None:
    assert 'python' in get_python_interpreter_arguments()[0]

    printed = _arguments(sys.executable, '-W', 'ignore', '-c', PRINT_ARGUMENTS, 'program', 'args')
    assert printed == repr([sys.executable, '-W', 'ignore', '-c', PRINT_ARGUMENTS])

    script = tmp_path / 'script.py'
    script.write_text(PRINT_ARGUMENTS)
    assert _arguments(sys.executable, str(script), '-m', 'x') == repr([sys.executable, str(script)])

    (tmp_path / 'probe_main.py').write_text(PRINT_ARGUMENTS)
    printed = subprocess.run(
        [sys.executable, '-m', 'probe_main', '-s', 'settings'],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        cwd=str(tmp_path),
    ).stdout.strip()
    assert printed == repr([sys.executable, '-m', 'probe_main'])
