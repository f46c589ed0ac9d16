"""Rerun committed cells from scratch and compare their scores: ``results/reproduce.csv``.

``cgbench reproduce --tasks mnist --models cvae --seeds 0`` (``make reproduce``) trains each
named cell again, at its task's published profile, into a temporary results folder (the
committed records are never touched), scores it with today's code and sets every score beside
the committed record's. A score *reproduces* when the rerun lies within the spread over the
committed seeds of that (task, model): ``|rerun - record| <= 2 x`` their standard deviation,
or exactly equal where there is no spread to compare against.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cgbench import records as R

COLUMNS = ["task", "model", "profile", "seed", "metric", "record", "rerun", "delta", "seed_sd",
           "reproduces"]  # fmt: skip
SPREAD = 2.0  # a rerun within this many seed standard deviations of its record reproduces it


def compare(committed: list[dict], rerun: list[dict]) -> pd.DataFrame:
    """One row per (cell, score) of ``rerun``, beside the committed record of the same cell.

    Args:
        committed: Records of the results folder (every seed: the spread comes from them).
        rerun: Records of the same cells, trained again.
    """
    rows = []
    for new in rerun:
        cell = (new["task"], new["model"], new["profile"])
        seeds = [r for r in committed if (r["task"], r["model"], r["profile"]) == cell]
        old = next((r for r in seeds if r["seed"] == new["seed"]), None)
        if old is None:
            continue
        for metric, value in sorted(new["scores"].items()):
            if metric not in old["scores"] or "@" in metric:
                continue
            spread = [r["scores"][metric] for r in seeds if metric in r["scores"]]
            sd = float(np.std(spread, ddof=1)) if len(spread) > 1 else 0.0
            delta = value - old["scores"][metric]
            rows.append([*cell, new["seed"], metric, old["scores"][metric], value, delta, sd,
                         bool(abs(delta) <= SPREAD * sd + 1e-9)])  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def reproduce(argv_run: list[str], results_dir: Path = Path("results")) -> pd.DataFrame:
    """Run ``cgbench run <argv_run> --force`` into a temporary folder and `compare`.

    Writes ``<results_dir>/reproduce.csv`` (atomically) and returns it.
    """
    from cgbench.__main__ import main  # the command line imports this module

    with tempfile.TemporaryDirectory(prefix="cgbench-reproduce-") as scratch:
        code = main(["run", *argv_run, "--force", "--results-dir", scratch])
        if code != 0:
            raise SystemExit(code)
        rerun = [r for r in R.collect(Path(scratch)) if not r.get("reference")
                 and not r.get("variant_of")]  # fmt: skip
    table = compare(R.collect(Path(results_dir)), rerun)
    path = Path(results_dir) / "reproduce.csv"
    if path.exists():  # keep the other cells' rows; replace this rerun's
        kept = pd.read_csv(path)
        cells = set(table[["task", "model", "profile", "seed"]].itertuples(index=False))
        keep = [tuple(row) not in cells for row in
                kept[["task", "model", "profile", "seed"]].itertuples(index=False)]  # fmt: skip
        table = pd.concat([kept[keep], table], ignore_index=True)
    table = table.sort_values(["task", "model", "profile", "seed", "metric"])
    R.atomic_write(path, table.to_csv(index=False, float_format="%.6g"))
    return table[table.set_index(["task", "model", "seed"]).index.isin(
        [(r["task"], r["model"], r["seed"]) for r in rerun])]  # fmt: skip
