"""Which distribution metrics `leaderboard.md` shows: the keep rule of `studies.fid_sanity`.

A distribution metric stays in a task's table only where `results/fid_sanity_verdicts.csv`
says it behaves on real faces: every step of every corruption ladder moves it away from
clean held-out faces, and KID on clean faces is within 2 subset spreads of 0. The study
ladders CelebA faces, so its verdicts apply to the tasks scored on CelebA images: Inception
metrics on all of them, evaluator-space metrics on those scored in the CelebA evaluator's
space. Without the file (a fresh results folder) every metric is shown. ``leaderboard.csv``
keeps every column.
"""

from pathlib import Path

import pandas as pd

from cgbench.tasks import TASKS

VERDICTS = "fid_sanity_verdicts.csv"
SUFFIX = {"inception": "", "evaluator": "_eval", "evaluator_std": "_evalz"}  # space: key suffix
CELEBA_IMAGES = {"celeba", "celeba_new_attributes", "colorization", "completion"}


def _in_celeba_evaluator_space(task: str) -> bool:
    spec = TASKS.get(task)
    return task == "celeba" or (spec is not None and spec.features == "celeba")


def dropped(results_dir: Path) -> dict[str, list[str]]:
    """``{task: [metric keys failing the keep rule]}``; ``intra_fid_eval`` follows ``fid_eval``."""
    path = Path(results_dir) / VERDICTS
    if not path.exists():
        return {}
    verdicts = pd.read_csv(path)
    failing = {
        f"{row.metric}{SUFFIX[row.features]}"
        for row in verdicts.itertuples()
        if row.features in SUFFIX and not row.keep
    }
    if "fid_eval" in failing:
        failing.add("intra_fid_eval")
    out = {}
    for task in CELEBA_IMAGES:
        evaluator = _in_celeba_evaluator_space(task)
        out[task] = sorted(m for m in failing if evaluator or not m.endswith(("_eval", "_evalz")))
    return out
