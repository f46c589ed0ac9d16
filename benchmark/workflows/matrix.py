"""The task x model x seed matrix as a library call: `plan` the cells, `run_matrix` them.

``cgbench run`` is argument parsing around these two; ``cgbench reproduce`` calls them on a
scratch folder. A cell is skipped when its record is current, rescored when only the scoring
changed and its weights are kept (`cells.rescore`), trained otherwise (`cells.train`); on
``--executor local`` one process or a pool of worker processes (`cgbench.workflows.workers`), on
``subprocess``/``slurm`` one submitit job each (`workflows.cluster`). Both executors honour one
failure contract: a cell whose process dies or whose job fails comes back as a `Failed`, the
other cells land, and a rerun of the same matrix does only what is missing.
"""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from cgbench.cells.rescore import rescorable, rescore_run
from cgbench.cells.train import run_one
from cgbench.config import cache_dir, checked_config, config_sha, data_dir, run_config
from cgbench.errors import ConfigError, build, lookup
from cgbench.models import MODELS
from cgbench.provenance import is_current
from cgbench.records import read_run, run_path
from cgbench.tasks import TASKS
from cgbench.workflows import cluster, workers
from cgbench.workflows.workers import Failed


@dataclasses.dataclass(frozen=True)
class Cell:
    """One (task, model, seed) at a profile, with its resolved config (`config.run_config`)."""

    task: str
    model: str
    seed: int
    profile: str
    overrides: tuple[str, ...] = ()
    cfg: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return f"{self.task} × {self.model} × seed {self.seed}"

    def run_dir(self, results_dir: Path) -> Path:
        return run_path(results_dir, self.task, self.model, self.profile, self.seed)


def pairs(tasks: list[str], models: list[str]) -> list[tuple[str, str]]:
    """Every (task, model) pair whose condition kinds match, in the given order."""
    return [
        (t, m)
        for t in tasks
        for m in models
        if lookup(TASKS, t, "task").cond_kind in lookup(MODELS, m, "model").cond_kinds
    ]


def plan(
    tasks: list[str], models: list[str], profiles: dict, seeds: dict, overrides=()
) -> list[Cell]:
    """The cells of a matrix, each config resolved (and refused) before any work starts.

    Args:
        tasks: Task keys.
        models: Model keys; pairs whose condition kinds do not match are left out.
        profiles: The profile of each task.
        seeds: The seeds of each task.
        overrides: ``--set`` strings, applied to every cell.
    """
    overrides = tuple(overrides)
    return [
        Cell(t, m, s, profiles[t], overrides, run_config(t, m, s, profiles[t], overrides))
        for t, m in pairs([t for t in tasks if t in profiles], models)
        for s in seeds[t]
    ]


def check_data(cells: list[Cell]) -> None:
    """Check (or download) every task's files once, before any cell trains."""
    for task, data in {c.task: c.cfg["data"] for c in cells}.items():
        dm = build(
            TASKS[task].datamodule,
            f"{task}.yaml data",
            data_dir=data_dir(),
            cache_dir=cache_dir(),
            **data,
        )
        build(dm.prepare_data, f"{task}.yaml data")  # downloads or names the missing files


def run_cell(cell: Cell, results_dir: Path, logger: str = "none", force: bool = False) -> dict:
    """A cell's record: a rescore of its kept weights, or `run_one` (which skips a current one).

    Module-level (pickled by reference) so a worker process or a job can run it. `run_matrix`
    has already left out current cells; `run_one` checks again, for a record that landed since.
    """
    run_dir = cell.run_dir(results_dir)
    record = read_run(run_dir)
    if record and not force and rescorable(run_dir, record, cell.cfg):  # only scoring changed
        print(f"  {run_dir}: {rescore_run(run_dir, results_dir)} (kept weights)", flush=True)
        return read_run(run_dir) | {"skipped": True}
    return run_one(
        cell.task,
        cell.model,
        cell.seed,
        cell.profile,
        cell.overrides,
        results_dir,
        logger,
        force,
        cfg=cell.cfg,
    )


@dataclasses.dataclass
class Executor:
    """Where cells run: ``local`` (this process or ``workers`` processes) or submitit jobs.

    Args:
        kind: ``local``, ``subprocess`` or ``slurm`` (`cluster.EXECUTORS`).
        workers: ``--workers`` for ``local`` (a count or ``auto``).
        cluster_flags: ``--cluster KEY=VALUE`` settings over each task's ``cluster`` block.
        job_dir: Where submitit keeps each job's pickles and logs.
        task_files: ``--task-config`` files, registered again in every process.
        model_specs: ``--model`` plugins, registered again in every process.
    """

    kind: str = "local"
    workers: str = "1"
    cluster_flags: tuple[str, ...] = ()
    job_dir: Path | None = None
    task_files: tuple = ()
    model_specs: tuple = ()

    def map(self, fn, cells: list[Cell], calls: list[tuple[tuple, dict]]) -> Iterator:
        """``(index, fn(*args, **kwargs) | Failed)`` per call as it finishes."""
        if self.kind == "local":
            processes, threads = workers.plan(self.workers, len(calls))
            if processes > 1:
                print(
                    f"{len(calls)} run(s) on {processes} workers x {threads} thread(s)", flush=True
                )
            return workers.run_cells(
                fn, calls, processes, threads, self.task_files, self.model_specs
            )
        if self.kind not in cluster.EXECUTORS:
            raise ConfigError(f"--executor {self.kind}: choose {', '.join(cluster.EXECUTORS)}")
        blocks = {
            (c.task, c.profile): checked_config(c.task, c.profile, c.overrides).get("cluster")
            for c in cells
        }
        params = [
            cluster.settings(blocks[c.task, c.profile], list(self.cluster_flags)) for c in cells
        ]
        return cluster.run_jobs(
            fn,
            calls,
            self.kind,
            params,
            self.job_dir or cache_dir() / "jobs",
            self.task_files,
            self.model_specs,
        )


def run_matrix(
    cells: list[Cell],
    results_dir: Path,
    executor: Executor | None = None,
    logger: str = "none",
    force: bool = False,
) -> Iterator[tuple[Cell, dict | Failed]]:
    """``(cell, record | Failed)`` per cell as it finishes.

    Cells whose record is current are yielded first and never dispatched, so a matrix that is
    already recorded rebuilds in seconds.
    """
    executor = executor or Executor()
    todo = []
    for cell in cells:
        record = read_run(cell.run_dir(results_dir))
        if is_current(record, config_sha(cell.cfg), force):
            yield cell, record | {"skipped": True}
        else:
            todo.append(cell)
    if not todo:
        return
    calls = [((cell, results_dir, logger, force), {}) for cell in todo]
    for i, result in executor.map(run_cell, todo, calls):
        yield todo[i], result
