"""The matrix on every core: independent cells as parallel worker processes.

On CPU, ``--workers auto`` runs one single-thread worker per core (on 2-core hosts two such
processes beat one two-thread process: docs/running.md); with a GPU, one worker (the device
is the limit). Workers are spawned (not forked: a forked OpenMP pool can hang), re-register
``--model`` and ``--task-config`` plugins, and run the same `matrix.run_cell` as the
sequential loop, so a record does not depend on how it was scheduled beyond float summation
order.
"""

import contextlib
import os
import pickle
import signal
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import wait
from pathlib import Path

import torch


@dataclass
class Failed:
    """A cell whose process raised or died: the last line of its error and its log files.

    The local pool's cells log to this process's output (no files); submitit's jobs to theirs.
    """

    error: str
    stderr: Path | None = None
    stdout: Path | None = None


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


def _serve(conn, setup_args: tuple) -> None:
    """A worker process: set up once, then run ``(index, fn, args, kwargs)`` until None."""
    from cgbench.errors import ConfigError

    setup(*setup_args)
    while (job := conn.recv()) is not None:
        i, fn, args, kwargs = job
        try:
            reply = (i, "ok", fn(*args, **kwargs))
        except Exception as err:  # raised again in the parent, after the running cells
            if not isinstance(err, ConfigError):  # a user error is one line, not a traceback
                traceback.print_exc()
            try:
                pickle.dumps(err)
            except Exception:  # noqa: BLE001 - an exception that cannot travel: its text does
                err = RuntimeError(f"{type(err).__name__}: {err}")
            reply = (i, "raised", err)
        conn.send(reply)


def _death(exitcode: int | None) -> str:
    """``killed by SIGKILL`` or ``exit code 3``: how a worker process ended."""
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def run_cells(
    fn: Callable,
    cells: list[tuple[tuple, dict]],
    processes: int,
    threads: int,
    task_files=(),
    model_specs=(),
) -> Iterator[tuple[int, object]]:
    """Yield ``(index, fn(*args, **kwargs) | Failed)`` for every cell as it finishes.

    One process: in order, in this process. Several: spawned worker processes, each set up
    once and fed one cell at a time. A worker that dies mid-cell (killed, out of memory) gives
    that cell a `Failed` and is replaced; the other cells go on. A cell that raises stops the
    feeding: the cells already running finish and are yielded, then the exception is raised
    here; cells not started are left for a rerun.
    """
    if processes == 1:
        for i, (args, kwargs) in enumerate(cells):
            yield i, fn(*args, **kwargs)
        return
    setup_args = (threads, list(task_files), list(model_specs))
    spawn, queue = get_context("spawn"), deque(range(len(cells)))
    busy: dict = {}  # connection -> (process, index of the cell it runs)
    started, raised = [], []

    def feed(conn, proc) -> None:
        if queue and not raised:
            i = queue.popleft()
            conn.send((i, fn, *cells[i]))
            busy[conn] = (proc, i)
        else:
            with contextlib.suppress(OSError):
                conn.send(None)  # done: the worker exits

    def start() -> None:
        conn, child = spawn.Pipe()
        proc = spawn.Process(target=_serve, args=(child, setup_args), daemon=True)
        proc.start()
        child.close()
        started.append(proc)
        feed(conn, proc)

    try:
        for _ in range(min(processes, len(cells))):
            start()
        while busy:
            ready = wait([*busy, *(proc.sentinel for proc, _ in busy.values())])
            for conn, (proc, i) in list(busy.items()):
                if conn not in ready and proc.sentinel not in ready:
                    continue
                del busy[conn]
                try:
                    _, status, value = conn.recv()
                except (EOFError, OSError):  # died without a reply
                    proc.join()
                    conn.close()
                    print(
                        f"worker process {proc.pid} {_death(proc.exitcode)} mid-cell; the "
                        "other cells go on",
                        file=sys.stderr,
                        flush=True,
                    )
                    yield i, Failed(f"its worker process {_death(proc.exitcode)}")
                    if queue and not raised:
                        start()
                    continue
                if status == "raised":
                    raised.append(value)
                else:
                    yield i, value
                feed(conn, proc)
        if raised:
            raise raised[0]
    finally:
        for proc, _ in busy.values():  # the caller stopped early (an error, Ctrl-C)
            proc.kill()
        for proc in started:
            proc.join(timeout=30)
