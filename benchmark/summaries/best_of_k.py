"""Expected best-of-k: what a model's tuning would have found with k of its N trials.

A model tuned with more trials looks better for that alone (Dodge et al. 2019), so the tables
compare models at equal trials, and this shows how much the k-th trial still buys: with a
curve that is still rising at k = N the tuning budget, not the method, may decide the rank.
The estimator is the unbiased one of Tang et al. 2020 (draws without replacement from the N
observed trials): with the trials sorted from worst to best, v_1 <= ... <= v_N,

    E[best of k] = sum_{i=k..N} v_i * C(i-1, k-1) / C(N, k),

the chance that v_i is the best of a random k-subset being C(i-1, k-1) / C(N, k). (Dodge et
al.'s with-replacement form, sum v_i ((i/N)^k - ((i-1)/N)^k), is biased upward for k near N.)
Read from the tuning workflow's ``results/tuning/<task>.csv`` (validation scores only).
"""

from math import comb
from pathlib import Path

import pandas as pd

from cgbench.summaries.tables import markdown_table, num


def expected_best(scores: list[float], k: int, higher: bool = True) -> float:
    """E[best of k trials drawn without replacement from ``scores``] (Tang et al. 2020)."""
    ordered = sorted(scores, reverse=not higher)  # worst first
    n = len(ordered)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    return sum(ordered[i - 1] * comb(i - 1, k - 1) for i in range(k, n + 1)) / comb(n, k)


def table(tuning: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model): expected best of k for k = 1..N (long form)."""
    rows = []
    if tuning.empty:
        return pd.DataFrame(rows)
    ok = tuning.dropna(subset=["score"])
    for (task, model), group in ok.groupby(["task", "model"], sort=True):
        higher = bool(group["higher_is_better"].iloc[0])
        scores = list(group["score"])
        for k in range(1, len(scores) + 1):
            rows.append(
                {
                    "task": task,
                    "model": model,
                    "metric": group["score_metric"].iloc[0],
                    "trials": len(scores),
                    "k": k,
                    "expected_best": expected_best(scores, k, higher),
                }
            )
    return pd.DataFrame(rows)


def read_tuning(results_dir: Path) -> pd.DataFrame:
    """Every committed tuning table (``results/tuning/*.csv``), one frame."""
    found = sorted((Path(results_dir) / "tuning").glob("*.csv"))
    return pd.concat([pd.read_csv(f) for f in found]) if found else pd.DataFrame()


def markdown(results_dir: Path) -> str:
    """``best_of_k.md``: per task, each model's expected best validation score by trials."""
    lines = [
        "# Expected best-of-k over the tuning trials",
        "",
        "Rebuilt by `make leaderboard` from `results/tuning/*.csv` (validation scores). A cell",
        "is the expected best validation score of k trials drawn from the model's N",
        "(Tang et al. 2020's unbiased estimator; `cgbench.summaries.best_of_k`). A column",
        "still rising at k = N says more trials could change the ranking.",
        "",
    ]
    long = table(read_tuning(results_dir))
    if long.empty:
        return "\n".join([*lines, "No tuning records yet.", ""])
    for task, group in long.groupby("task", sort=True):
        wide = group.pivot(index="model", columns="k", values="expected_best")
        metric = group["metric"].iloc[0]
        lines += [f"## {task}: validation `{metric}`", ""]
        trials = group.groupby("model")["trials"].first()
        header = ["model", "N", *(f"k={k}" for k in wide.columns)]
        cells = [[m, str(trials[m]), *map(num, r)] for m, r in wide.iterrows()]
        lines += markdown_table(header, cells)
        lines.append("")
    return "\n".join(lines)
