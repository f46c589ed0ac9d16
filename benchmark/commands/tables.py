"""Commands that read records or files.

``leaderboard``, ``claims``, ``report``, ``migrate``, ``list``, ``evaluators``, ``conditions``,
``score``.
"""

import sys

from cgbench.cells import external
from cgbench.cells.pipeline import make_datamodule, needs_evaluator
from cgbench.commands import shared
from cgbench.config import ConfigError, check_data_dir, load_config
from cgbench.errors import require_extra
from cgbench.evaluators import load_frozen, table_path, train_frozen, write_table
from cgbench.models import MODELS
from cgbench.provenance import load_records
from cgbench.summaries import claims, leaderboard, readme
from cgbench.tasks import TASKS
from cgbench.workflows import matrix, migrate


def cmd_leaderboard(args) -> int:
    """Rebuild the tables from the run records (``--check``: only compare, exit 1 on drift)."""
    if args.check:
        records = load_records(args.results_dir)
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
    shared.rebuild(args.results_dir, args.include_synthetic)
    return 0


def cmd_claims(args) -> int:
    """Check the source papers' claims against the records: ``results/claims.md``."""
    print(f"claims checked in {claims.write(args.results_dir, load_records(args.results_dir))}")
    return 0


def cmd_report(args) -> int:
    """Build the static HTML report from the run records."""
    require_extra("matplotlib", "report", "cgbench report")
    from cgbench.summaries import report

    print(f"report written to {report.write(args.results_dir, load_records(args.results_dir))}")
    return 0


def cmd_migrate(args) -> int:
    """Rename old metric keys in the records (`workflows.migrate`), then rebuild everything."""
    changed = migrate.migrate(args.results_dir)
    print(f"{len(changed)} file(s) under {args.results_dir} migrated to today's metric keys")
    shared.rebuild(args.results_dir, args.include_synthetic)
    return 0


def cmd_list(args) -> int:
    """Print every valid (task, model) pair."""
    for task, model in matrix.pairs(list(TASKS), list(MODELS)):
        print(f"{task:24s} {model}")
    return 0


def cmd_evaluators(args) -> int:
    """Verify (or, with ``--train``, train) each task's frozen evaluator; tabulate its figures."""
    for name in shared.names(args.tasks, TASKS, shared.published_tasks()):
        if not needs_evaluator(TASKS[name]):
            continue
        cfg = load_config(name, "standard")  # the recipe: the task's evaluator block
        _, dm = make_datamodule(name, {"eval": {}, "data": cfg.get("data") or {}})
        if args.train:
            record = train_frozen(name, dm, cfg.get("evaluator") or {}, args.force)
        else:
            loaded = load_frozen(name, dm)
            if loaded is None:
                raise ConfigError(
                    f"{name} has no frozen evaluator; train it with `cgbench "
                    f"evaluators --train --tasks {name}`"
                )
            record = loaded[1]
        write_table(record, table_path(args.results_dir, name))
        print(f"{name}: test accuracy {record['test_acc']:.4f}, sha256 {record['sha256'][:12]}")
    return 0


def cmd_conditions(args) -> int:
    """Write the test conditions a task scores, for samples made elsewhere."""
    shared.task(args)
    n = external.export_conditions(
        args.task, args.out, args.profile, tuple(args.set), args.with_images
    )
    print(f"{n} test conditions of {args.task} ({args.profile}) written to {args.out}")
    return 0


def cmd_score(args) -> int:
    """Score samples made elsewhere; write their record and rebuild the tables."""
    shared.task(args)
    check_data_dir()
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
    print(shared.summary(record), flush=True)
    shared.rebuild(args.results_dir, TASKS[args.task].synthetic, summaries=False)
    print("`cgbench leaderboard` refreshes claims.md and the README's results block")
    return 0
