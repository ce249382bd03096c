"""`pysoa.server.internal.job_greenlets`: blocking-style code run in greenlets on an event loop, awaiting through
its task, with a context of its own."""

import asyncio
import contextvars

import pytest

from pysoa.server.internal.job_greenlets import LoopTaskFuture, in_job_greenlet, run_in_greenlet, wait_on_loop

_label: contextvars.ContextVar[str] = contextvars.ContextVar('label', default='none')


def test_blocking_style_code_awaits_through_its_task() -> None:
    async def double(value: int) -> int:
        await asyncio.sleep(0)
        return value * 2

    def job(value: int) -> tuple[int, bool]:
        return wait_on_loop(double(value)) + wait_on_loop(double(1)), in_job_greenlet()

    assert asyncio.run(run_in_greenlet(job, 20)) == (42, True)
    assert not in_job_greenlet()


def test_an_error_of_what_it_awaits_is_raised_where_it_waited() -> None:
    async def fail() -> None:
        raise ValueError('from the loop')

    def job() -> str:
        try:
            wait_on_loop(fail())
        except ValueError as error:
            return f'caught {error}'
        return 'not raised'

    assert asyncio.run(run_in_greenlet(job)) == 'caught from the loop'


def test_jobs_overlap_and_keep_their_own_context() -> None:
    async def main() -> list[tuple[str, str]]:
        gate = asyncio.Event()
        arrived: list[str] = []

        async def arrive(name: str) -> str:
            arrived.append(name)
            if len(arrived) == 2:
                gate.set()
            await asyncio.wait_for(gate.wait(), 5)  # both jobs must be waiting at once
            return _label.get()  # a task made from the job's context sees the job's value

        def job(name: str) -> tuple[str, str]:
            _label.set(name)
            loop = asyncio.get_running_loop()
            future = LoopTaskFuture(loop.create_task(arrive(name), context=contextvars.copy_context()))
            return future.result(), _label.get()

        _label.set('task')
        results = await asyncio.gather(run_in_greenlet(job, 'a'), run_in_greenlet(job, 'b'))
        assert _label.get() == 'task'  # nothing the jobs set leaked out
        return results

    assert asyncio.run(main()) == [('a', 'a'), ('b', 'b')]


def test_waiting_outside_a_job_greenlet_is_refused() -> None:
    async def nothing() -> None:
        pass

    coroutine = nothing()
    with pytest.raises(RuntimeError, match='only for the request path of a job'):
        wait_on_loop(coroutine)
    coroutine.close()
