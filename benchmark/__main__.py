"""Command line: ``cgbench {list,run,conditions,score,leaderboard,claims,report,classifiers}``.

Installed ``cgbench.models`` entry points are loaded first (see `cgbench.plugins`).
"""

import argparse
import logging
import sys
from pathlib import Path

from cgbench import plugins
from cgbench.commands import tables, train
from cgbench.config import PROFILES, ConfigError
from cgbench.datamodules import DataNotFoundError
from cgbench.errors import UnknownNameError
from cgbench.workflows import cluster


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run a command; known user errors exit 2 with one clear message."""
    parser = argparse.ArgumentParser(prog="cgbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print every valid (task, model) pair").set_defaults(
        fn=tables.cmd_list
    )
    run = sub.add_parser("run", help="run the task x model x seed matrix, then the leaderboard")
    run.add_argument("--tasks", nargs="*", default=[], help="task keys or 'all' (published tasks)")
    run.add_argument("--models", nargs="*", default=[], help="model keys or 'all'")
    run.add_argument(
        "--seeds", nargs="*", default=[], help="seeds (default: the task's published seeds, else 0)"
    )
    run.add_argument(
        "--profile",
        default="published",
        choices=("published", *PROFILES),
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
        "core, one with a GPU (cgbench.workflows.workers)",
    )
    run.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[KEY=]PKG.MODULE:CLASS",
        help="your own ConditionalGenerator class (repeatable); runs only those "
        "unless --models names others too",
    )
    run.set_defaults(fn=train.cmd_run)
    cond = sub.add_parser("conditions", help="write a task's scored test conditions (.npz/.pt)")
    cond.add_argument("--task", required=True)
    cond.add_argument("--out", type=Path, required=True, help="a .npz or .pt file")
    cond.add_argument("--with-images", action="store_true", help="also the real test images")
    cond.set_defaults(fn=tables.cmd_conditions)
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
    scr.set_defaults(fn=tables.cmd_score)
    for p in (run, cond, scr):
        p.add_argument(
            "--task-config",
            action="append",
            default=[],
            metavar="PATH.yaml",
            help="a task YAML outside the package (key: its file stem; needs `base: <task>`)",
        )
    for p in (cond, scr):
        p.add_argument("--profile", default="quick", choices=PROFILES)
        p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    resc = sub.add_parser("rescore", help="score kept weights with today's metrics, no training")
    resc.add_argument("--tasks", nargs="*", default=[])
    resc.add_argument("--models", nargs="*", default=[])
    resc.add_argument("--profile", default=None, choices=PROFILES)
    resc.set_defaults(fn=train.cmd_rescore)
    items = sub.add_parser(
        "items", help="add per-row values and standardised FID/KID to records that lack them"
    )
    items.add_argument("--tasks", nargs="*", default=[])
    items.add_argument("--models", nargs="*", default=[])
    items.set_defaults(fn=train.cmd_items)
    refs = sub.add_parser("references", help="score the floor and ceiling rows of tasks")
    refs.add_argument("--tasks", nargs="*", default=[])
    refs.add_argument("--profile", default="published", choices=("published", *PROFILES))
    refs.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    refs.add_argument("--force", action="store_true", help="rescore even if a record exists")
    refs.set_defaults(fn=train.cmd_references)
    board = sub.add_parser("leaderboard", help="rebuild results/*.csv and .md from the records")
    board.add_argument("--check", action="store_true", help="exit 1 if the tables are stale")
    board.set_defaults(fn=tables.cmd_leaderboard)
    repro = sub.add_parser(
        "reproduce",
        help="retrain committed cells in a scratch folder and "
        "compare their scores: results/reproduce.csv",
    )
    repro.add_argument("--tasks", nargs="+", required=True)
    repro.add_argument("--models", nargs="+", required=True)
    repro.add_argument("--seeds", nargs="*", default=[], help="default: the published seeds")
    repro.add_argument("--profile", default="published", choices=("published", *PROFILES))
    repro.add_argument("--workers", default="1", metavar="N|auto")
    repro.add_argument(
        "--rerun-dir",
        type=Path,
        default=None,
        help="compare the records a rerun already wrote there (e.g. on another "
        "machine, with `cgbench run --force`); nothing trains",
    )
    repro.set_defaults(fn=train.cmd_reproduce)
    sub.add_parser("claims", help="check the papers' claims: results/claims.md").set_defaults(
        fn=tables.cmd_claims
    )
    mig = sub.add_parser("migrate", help="rename old metric keys in the records (idempotent)")
    mig.set_defaults(fn=tables.cmd_migrate)
    rep = sub.add_parser("report", help="build results/report.html from the run records")
    rep.set_defaults(fn=tables.cmd_report)
    tune = sub.add_parser(
        "tune", help="equal-budget random search per model (cgbench.workflows.tuning)"
    )
    tune.add_argument("--tasks", nargs="+", required=True)
    tune.add_argument("--models", nargs="*", default=[], help="default: every model in spaces")
    tune.add_argument("--seed", type=int, default=0, help="search seed (and training seed)")
    tune.set_defaults(fn=train.cmd_tune)
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
    clf.set_defaults(fn=tables.cmd_evaluators)
    for p in (
        run,
        board,
        rep,
        repro,
        clf,
        cond,
        scr,
        mig,
        refs,
        resc,
        items,
        tune,
        sub.choices["claims"],
    ):
        p.add_argument("--results-dir", type=Path, default=Path("results"))
        p.add_argument("--debug", action="store_true", help="show tracebacks of input errors")
        p.add_argument("--include-synthetic", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        plugins.load_entry_points()
        return args.fn(args)
    except (DataNotFoundError, UnknownNameError, ConfigError) as err:
        if getattr(args, "debug", False):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
