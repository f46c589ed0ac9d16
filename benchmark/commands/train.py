"""Commands that train, score or rescore cells.

``run``, ``references``, ``rescore``, ``items``, ``reproduce``, ``tune``.
"""

import sys
import time

from cgbench.cells import references
from cgbench.cells.loggers import log_leaderboard_to_wandb
from cgbench.commands import shared
from cgbench.config import check_data_dir
from cgbench.errors import require_extra
from cgbench.models import MODELS
from cgbench.records import collect
from cgbench.tasks import TASKS
from cgbench.workflows import matrix
from cgbench.workflows.workers import Failed


def cmd_run(args) -> int:
    """Run the matrix, one line per run, then rebuild the leaderboard."""
    cells = shared.plan(args)
    if not cells:
        print("no valid (task, model) pair: no model supports these tasks' condition kinds")
        return 2
    check_data_dir()
    if args.logger == "wandb":
        require_extra("wandb", "wandb", "--logger wandb")
    matrix.check_data(cells)  # every dataset's files before any work, not mid-matrix
    start, failures = time.perf_counter(), []
    finished = matrix.run_matrix(
        cells, args.results_dir, shared.executor(args), args.logger, args.force
    )
    for done, (cell, record) in enumerate(finished, 1):
        print(f"run {done}/{len(cells)}: {cell.name}", flush=True)
        if isinstance(record, Failed):
            log = f"log {record.stderr}" if record.stderr else "its output is above"
            failures.append(f"{cell.name}: {record.error} ({log})")
            print(f"  FAILED: {record.error}; {log}", flush=True)
            continue
        print(shared.summary(record), flush=True)
    for task, profile in dict.fromkeys((c.task, c.profile) for c in cells):  # floors, ceilings
        _references(task, profile, args)
    table = shared.rebuild(args.results_dir, args.include_synthetic, summaries=False)
    if args.logger == "wandb":
        log_leaderboard_to_wandb(table, args.results_dir)
    print(
        f"{len(cells)} run(s) in {time.perf_counter() - start:.0f}s; "
        f"leaderboard in {args.results_dir}/leaderboard.md; `cgbench leaderboard` refreshes "
        "claims.md and the README's results block"
    )
    if failures:
        print(
            f"{len(failures)} run(s) failed; the others landed. Rerunning the same command "
            "resubmits only those:\n  " + "\n  ".join(failures),
            file=sys.stderr,
        )
        return 1
    return 0


def _references(task: str, profile: str, args) -> None:
    for record in references.score_references(
        task, profile, tuple(args.set), args.results_dir, args.force
    ):
        if not record.get("skipped"):
            print(shared.summary(record), flush=True)


def cmd_rescore(args) -> int:
    """Rescore kept weights with today's metrics (`cgbench.cells.rescore`), then the tables."""
    from cgbench.cells import rescore

    tasks = shared.names(args.tasks, TASKS, shared.published_tasks()) if args.tasks else None
    models = shared.names(args.models, MODELS, list(MODELS)) if args.models else None
    check_data_dir()
    outcomes = rescore.rescore(args.results_dir, tasks, models, args.profile)
    done = sum(o == "rescored" for o in outcomes.values())
    print(f"{done} of {len(outcomes)} run(s) rescored")
    shared.rebuild(args.results_dir, args.include_synthetic, summaries=False)
    return 0


def cmd_items(args) -> int:
    """Add per-row values and standardised FID/KID where missing (`cells.backfill`), tables."""
    from cgbench.cells import backfill

    tasks = shared.names(args.tasks, TASKS, shared.published_tasks()) if args.tasks else None
    models = shared.names(args.models, MODELS, list(MODELS)) if args.models else None
    check_data_dir()
    outcomes = backfill.backfill(args.results_dir, tasks, models)
    done = sum("added" in o for o in outcomes.values())
    print(f"{done} of {len(outcomes)} run(s) got items or standardised distances")
    shared.rebuild(args.results_dir, args.include_synthetic, summaries=False)
    return 0


def cmd_references(args) -> int:
    """Score the floor and ceiling references of tasks under a profile, then the tables."""
    tasks = shared.names(args.tasks, TASKS, shared.published_tasks())
    profiles, _ = shared.profiles_and_seeds(tasks, args)
    check_data_dir()
    for task, profile in profiles.items():
        _references(task, profile, args)
    shared.rebuild(args.results_dir, args.include_synthetic, summaries=False)
    return 0


def cmd_reproduce(args) -> int:
    """Retrain committed cells in a scratch folder; compare their scores (`workflows.reproduce`)."""
    from cgbench.workflows import reproduce

    tasks = shared.names(args.tasks, TASKS, shared.published_tasks())
    models = shared.names(args.models, MODELS, list(MODELS))
    recorded = {(r["task"], r["model"]) for r in collect(args.results_dir)}
    if not any((t, m) in recorded for t in tasks for m in models):
        print(
            f"no committed record of these cells in {args.results_dir} to compare with; "
            "run them first (`cgbench run`)"
        )
        return 1
    profiles, seeds = shared.profiles_and_seeds(tasks, args)
    cells = matrix.plan(list(profiles), models, profiles, seeds)
    table = reproduce.reproduce(cells, args.results_dir, shared.executor(args), args.rerun_dir)
    if table.empty:
        print("no committed record of these seeds to compare with; run them first")
        return 1
    for line in reproduce.summary_lines(table):
        print(line)
    print(f"rows in {args.results_dir}/reproduce.csv")
    return 0 if table["reproduces"].all() else 1


def cmd_tune(args) -> int:
    """Run every model's tuning trials on each task (`workflows.tuning`), then their tables."""
    from cgbench.workflows import tuning

    check_data_dir()
    failed = []
    for task in args.tasks:
        spaces = tuning.tuning_block(task).get("spaces") or {}
        for model in args.models or list(spaces):
            rows = tuning.run_trials(
                task,
                model,
                args.results_dir,
                args.seed,
                executor=args.executor,
                cluster_flags=args.cluster,
                job_dir=args.job_dir,
            )
            failed += [
                f"{task} x {model} trial {r['trial']}: {r['failed']} (log {r['log']})"
                for r in rows
                if "failed" in r
            ]
            best = tuning.best_trial(rows)
            print(
                f"{task} x {model}: best trial {best['trial']} {best['score']:.4f} "
                f"({best['search'] or 'YAML default'})",
                flush=True,
            )
        table = tuning.write_table(task, args.results_dir)
        print(f"{len(table)} trial(s) in {args.results_dir}/tuning/{task}.csv")
    if failed:
        print(
            f"{len(failed)} trial(s) failed; rerunning resubmits only those:\n  "
            + "\n  ".join(failed),
            file=sys.stderr,
        )
        return 1
    return 0
