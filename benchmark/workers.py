"""The matrix on every core: independent cells as parallel worker processes.

Measured on this project's 2-core CPU machine (the training-speed issue): two single-thread
processes side by side beat one two-thread process by 1.05-1.24x when quiet, and a two-thread
step on a loaded machine was 6x slower than a one-thread one. So on CPU, ``--workers auto``
runs one single-thread worker per core; with a GPU, one worker (the device is the limit).
Workers are spawned (not forked: a forked OpenMP pool can hang), re-register ``--model`` and
``--task-config`` plugins, and run the same `cgbench.run.run_one` as the sequential loop, so a
record does not depend on how it was scheduled beyond float summation order.
"""

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import torch


def plan(workers: str | int, n_cells: int) -> tuple[int, int]:
    """``(processes, threads per process)`` for ``--workers`` (``auto`` or a count)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if workers == "auto":
        n = 1 if torch.cuda.is_available() else cores
    else:
        n = int(workers)
        if n < 1:
            raise ValueError(f"--workers {workers}: give a count >= 1 or 'auto'")
    n = max(1, min(n, n_cells))
    return n, max(1, (cores or 1) // n)


def setup(threads: int, task_files: list, model_specs: list) -> None:
    """Prepare a fresh process for cells: its thread count and the command line's plugins."""
    from cgbench import plugins

    torch.set_num_threads(threads)
    for path in task_files:
        plugins.add_task_file(path)
    for spec in model_specs:
        plugins.add_model(spec)


def _call(fn: Callable, args: tuple, kwargs: dict):
    return fn(*args, **kwargs)


def run_cells(
    fn: Callable, cells: list[tuple[tuple, dict]], processes: int, threads: int,
    task_files=(), model_specs=(),
) -> Iterator[tuple[int, object]]:  # fmt: skip
    """Yield ``(index, fn(*args, **kwargs))`` for every cell as it finishes.

    One process: in order, in this process. Several: a spawned pool; a cell's exception is
    raised here when its turn to be yielded comes, after the cells already finished.
    """
    if processes == 1:
        for i, (args, kwargs) in enumerate(cells):
            yield i, fn(*args, **kwargs)
        return
    setup_args = (threads, list(task_files), list(model_specs))
    spawn = get_context("spawn")
    with ProcessPoolExecutor(processes, spawn, initializer=setup, initargs=setup_args) as pool:
        futures = {pool.submit(_call, fn, *cell): i for i, cell in enumerate(cells)}
        for future in as_completed(futures):
            yield futures[future], future.result()
