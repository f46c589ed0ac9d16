"""Equal tuning budget: the same number of seeded random-search trials for every method of a task.

A task's YAML holds a ``tuning`` block::

    tuning:
      trials: 6                       # per model, the same for every model
      profile: quick                  # the trials' profile: it must set a budget (train_tflop)
      spaces:                         # per model: a key under models.<model> -> its choices
        cvae: {sigma_x: [0.1, 0.3, 1.0], y_injection: [input, film]}

Trial 0 is the YAML's config at the time of the search; the others are distinct random points
of the model's grid other than that one (seeded by task, model and search seed). Each trial is
an ordinary `run_one` with ``--set`` overrides, trained until the profile's FLOP budget is spent
(`callbacks.FlopBudget`) and scored on the **validation** split (``eval.split=val``) on the
task's ranking metric alone (no CAS), so test rows never steer a choice. Its record goes to
``results/tuning/<task>/<model>/trial<NN>.json`` (the overrides, the score, seconds, FLOPs);
``results/tuning/<task>.csv`` gathers every trial, so the spread across trials is in the open.

Picking the best and writing it into the task YAML is a reviewed edit with a comment citing the
trial, not done here. Each record keeps the ``model_args`` it trained with, so the search stays
readable after the YAML adopts a winner; a rerun skips every trial recorded at the same config
(``config_sha``), so a search run again after the YAML changed is a new search.
"""

import itertools
import json
import random
import tempfile
import time
from pathlib import Path

import pandas as pd

from cgbench.cells.train import run_one
from cgbench.config import (
    ConfigError,
    cache_dir,
    checked_config,
    config_sha,
    load_config,
    run_config,
)
from cgbench.metrics import METRICS
from cgbench.records import atomic_write
from cgbench.tasks import TASKS

TRIAL_FIELDS = ("status", "train_seconds", "train_tflop", "budget_tflop", "epochs", "global_steps")


def tuning_block(task: str) -> dict:
    """The task's ``tuning`` block, checked.

    Raises:
        ConfigError: when the task has none, or a model's space names no choices.
    """
    block = load_config(task, "quick").get("tuning")
    if not block:
        raise ConfigError(
            f"{task}.yaml has no tuning block; add one (see cgbench.workflows.tuning)"
        )
    profile = block.get("profile", "quick")
    if not (load_config(task, profile).get("budget") or {}).get("train_tflop"):
        raise ConfigError(f"{task}.yaml profile {profile}: tuning needs a budget.train_tflop")
    for model, space in (block.get("spaces") or {}).items():
        empty = [key for key, choices in space.items() if not choices]
        if empty:
            raise ConfigError(f"{task}.yaml tuning.spaces.{model}.{empty[0]}: no choices")
    return block


def trial_overrides(
    space: dict, trials: int, seed: int, salt: str, default: dict | None = None
) -> list[tuple[str, ...]]:
    """``trials`` distinct points of the grid ``space``: the YAML default () first.

    ``default``: the default's value of each key of ``space``; the grid point equal to it is
    left out, so no trial repeats trial 0 and every model gets as many distinct configs.

    >>> trial_overrides({"lr": [1, 2], "beta1": [0.5]}, 3, 0, "t/m")[0]
    ()
    """
    keys = sorted(space)
    grid = list(itertools.product(*(space[k] for k in keys)))
    random.Random(f"{salt}/{seed}").shuffle(grid)
    if default is not None:
        grid = [p for p in grid if p != tuple(default.get(k) for k in keys)]
    points = [tuple(f"{k}={json.dumps(v)}" for k, v in zip(keys, p, strict=True)) for p in grid]
    return [(), *points[: max(trials - 1, 0)]]


def run_trials(
    task: str,
    model: str,
    results_dir: Path = Path("results"),
    seed: int = 0,
    logger="none",
    executor: str = "local",
    cluster_flags=(),
    job_dir: Path | None = None,
) -> list[dict]:
    """Run (or skip, when recorded) every trial of ``model`` on ``task``; return their rows.

    ``executor`` ``local`` runs the trials here, one after another; ``slurm`` or
    ``subprocess`` runs each as a job (`workflows.cluster`, settings from the task's ``cluster``
    block and ``cluster_flags``). A failed job's row is ``{"trial", "failed", "log"}``.
    """
    block = tuning_block(task)
    space = (block.get("spaces") or {}).get(model)
    if space is None:
        raise ConfigError(f"{task}.yaml tuning.spaces has no {model!r} entry")
    out_dir = Path(results_dir) / "tuning" / task / model
    profile = block.get("profile", "quick")
    default = run_config(task, model, seed, profile, tuple(_overrides(task, model, ())))
    points = trial_overrides(
        space, block["trials"], seed, f"{task}/{model}", {k: _value(default, k) for k in space}
    )
    rows, todo = {}, []
    for i, point in enumerate(points):
        path = out_dir / f"trial{i:02d}.json"
        cfg = run_config(task, model, seed, profile, tuple(_overrides(task, model, point)))
        if path.exists() and json.loads(path.read_text())["config_sha"] == config_sha(cfg):
            rows[i] = json.loads(path.read_text())  # the same config trained already
        else:
            todo.append(((task, model, i, point, seed, results_dir, logger), {}))
    if executor == "local":
        finished = ((j, run_trial(*args)) for j, (args, _) in enumerate(todo))
    else:
        from cgbench.workflows import cluster

        params = cluster.settings(checked_config(task, profile).get("cluster"), cluster_flags)
        finished = cluster.run_jobs(
            run_trial, todo, executor, [params] * len(todo), job_dir or cache_dir() / "jobs"
        )
    for j, row in finished:
        i = todo[j][0][2]
        rows[i] = (
            row
            if isinstance(row, dict)
            else {"trial": i, "failed": row.error, "log": str(row.stderr)}
        )
    return [rows[i] for i in sorted(rows)]


def _value(cfg: dict, key: str):
    """The value a resolved run config gives a search key (``data.batch_size`` or a model arg)."""
    section, _, name = key.rpartition(".")
    return cfg["data"].get(name) if section == "data" else cfg["model_args"].get(key)


def _overrides(task: str, model: str, point: tuple[str, ...]) -> list[str]:
    """A trial's ``--set`` list: validation split, ranking metric only (no CAS), the grid point."""
    fixed = ["eval.split=val", f"eval.metrics=[{TASKS[task].primary}]", "eval.cas=false"]
    return [*fixed, *(f"models.{model}.{p}" for p in point)]


def run_trial(
    task: str,
    model: str,
    i: int,
    point: tuple[str, ...],
    seed: int = 0,
    results_dir: Path = Path("results"),
    logger: str = "none",
) -> dict:
    """Train and score one trial; write ``tuning/<task>/<model>/trial<i>.json``; return the row."""
    primary, overrides = TASKS[task].primary, _overrides(task, model, point)
    print(f"{task} x {model}: trial {i} {' '.join(point) or '(YAML default)'}", flush=True)
    profile = tuning_block(task).get("profile", "quick")
    cfg = run_config(task, model, seed, profile, tuple(overrides))
    start = time.perf_counter()
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as scratch:  # grids stay out of git
        record = run_one(
            task, model, seed, profile, tuple(overrides), Path(scratch), logger, force=True, cfg=cfg
        )
    row = {
        "task": task,
        "model": model,
        "trial": i,
        "overrides": overrides,
        "search": dict(p.split("=", 1) for p in point),
        "seed": seed,
        "model_args": cfg["model_args"],
        "config_sha": config_sha(cfg),
        "score_metric": primary,
        "score": record["scores"].get(primary),
        # a diverged trial has no score; its direction is still the metric's
        "higher_is_better": record["higher_is_better"].get(
            primary, METRICS[primary].higher_is_better
        ),
        "y_flip": record["scores"].get("y_flip"),
        "wall_seconds": round(time.perf_counter() - start, 1),
        **{k: record.get(k) for k in TRIAL_FIELDS},
    }
    atomic_write(
        Path(results_dir) / "tuning" / task / model / f"trial{i:02d}.json",
        json.dumps(row, indent=1) + "\n",
    )
    return row


def best_trial(rows: list[dict]) -> dict:
    """The trial with the best validation score (trials without one never win)."""
    scored = [r for r in rows if r.get("score") is not None]  # failed jobs have none
    if not scored:
        raise RuntimeError(f"no trial of {rows[0]['model']} on {rows[0]['task']} was scored")
    sign = 1 if scored[0]["higher_is_better"] else -1
    return max(scored, key=lambda r: sign * r["score"])


def write_table(task: str, results_dir: Path = Path("results")) -> pd.DataFrame:
    """``results/tuning/<task>.csv`` from every trial record of the task; returns it."""
    paths = sorted((Path(results_dir) / "tuning" / task).glob("*/trial*.json"))
    table = pd.DataFrame([json.loads(p.read_text()) for p in paths])
    if not table.empty:
        table["search"] = table["search"].map(
            lambda s: " ".join(f"{k}={json.loads(v)}" for k, v in s.items())
        )
        table = table.drop(columns=["overrides", "model_args"]).sort_values(["model", "trial"])
        table.to_csv(Path(results_dir) / "tuning" / f"{task}.csv", index=False)
    return table
