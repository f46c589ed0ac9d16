"""The matrix past one machine: one submitit job per cell (``--executor slurm|subprocess``).

``slurm`` submits each cell (one task x model x seed, or one tuning trial) as its own SLURM job;
``subprocess`` runs the same jobs as parallel processes on this machine through submitit's local
executor: the cluster path, checked without a cluster. Every job runs the same
`workflows.matrix.run_cell` as the sequential loop and writes its record into the shared results
folder (records are written atomically, tables rebuilt under a lock: `cgbench.records`,
`summaries.leaderboard.rebuild_lock`); the parent waits, prints progress, and the caller rebuilds
the tables once. A failed job is yielded as a `Failed` with its log path, and the others land.

Job settings are submitit's ``AutoExecutor`` parameters: ``timeout_min``, ``gpus_per_node``,
``cpus_per_task``, ``mem_gb``, ``nodes``, ``tasks_per_node`` and ``slurm_*`` ones such as
``slurm_partition``. They come from a ``cluster:`` block of the task YAML or a profile (say,
``configs/full.yaml``), then from ``--cluster KEY=VALUE`` flags; they never enter a run's config.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cgbench.config import ConfigError, parse_override
from cgbench.workflows import workers
from cgbench.workflows.workers import Failed  # one failure contract for the pool and the jobs

EXECUTORS = ("local", "subprocess", "slurm")  # local: the in-process or worker-pool loop
POLL_SECONDS = 2.0


def settings(block: dict | None, flags: list[str]) -> dict:
    """Job parameters: the config's ``cluster`` block, then ``--cluster KEY=VALUE`` flags."""
    out = dict(block or {})
    for text in flags:
        if "=" not in text:
            raise ConfigError(f"--cluster {text!r} must look like KEY=VALUE, e.g. timeout_min=60")
        key, value = text.split("=", 1)
        out[key] = parse_override(f"v={value}")["v"]
    return out


def _executor(kind: str, folder: Path, params: dict):
    try:
        import submitit
    except ImportError as err:
        raise ConfigError(
            f"--executor {kind} needs submitit: pip install -c constraints.txt '.[slurm]'"
        ) from err
    executor = submitit.AutoExecutor(
        folder=folder / "%j", cluster=kind.replace("subprocess", "local")
    )
    try:
        executor.update_parameters(**params)
    except (NameError, AssertionError) as err:  # submitit's own check of the parameters
        raise ConfigError(f"cluster settings {params}: {err}") from err
    return executor


def _job(fn: Callable, args: tuple, kwargs: dict, setup: tuple):
    workers.setup(*setup)  # threads, plugins: as a worker process of the local pool
    return fn(*args, **kwargs)


def _last_error(err: Exception) -> str:
    """The raising line of a job's traceback (submitit frames it with dashes), else the message."""
    parts = str(err).split("-" * 22)
    lines = [
        line for line in (parts[1] if len(parts) > 2 else str(err)).splitlines() if line.strip()
    ]
    return lines[-1].strip() if lines else type(err).__name__


def run_jobs(
    fn: Callable,
    cells: list[tuple[tuple, dict]],
    kind: str,
    params: list[dict],
    folder: Path,
    task_files=(),
    model_specs=(),
) -> Iterator[tuple[int, object]]:
    """Submit ``fn(*args, **kwargs)`` per cell as a job; yield ``(index, result | Failed)``.

    Args:
        fn: A module-level function (jobs pickle it by reference).
        cells: ``(args, kwargs)`` per cell.
        kind: ``subprocess`` or ``slurm``.
        params: Each cell's job settings (`settings`).
        folder: Where submitit keeps each job's pickles and logs (``<folder>/<job id>/``); on a
            cluster, a folder every node sees.
        task_files: ``--task-config`` files, registered in each job.
        model_specs: ``--model`` plugins, registered in each job.
    """
    if not cells:
        return
    jobs = {}
    for i, (args, kwargs) in enumerate(cells):
        threads = int(params[i].get("cpus_per_task", 1))
        setup = (threads, list(task_files), list(model_specs))
        jobs[i] = _executor(kind, Path(folder), params[i]).submit(_job, fn, args, kwargs, setup)
    print(f"{len(jobs)} job(s) submitted ({kind}); logs under {folder}/<job id>/", flush=True)
    pending, failed, shown = dict(jobs), 0, ""
    while pending:
        for i, job in list(pending.items()):
            if not job.done():
                continue
            del pending[i]
            try:
                yield i, job.result()
            except Exception as err:  # the job's traceback is in its log
                failed += 1
                yield i, Failed(_last_error(err), job.paths.stderr, job.paths.stdout)
        line = (
            f"cells: {len(jobs) - len(pending) - failed} done, {failed} failed, "
            f"{len(pending)} queued or running"
        )
        if line != shown:
            print(line, flush=True)
            shown = line
        if pending:
            time.sleep(POLL_SECONDS)
