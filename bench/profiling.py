"""Per-call cProfile reports, with the CPU time grouped by package (and by module inside pysoa)."""

import pstats
import re
import sysconfig
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_STDLIB = sysconfig.get_paths()['stdlib'].rstrip('/') + '/'
_BUILTIN_OF = re.compile(r"of '([\w.]+)' objects")
_BUILTIN_METHOD = re.compile(r'<built-in method ([\w.]+)>')
# Socket system calls: the profiler's wall clock charges them the time blocked on Redis and, on a busy machine,
# the time the process is descheduled when its write wakes the peer; that is not Python work, so it is set apart.
_WAITS = re.compile(r"<method '(recv|recv_into|sendall|send)' of '_socket.socket' objects>|<built-in method select\.")
WAIT_GROUP = 'socket I/O and waits'


def group_of(filename: str, function: str) -> str:
    """The package a profiled function belongs to: `pysoa.<module>` for ours and upstream's, else the top package."""
    if filename == '~':
        if _WAITS.search(function):
            return WAIT_GROUP
        match = _BUILTIN_OF.search(function) or _BUILTIN_METHOD.search(function)
        owner = match.group(1).split('.')[0] if match else 'builtins'
        return f'C {owner}'
    if '/site-packages/' in filename:
        parts = filename.split('/site-packages/', 1)[1].split('/')
        if parts[0] == 'pysoa':
            return '.'.join(parts).removesuffix('.py').removesuffix('.__init__')
        return parts[0].removesuffix('.py')
    our_package = str(REPO_ROOT / 'pysoa') + '/'
    if filename.startswith(our_package):
        return 'pysoa.' + filename[len(our_package) :].removesuffix('.py').replace('/', '.').removesuffix('.__init__')
    if '/benchpeer/' in filename:
        return 'bench'
    if filename.startswith(_STDLIB):
        return 'stdlib ' + filename[len(_STDLIB) :].split('/')[0].removesuffix('.py')
    return filename


def profile_report(path: str, calls: int, role: str, top: int = 25) -> str:
    """The time per call of one process's profile, by group and by function, waits on Redis set apart (markdown)."""
    out: list[str] = []
    emit = out.append
    if not Path(path).exists():
        emit(f'\n### {role}: no profile written ({path}); the process did not exit cleanly')
        return '\n'.join(out)
    stats = pstats.Stats(path)
    entries = stats.stats  # type: ignore[attr-defined]
    by_group: dict[str, float] = defaultdict(float)
    total = 0.0
    rows = []
    for (filename, line, function), (_, ncalls, tottime, cumtime, _) in entries.items():
        group = group_of(filename, function)
        by_group[group] += tottime
        total += tottime
        rows.append((tottime, ncalls, cumtime, group, f'{Path(filename).name}:{line}({function})'))
    per_call = 1_000_000 / max(calls, 1)
    waited = by_group.pop(WAIT_GROUP, 0.0)
    total -= waited
    emit(
        f'\n### {role}: {total * per_call:.1f} µs per call under the profiler ({calls} calls), by package; '
        f'besides {waited * per_call:.1f} µs per call in socket calls (I/O, blocking and descheduling)\n'
    )
    emit('| package / module | µs per call | share |\n|---|---|---|')
    for group, seconds in sorted(by_group.items(), key=lambda item: -item[1]):
        if seconds * per_call < 0.5:
            continue
        emit(f'| {group} | {seconds * per_call:.1f} | {seconds / total:.0%} |')
    emit(f'\n{role}: top {top} functions by own time (µs per call; calls per call; cumulative µs per call)\n')
    emit('| function | package | own µs | calls | cum µs |\n|---|---|---|---|---|')
    for tottime, ncalls, cumtime, group, name in sorted((r for r in rows if r[3] != WAIT_GROUP), reverse=True)[:top]:
        own, count, cumulative = tottime * per_call, ncalls / max(calls, 1), cumtime * per_call
        emit(f'| {name} | {group} | {own:.1f} | {count:.1f} | {cumulative:.1f} |')
    return '\n'.join(out)
