"""The compute campaign (issue 36): four times today's budgets, each record committed as it lands.

Every published model is scored at FLOP milestones, one cell at a time.

``python -m cgbench.workflows.campaign`` (``make campaign``) walks `CAMPAIGN` in order: a
task's floors and ceilings first (cheap; the tables need them), then its cells seed by seed
(seed 0 of every model before seed 1, so a campaign cut short still compares every model).
After each cell its folder is committed (``git add`` + ``git commit``, nothing else staged), so
a session that ends mid-campaign loses at most the cell in flight, and a rerun, on this machine
or another with the commits, skips every current record and goes on with the next. Run it from
a git worktree at a committed HEAD (the records name that commit), and merge its branch.
``--hours`` stops starting new cells after that long, so a session can end cleanly.
"""

import argparse
import subprocess
import time
from pathlib import Path

from cgbench.cells.references import score_references
from cgbench.config import published
from cgbench.models import MODELS
from cgbench.records import read_run
from cgbench.tasks import TASKS
from cgbench.workflows.matrix import plan, run_cell

# (task, campaign profile), cheapest first: the MNIST completion tasks, then the CelebA-based.
CAMPAIGN = (
    ("completion_mnist", "standard"),
    ("completion_mnist_multimodal", "standard"),
    ("completion_mnist_multimodal_alt30", "standard"),
    ("completion", "standard"),
    ("mnist", "standard"),
    ("colorization", "standard"),
    ("celeba", "long"),
    ("celeba_new_attributes", "long"),
)


def commit(paths: list[Path], message: str) -> None:
    """Commit exactly ``paths`` (their folders' files), whatever else the index holds."""
    paths = [str(p) for p in paths if p.exists()]
    if not paths:
        return
    subprocess.run(["git", "add", "--", *paths], check=True)
    staged = subprocess.run(["git", "diff", "--cached", "--quiet", "--", *paths], check=False)
    if staged.returncode:  # something new to record
        subprocess.run(["git", "commit", "-q", "-m", message, "--", *paths], check=True)


def cells_in_order(task: str, profile: str, models: list[str] | None = None):
    """The task's cells at ``profile``, seed-major (every model's seed 0 first)."""
    seeds = published(task)["seeds"] or [0, 1, 2]
    cells = plan([task], models or list(MODELS), {task: profile}, {task: seeds})
    return sorted(cells, key=lambda c: (c.seed, c.model))


def run_campaign(results_dir: Path, tasks=None, models=None, hours: float | None = None) -> int:
    """Run `CAMPAIGN` (or its ``tasks``); return the number of cells trained here."""
    start, trained = time.monotonic(), 0
    for task, profile in CAMPAIGN:
        if tasks and task not in tasks:
            continue
        refs = score_references(task, profile, (), results_dir)
        commit(
            [results_dir / "runs" / task / r["model"] / profile for r in refs],
            f"campaign: {task} references at {profile}",
        )
        for cell in cells_in_order(task, profile, models):
            if hours is not None and time.monotonic() - start > hours * 3600:
                print(f"campaign: {hours} h spent; stopping before {cell.name}", flush=True)
                return trained
            record = run_cell(cell, results_dir)
            if record.get("skipped"):
                continue
            trained += 1
            run_dir = cell.run_dir(results_dir)
            primary = TASKS[task].primary
            value = f"{primary} {record.get('scores', {}).get(primary, float('nan')):.4g}"
            commit([run_dir], f"campaign: {cell.name} ({record.get('status')}, {value})")
            print(f"campaign: {cell.name} landed: {read_run(run_dir).get('status')}", flush=True)
    return trained


def main(argv=None) -> int:
    """``python -m cgbench.workflows.campaign [--tasks ...] [--models ...] [--hours H]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="*", help="a subset of the campaign's tasks")
    parser.add_argument("--models", nargs="*", help="a subset of the models")
    parser.add_argument("--hours", type=float, help="start no new cell after this long")
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    trained = run_campaign(args.results_dir, args.tasks, args.models, args.hours)
    print(f"campaign: {trained} cell(s) trained; a rerun goes on where this one stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
