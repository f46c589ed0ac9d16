"""Command line: ``cgbench {list,run,conditions,score,leaderboard,claims,report,classifiers}``.

Installed ``cgbench.models`` entry points are loaded first (see `cgbench.plugins`).
"""

import argparse
import logging
import sys
import time
from pathlib import Path

from cgbench import (
    claims,
    cluster,
    external,
    leaderboard,
    matrix,
    migrate,
    plugins,
    readme,
    references,
)
from cgbench import config as C
from cgbench import evaluators as E
from cgbench import provenance as P
from cgbench import records as R
from cgbench.datamodules import DataNotFoundError
from cgbench.errors import UnknownNameError, lookup, require_extra
from cgbench.models import MODELS
from cgbench.pipeline import make_datamodule, needs_evaluator
from cgbench.run import log_leaderboard_to_wandb
from cgbench.tasks import TASKS
from cgbench.workers import Failed


def published_tasks() -> list[str]:
    """The non-synthetic tasks, task files added with ``--task-config`` included."""
    return [name for name, task in TASKS.items() if not task.synthetic]


def _names(values: list[str], registry: dict, default: list[str]) -> list[str]:
    """Expand ``all`` and space/comma-separated lists; check every name against the registry."""
    names = [n for v in values for n in v.replace(",", " ").split()] or default
    if names == ["all"]:
        return default
    for name in names:
        lookup(registry, name, "task" if registry is TASKS else "model")
    return names


def _seeds(values: list[str]) -> list[int]:
    """Seeds from space/comma-separated values (default ``[0]``): non-negative integers."""
    seeds = []
    for text in (t for v in values for t in v.replace(",", " ").split()):
        try:
            seed = int(text)
        except ValueError:
            seed = -1
        if seed < 0 or seed >= 2**16:  # EpochSeed packs (seed, epoch) into one 32-bit seed
            raise C.ConfigError(f"seed {text!r} is not an integer in [0, 65535]; e.g. --seeds 0 1")
        seeds.append(seed)
    return seeds or [0]


def summary(record: dict) -> str:
    """One line per finished run: scores, evaluator ceiling, cost."""
    main = sorted((k, v) for k, v in record["scores"].items() if "@" not in k)  # groups: in .md
    scores = "  ".join(f"{k} {v:.4f}" for k, v in main)
    ceiling = (
        f" (evaluator {record['evaluator']['test_acc']:.4f})" if record.get("evaluator") else ""
    )
    state = (
        "skipped, record exists"
        if record.get("skipped")
        else "from samples"
        if record.get("external")
        else f"{record['reference']} {record['model']}"
        if record.get("reference")
        else f"{record['train_seconds']:.0f}s"
    )
    if record.get("rank"):
        return f"  trained as rank {record['rank']}; rank 0 scores and writes the record"
    if record.get("status") == "diverged":
        return f"  DIVERGED [{state}]: {record['reason']}; recorded, the matrix goes on"
    return f"  done [{state}]: {scores}{ceiling}"


def _executor(args) -> matrix.Executor:
    """Where the command's cells run: ``--executor``, ``--workers``, ``--cluster`` and plugins."""

    def given(name, default=()):
        return getattr(args, name, default) or default

    return matrix.Executor(
        given("executor", "local"),
        str(given("workers", "1")),
        tuple(given("cluster")),
        given("job_dir", None),
        tuple(given("task_config")),
        tuple(given("model")),
    )


def _plan(args) -> list[matrix.Cell]:
    """The command line's cells: tasks, models (plugins registered), profiles and seeds."""
    added = [plugins.add_task_file(path) for path in args.task_config]
    tasks = _names(args.tasks, TASKS, added or published_tasks())
    outside = [plugins.add_model(spec) for spec in args.model]
    named = _names(args.models, MODELS, list(MODELS)) if args.models else []
    models = list(dict.fromkeys(named + outside)) or list(MODELS)
    profiles, seeds = _profiles_and_seeds(tasks, args)
    return matrix.plan(list(profiles), models, profiles, seeds, args.set)


def cmd_run(args) -> int:
    """Run the matrix, one line per run, then rebuild the leaderboard."""
    cells = _plan(args)
    if not cells:
        print("no valid (task, model) pair: no model supports these tasks' condition kinds")
        return 2
    C.check_data_dir()
    if args.logger == "wandb":
        require_extra("wandb", "wandb", "--logger wandb")
    matrix.check_data(cells)  # every dataset's files before any work, not mid-matrix
    start, failures = time.perf_counter(), []
    finished = matrix.run_matrix(cells, args.results_dir, _executor(args), args.logger, args.force)
    for done, (cell, record) in enumerate(finished, 1):
        print(f"run {done}/{len(cells)}: {cell.name}", flush=True)
        if isinstance(record, Failed):
            log = f"log {record.stderr}" if record.stderr else "its output is above"
            failures.append(f"{cell.name}: {record.error} ({log})")
            print(f"  FAILED: {record.error}; {log}", flush=True)
            continue
        print(summary(record), flush=True)
    for task, profile in dict.fromkeys((c.task, c.profile) for c in cells):  # floors, ceilings
        _references(task, profile, args)
    table = rebuild(args.results_dir, args.include_synthetic, summaries=False)
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


def _profiles_and_seeds(tasks: list[str], args) -> tuple[dict, dict]:
    """Each task's profile and seeds: ``--profile``/``--seeds``, or its YAML's ``published``."""
    if args.profile != "published":
        return dict.fromkeys(tasks, args.profile), dict.fromkeys(
            tasks, _seeds(getattr(args, "seeds", []))
        )
    blocks = {task: C.published(task) for task in tasks}
    named = [n for v in getattr(args, "tasks", []) for n in v.replace(",", " ").split()]
    named += [Path(path).stem for path in getattr(args, "task_config", [])]
    for task in [t for t, block in blocks.items() if block["profile"] is None]:
        if task in named:
            raise C.ConfigError(
                f"{task} has no published profile yet (`published: {{profile: "
                "null}` in its YAML); pass --profile quick|standard|"
                "full"
            )
        print(f"{task}: not published yet (its YAML's `published` block); left out", flush=True)
        del blocks[task]
    profiles = {task: block["profile"] for task, block in blocks.items()}
    seeds = {
        task: _seeds(getattr(args, "seeds", []) or [str(s) for s in block["seeds"]])
        for task, block in blocks.items()
    }
    return profiles, seeds


def _references(task: str, profile: str, args) -> None:
    for record in references.score_references(
        task, profile, tuple(args.set), args.results_dir, args.force
    ):
        if not record.get("skipped"):
            print(summary(record), flush=True)


def cmd_rescore(args) -> int:
    """Rescore kept weights with today's metrics (`cgbench.rescore`), then the tables."""
    from cgbench import rescore

    tasks = _names(args.tasks, TASKS, published_tasks()) if args.tasks else None
    models = _names(args.models, MODELS, list(MODELS)) if args.models else None
    C.check_data_dir()
    outcomes = rescore.rescore(args.results_dir, tasks, models, args.profile)
    done = sum(o == "rescored" for o in outcomes.values())
    print(f"{done} of {len(outcomes)} run(s) rescored")
    rebuild(args.results_dir, args.include_synthetic, summaries=False)
    return 0


def cmd_references(args) -> int:
    """Score the floor and ceiling references of tasks under a profile, then the tables."""
    tasks = _names(args.tasks, TASKS, published_tasks())
    profiles, _ = _profiles_and_seeds(tasks, args)
    C.check_data_dir()
    for task, profile in profiles.items():
        _references(task, profile, args)
    rebuild(args.results_dir, args.include_synthetic, summaries=False)
    return 0


def rebuild(results_dir: Path, include_synthetic: bool = False, summaries: bool = True):
    """Rebuild the tables and, with ``summaries`` (real tasks only), claims.md and the README.

    Records are read once, under the rebuild lock, and annotated for today's code
    (`cgbench.config.load_records`); every output is a function of them. `cgbench run` and
    `score` rebuild only the tables, so many processes sharing one results folder never race
    on the README; `cgbench leaderboard` (which `make benchmark` calls last) rebuilds all.
    """
    with leaderboard.rebuild_lock(results_dir):
        records = P.load_records(results_dir)
        table = leaderboard.write(results_dir, include_synthetic, records)
        print(f"{len(table)} row(s) written to {results_dir}/leaderboard.csv and .md")
        if summaries and not include_synthetic:
            print(f"claims checked in {claims.write(results_dir, records)}")
            if path := readme.write(results_dir, records):
                print(f"results block of {path} rebuilt")
    return table


def cmd_leaderboard(args) -> int:
    """Rebuild the tables from the run records (``--check``: only compare, exit 1 on drift)."""
    if args.check:
        records = P.load_records(args.results_dir)
        stale = leaderboard.drift(args.results_dir, records)
        claims_md = args.results_dir / "claims.md"
        if claims_md.exists() and claims_md.read_text() != claims.render(args.results_dir, records):
            stale.append("claims.md")
        if readme.drifted(args.results_dir, records):
            stale.append("../README.md (its results block)")
        for name in stale:
            print(
                f"{args.results_dir}/{name} differs from a rebuild from the run records; "
                "run `make leaderboard` and commit the result (never edit tables by hand)",
                file=sys.stderr,
            )
        if not stale:
            print(f"tables in {args.results_dir} match the run records")
        return 1 if stale else 0
    rebuild(args.results_dir, args.include_synthetic)
    return 0


def cmd_reproduce(args) -> int:
    """Retrain committed cells in a scratch folder; compare their scores (`cgbench.reproduce`)."""
    from cgbench import reproduce

    tasks = _names(args.tasks, TASKS, published_tasks())
    models = _names(args.models, MODELS, list(MODELS))
    recorded = {(r["task"], r["model"]) for r in R.collect(args.results_dir)}
    if not any((t, m) in recorded for t in tasks for m in models):
        print(
            f"no committed record of these cells in {args.results_dir} to compare with; "
            "run them first (`cgbench run`)"
        )
        return 1
    profiles, seeds = _profiles_and_seeds(tasks, args)
    cells = matrix.plan(list(profiles), models, profiles, seeds)
    table = reproduce.reproduce(cells, args.results_dir, _executor(args), args.rerun_dir)
    if table.empty:
        print("no committed record of these seeds to compare with; run them first")
        return 1
    for line in reproduce.summary_lines(table):
        print(line)
    print(f"rows in {args.results_dir}/reproduce.csv")
    return 0 if table["reproduces"].all() else 1


def cmd_claims(args) -> int:
    """Check the source papers' claims against the records: ``results/claims.md``."""
    print(f"claims checked in {claims.write(args.results_dir, P.load_records(args.results_dir))}")
    return 0


def cmd_report(args) -> int:
    """Build the static HTML report from the run records."""
    require_extra("matplotlib", "report", "cgbench report")
    from cgbench import report  # matplotlib only when asked for

    print(f"report written to {report.write(args.results_dir, P.load_records(args.results_dir))}")
    return 0


def cmd_migrate(args) -> int:
    """Rename old metric keys in the records (`cgbench.migrate`), then rebuild everything."""
    changed = migrate.migrate(args.results_dir)
    print(f"{len(changed)} file(s) under {args.results_dir} migrated to today's metric keys")
    rebuild(args.results_dir, args.include_synthetic)
    return 0


def cmd_tune(args) -> int:
    """Run every model's tuning trials on each task (`cgbench.tuning`), then their tables."""
    from cgbench import tuning

    C.check_data_dir()
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


def cmd_list(args) -> int:
    """Print every valid (task, model) pair."""
    for task, model in matrix.pairs(list(TASKS), list(MODELS)):
        print(f"{task:24s} {model}")
    return 0


def cmd_evaluators(args) -> int:
    """Verify (or, with ``--train``, train) each task's frozen evaluator; tabulate its figures."""
    for name in _names(args.tasks, TASKS, published_tasks()):
        if not needs_evaluator(TASKS[name]):
            continue
        cfg = C.load_config(name, "standard")  # the recipe: the task's evaluator block
        _, dm = make_datamodule(name, {"eval": {}, "data": cfg.get("data") or {}})
        if args.train:
            record = E.train_frozen(name, dm, cfg.get("evaluator") or {}, args.force)
        else:
            loaded = E.load_frozen(name, dm)
            if loaded is None:
                raise C.ConfigError(
                    f"{name} has no frozen evaluator; train it with `cgbench "
                    f"evaluators --train --tasks {name}`"
                )
            record = loaded[1]
        E.write_table(record, E.table_path(args.results_dir, name))
        print(f"{name}: test accuracy {record['test_acc']:.4f}, sha256 {record['sha256'][:12]}")
    return 0


def _task(args) -> str:
    """``--task``, checked against the registry after ``--task-config`` files are added."""
    for path in args.task_config:
        plugins.add_task_file(path)
    lookup(TASKS, args.task, "task")
    return args.task


def cmd_conditions(args) -> int:
    """Write the test conditions a task scores, for samples made elsewhere."""
    _task(args)
    n = external.export_conditions(
        args.task, args.out, args.profile, tuple(args.set), args.with_images
    )
    print(f"{n} test conditions of {args.task} ({args.profile}) written to {args.out}")
    return 0


def cmd_score(args) -> int:
    """Score samples made elsewhere; write their record and rebuild the tables."""
    _task(args)
    C.check_data_dir()
    record = external.score_samples(
        args.task,
        args.samples,
        args.name,
        args.profile,
        args.seed,
        tuple(args.set),
        args.results_dir,
        args.force,
    )
    print(summary(record), flush=True)
    rebuild(args.results_dir, TASKS[args.task].synthetic, summaries=False)
    print("`cgbench leaderboard` refreshes claims.md and the README's results block")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run a command; known user errors exit 2 with one clear message."""
    parser = argparse.ArgumentParser(prog="cgbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print every valid (task, model) pair").set_defaults(fn=cmd_list)
    run = sub.add_parser("run", help="run the task x model x seed matrix, then the leaderboard")
    run.add_argument("--tasks", nargs="*", default=[], help="task keys or 'all' (published tasks)")
    run.add_argument("--models", nargs="*", default=[], help="model keys or 'all'")
    run.add_argument(
        "--seeds", nargs="*", default=[], help="seeds (default: the task's published seeds, else 0)"
    )
    run.add_argument(
        "--profile",
        default="published",
        choices=("published", *C.PROFILES),
        help="published (default): each task's trusted profile and seeds, from "
        "its YAML's `published` block",
    )
    run.add_argument("--logger", default="csv", choices=["csv", "wandb", "none"])
    run.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    run.add_argument("--force", action="store_true", help="rerun even if a record exists")
    run.add_argument(
        "--workers",
        default="1",
        metavar="N|auto",
        help="parallel worker processes; auto: one single-thread worker per CPU "
        "core, one with a GPU (cgbench.workers)",
    )
    run.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[KEY=]PKG.MODULE:CLASS",
        help="your own ConditionalGenerator class (repeatable); runs only those "
        "unless --models names others too",
    )
    run.set_defaults(fn=cmd_run)
    cond = sub.add_parser("conditions", help="write a task's scored test conditions (.npz/.pt)")
    cond.add_argument("--task", required=True)
    cond.add_argument("--out", type=Path, required=True, help="a .npz or .pt file")
    cond.add_argument("--with-images", action="store_true", help="also the real test images")
    cond.set_defaults(fn=cmd_conditions)
    scr = sub.add_parser("score", help="score samples made elsewhere, as a run record")
    scr.add_argument("--task", required=True)
    scr.add_argument(
        "--samples",
        type=Path,
        required=True,
        help="(N, K, C, H, W) in .npz ('samples') or .pt, or a folder of <row>_<k>.png",
    )
    scr.add_argument("--name", required=True, help="the row's name in the tables")
    scr.add_argument("--seed", type=int, default=0, help="label of this set of samples")
    scr.add_argument(
        "--force", action="store_true", help="replace a record of other samples, same name and seed"
    )
    scr.set_defaults(fn=cmd_score)
    for p in (run, cond, scr):
        p.add_argument(
            "--task-config",
            action="append",
            default=[],
            metavar="PATH.yaml",
            help="a task YAML outside the package (key: its file stem; needs `base: <task>`)",
        )
    for p in (cond, scr):
        p.add_argument("--profile", default="quick", choices=C.PROFILES)
        p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    resc = sub.add_parser("rescore", help="score kept weights with today's metrics, no training")
    resc.add_argument("--tasks", nargs="*", default=[])
    resc.add_argument("--models", nargs="*", default=[])
    resc.add_argument("--profile", default=None, choices=C.PROFILES)
    resc.set_defaults(fn=cmd_rescore)
    refs = sub.add_parser("references", help="score the floor and ceiling rows of tasks")
    refs.add_argument("--tasks", nargs="*", default=[])
    refs.add_argument("--profile", default="published", choices=("published", *C.PROFILES))
    refs.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    refs.add_argument("--force", action="store_true", help="rescore even if a record exists")
    refs.set_defaults(fn=cmd_references)
    board = sub.add_parser("leaderboard", help="rebuild results/*.csv and .md from the records")
    board.add_argument("--check", action="store_true", help="exit 1 if the tables are stale")
    board.set_defaults(fn=cmd_leaderboard)
    repro = sub.add_parser(
        "reproduce",
        help="retrain committed cells in a scratch folder and "
        "compare their scores: results/reproduce.csv",
    )
    repro.add_argument("--tasks", nargs="+", required=True)
    repro.add_argument("--models", nargs="+", required=True)
    repro.add_argument("--seeds", nargs="*", default=[], help="default: the published seeds")
    repro.add_argument("--profile", default="published", choices=("published", *C.PROFILES))
    repro.add_argument("--workers", default="1", metavar="N|auto")
    repro.add_argument(
        "--rerun-dir",
        type=Path,
        default=None,
        help="compare the records a rerun already wrote there (e.g. on another "
        "machine, with `cgbench run --force`); nothing trains",
    )
    repro.set_defaults(fn=cmd_reproduce)
    sub.add_parser("claims", help="check the papers' claims: results/claims.md").set_defaults(
        fn=cmd_claims
    )
    mig = sub.add_parser("migrate", help="rename old metric keys in the records (idempotent)")
    mig.set_defaults(fn=cmd_migrate)
    rep = sub.add_parser("report", help="build results/report.html from the run records")
    rep.set_defaults(fn=cmd_report)
    tune = sub.add_parser("tune", help="equal-budget random search per model (cgbench.tuning)")
    tune.add_argument("--tasks", nargs="+", required=True)
    tune.add_argument("--models", nargs="*", default=[], help="default: every model in spaces")
    tune.add_argument("--seed", type=int, default=0, help="search seed (and training seed)")
    tune.set_defaults(fn=cmd_tune)
    for p in (run, tune):  # where the cells or trials run
        p.add_argument(
            "--executor",
            default="local",
            choices=cluster.EXECUTORS,
            help="local (default): this process or --workers; slurm: one SLURM job "
            "per cell through submitit; subprocess: the same jobs as processes "
            "here",
        )
        p.add_argument(
            "--cluster",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a submitit job setting (timeout_min=60, gpus_per_node=1, "
            "slurm_partition=gpu, ...), over the config's `cluster` block",
        )
        p.add_argument(
            "--job-dir",
            type=Path,
            default=None,
            help="submitit's pickles and logs, seen by every node (default $CGBENCH_CACHE/jobs)",
        )
    clf = sub.add_parser("evaluators", help="verify (or --train) the frozen evaluators")
    clf.add_argument("--tasks", nargs="*", default=[])
    clf.add_argument("--train", action="store_true", help="train them (benchmark/frozen/)")
    clf.add_argument("--force", action="store_true", help="with --train: replace existing ones")
    clf.set_defaults(fn=cmd_evaluators)
    for p in (run, board, rep, repro, clf, cond, scr, mig, refs, resc, tune, sub.choices["claims"]):
        p.add_argument("--results-dir", type=Path, default=Path("results"))
        p.add_argument("--debug", action="store_true", help="show tracebacks of input errors")
        p.add_argument("--include-synthetic", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        plugins.load_entry_points()
        return args.fn(args)
    except (DataNotFoundError, UnknownNameError, C.ConfigError) as err:
        if getattr(args, "debug", False):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
