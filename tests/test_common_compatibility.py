"""pysoa.common.compatibility.ContextVar: the 1.x import path of a context variable, over the stdlib one."""

import asyncio
import contextvars

import pytest

from pysoa.common.compatibility import ContextVar, Token, _ContextVarToken, _ThreadLocalToken


def test_get_set_and_defaults() -> None:
    bare: ContextVar[str] = ContextVar('bare')
    with pytest.raises(LookupError):
        bare.get()
    assert bare.get('fallback') == 'fallback'
    assert bare.get(default='kw') == 'kw'
    bare.set('value')
    assert bare.get() == 'value'

    with_default = ContextVar('with_default', default='d')
    assert with_default.get() == 'd'
    assert with_default.get('other') == 'other'


def test_repr_names_the_variable_and_its_default() -> None:
    assert repr(ContextVar('x')).startswith("<ContextVar name='x' at ")
    assert repr(ContextVar('y', 'd')).startswith("<ContextVar name='y' default='d' at ")


def test_wraps_a_stdlib_context_variable() -> None:
    var: ContextVar[int] = ContextVar('wrapped')
    var.set(3)
    assert isinstance(var._cv_variable, contextvars.ContextVar)
    assert var._cv_variable.get() == 3


def test_reset_restores_and_refuses_foreign_or_wrong_tokens() -> None:
    first = ContextVar('first', default='a')
    second = ContextVar('second', default='b')
    token = first.set('changed')
    assert isinstance(token, Token) and token.context_var is first

    with pytest.raises(ValueError):
        second.reset(token)
    with pytest.raises(TypeError):
        first.reset(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        first.reset(_ThreadLocalToken(first, None))
    with pytest.raises(TypeError):
        first.reset(_ContextVarToken(first, None))  # type: ignore[arg-type]

    first.reset(token)
    assert first.get() == 'a'


def test_tasks_see_a_copy_of_the_callers_context() -> None:
    var: ContextVar[str] = ContextVar('task_copy')

    async def child() -> str:
        seen = var.get()
        var.set('child')
        return seen

    async def parent() -> tuple[str, str]:
        var.set('parent')
        seen = await asyncio.create_task(child())
        return seen, var.get()

    assert asyncio.run(parent()) == ('parent', 'parent')
