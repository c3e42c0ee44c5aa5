"""Running independent jobs in a pool of fresh worker processes, surviving workers that die.

Workers come from the `forkserver` start method (never `fork`: the parent may hold threads, pipes and
child processes of its own), so each one imports the library cleanly and makes its own environments.
A worker that dies (killed, out of memory, a crashing native tool) breaks the whole
`ProcessPoolExecutor`; the pool is then rebuilt and the unfinished jobs are resubmitted, each at most
`retries` more times, so one bad episode cannot take the run down and no job runs to completion twice.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Hashable, Iterable, Iterator

START_METHOD = "forkserver"


class WorkerDied(RuntimeError):
    """The job's worker process died every time it was tried."""


def run_jobs(fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int, retries: int = 2,
             key: Callable[[Any], Hashable] = id) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Yield `(job, result, None)` or `(job, None, error)` as each job finishes, in completion order.

    `fn` must be importable by name (a module-level function) and its jobs picklable. With
    `workers == 0` the jobs run in this process, one after another (for debugging).
    """
    jobs = list(jobs)
    if workers <= 0:
        for job in jobs:
            try:
                yield job, fn(job), None
            except Exception as exc:  # noqa: BLE001 - reported to the caller with its job
                yield job, None, exc
        return
    context = multiprocessing.get_context(START_METHOD)
    attempts: dict[Hashable, int] = {key(job): 0 for job in jobs}
    queue = list(jobs)
    while queue:
        broken: list[Any] = []
        pool = ProcessPoolExecutor(max_workers=min(workers, len(queue)), mp_context=context)
        finished = False
        try:
            futures: dict[Future, Any] = {pool.submit(fn, job): job for job in queue}
            queue = []
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken.append(job)
                        continue
                    except Exception as exc:  # noqa: BLE001 - reported to the caller with its job
                        yield job, None, exc
                        continue
                    yield job, result, None
            finished = True
        finally:
            # On an early exit (the caller stopped, Ctrl-C) drop queued jobs instead of running them all.
            pool.shutdown(wait=finished, cancel_futures=not finished)
        for job in broken:
            attempts[key(job)] += 1
            if attempts[key(job)] > retries:
                yield job, None, WorkerDied(f"the worker process died on each of {attempts[key(job)]} tries")
            else:
                queue.append(job)
