"""The package front door: `pysoa` and `pysoa.server` export their main names lazily."""

import subprocess
import sys

import pysoa
import pysoa.server


def test_all_is_sorted_and_complete() -> None:
    assert list(pysoa.__all__) == sorted(pysoa.__all__)
    for name in pysoa.__all__:
        assert getattr(pysoa, name) is not None
    assert set(pysoa.__all__) <= set(dir(pysoa))


def test_front_door_names_are_the_real_classes() -> None:
    from pysoa.client.client import Client
    from pysoa.server.action.base import Action
    from pysoa.server.server import Server

    assert (pysoa.Client, pysoa.Server, pysoa.Action) == (Client, Server, Action)
    assert pysoa.server.Server is Server
    assert pysoa.__version_info__ >= (2, 0, 0)
    assert pysoa.__version__ == '.'.join(map(str, pysoa.__version_info__))


def test_importing_pysoa_does_not_import_the_server_or_client() -> None:
    code = 'import sys, pysoa; print("pysoa.server.server" in sys.modules, "pysoa.client.client" in sys.modules)'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=60)

    assert result.stdout.split() == ['False', 'False']


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        pysoa.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as e:
        assert 'NoSuchThing' in str(e)
    else:
        raise AssertionError('expected AttributeError')
