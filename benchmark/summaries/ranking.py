"""Statistics over seeds and the rules that rank: intervals, significance, metric directions.

`sample` turns a group of runs into the values a comparison needs; `p_better` is the one test
the leaderboard's floor rule and rank groups (Holm-corrected within a table) and the claims
all use; `power_at_1sd` says what a comparison could have detected.
"""

import math

import numpy as np
import pandas as pd
from scipy import stats

from cgbench.metrics import METRICS
from cgbench.summaries.bootstrap import items_of, p_two_level, same_rows
from cgbench.summaries.tables import missing

ALPHA = 0.05  # the level of every test here; Holm: the family-wise level
ROUNDING = 1e-6  # relative: a difference under it is float rounding, not a result


def mean_std(values: pd.Series) -> tuple[float, float]:
    """Mean and sample standard deviation of the values present (NaN where undefined)."""
    values = values.dropna()
    if values.empty:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def ci95(std: float, n: int) -> float:
    """Half-width of the 95% confidence interval of a mean over ``n`` seeds (Student's t)."""
    if n < 2 or pd.isna(std):
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))


def sample(runs: list[dict], metric: str) -> dict:
    """What a significance test needs of a group of seeds' runs on one metric.

    ``{"_values": per-seed values, "_mean", "_low", "_high", "ci_over", "_items"}``: the 95%
    interval is Student's t over seeds with two or more, else the one run's bootstrap over
    test items (recorded for the ranking metric), else the value itself (``ci_over`` empty);
    ``_items`` the runs' per-row values where every run kept them (`bootstrap.items_of`).
    """
    values = [r["scores"][metric] for r in runs if not missing(r["scores"].get(metric))]
    mean = float(np.mean(values)) if values else math.nan
    items = items_of(runs, metric) if len(values) == len(runs) else None
    return _interval(runs, metric, values, mean) | {"_items": items}


def _interval(runs: list[dict], metric: str, values: list[float], mean: float) -> dict:
    """`sample`'s values and 95% interval."""
    if len(values) >= 2:
        half = ci95(float(np.std(values, ddof=1)), len(values))
        return {
            "_values": values,
            "_mean": mean,
            "_low": mean - half,
            "_high": mean + half,
            "ci_over": "seeds",
        }
    ci = runs[0].get("scores_ci95") if len(runs) == 1 else None
    boot = ci.get(metric) if isinstance(ci, dict) else None
    if boot:
        return {
            "_values": values,
            "_mean": mean,
            "_low": boot[0],
            "_high": boot[1],
            "ci_over": "items",
        }
    return {"_values": values, "_mean": mean, "_low": mean, "_high": mean, "ci_over": ""}


def p_better(a: dict, b: dict, higher: bool, metric: str | None = None) -> float:
    """One-sided p-value of "row ``a`` beats row ``b``" on ``metric`` (`sample` rows).

    Over seeds (`p_over_seeds`); where both rows kept their per-row values on the same rows,
    the larger of that and the paired two-level bootstrap's (`bootstrap.p_two_level`): the
    answer must hold for other training runs and for another draw of test rows.
    """
    p = p_over_seeds(a, b, higher)
    items_a, items_b = a.get("_items"), b.get("_items")
    if metric and same_rows(items_a, items_b):
        p = max(p, p_two_level(items_a, items_b, metric, higher))
    return p


def p_over_seeds(a: dict, b: dict, higher: bool) -> float:
    """One-sided p-value of "row ``a`` beats row ``b``" over the rows' seeds.

    Two or more seeds each: Welch's t-test over the seeds' values. Seeds against a reference
    row (one deterministic run on the same rows): a one-sample t-test of the seeds against its
    value. Seeds with no spread give 1 (no evidence), never 0: equal-looking seeds do not make
    any difference significant. Otherwise (one seed against one run or against seeds) the
    rows' 95% intervals must not overlap (p 0 if they do not, else 1).
    """
    va, vb = np.asarray(a["_values"], float), np.asarray(b["_values"], float)
    sign = 1 if higher else -1
    if len(va) >= 2 and len(vb) >= 2:
        if _flat(va) and _flat(vb):
            return 1.0
        test = stats.ttest_ind(sign * va, sign * vb, equal_var=False, alternative="greater")
        return float(test.pvalue)
    fixed_side = _fixed(b) if len(va) >= 2 else _fixed(a) if len(vb) >= 2 else False
    if fixed_side:
        seeds, fixed, flip = (va, vb, 1) if len(va) >= 2 else (vb, va, -1)
        if _flat(seeds):
            return 1.0
        alternative = "greater" if sign * flip > 0 else "less"
        return float(stats.ttest_1samp(seeds, fixed.mean(), alternative=alternative).pvalue)
    beats = a["_low"] > b["_high"] if higher else a["_high"] < b["_low"]
    return 0.0 if beats else 1.0


def _flat(values: np.ndarray) -> bool:
    """No spread beyond float rounding (`ROUNDING`, relative)."""
    return bool(values.std() <= ROUNDING * max(abs(values.mean()), 1e-12))


def _fixed(row) -> bool:
    """Whether a row is one deterministic run (a reference), not a draw of a seed."""
    values = row["_values"]
    return len(values) == 1 and isinstance(row.get("reference"), str)


def significantly_better(a: dict, b: dict, higher: bool, metric: str | None = None) -> bool:
    """Whether row ``a`` beats row ``b`` at the 5% level (one test, no multiplicity)."""
    return p_better(a, b, higher, metric) < ALPHA


def power_at_1sd(n_a: int, n_b: int, sds: float = 1.0) -> float:
    """Power of `p_better` to find a one-SD (``sds``) difference at `ALPHA` (seeds' SD; t-test).

    ``n_b`` 1: seeds against one fixed run. Fewer than two seeds on both sides: NaN (the
    interval rule has no power to state).
    """
    if max(n_a, n_b) < 2:
        return math.nan
    if min(n_a, n_b) < 2:
        n = max(n_a, n_b)
        df, shift = n - 1, sds * math.sqrt(n)
    else:
        df, shift = n_a + n_b - 2, sds / math.sqrt(1 / n_a + 1 / n_b)
    return float(stats.nct.sf(stats.t.ppf(1 - ALPHA, df), df, shift))


def direction(records: list[dict], task: str, metric: str) -> bool:
    """Whether higher ``metric`` is better on ``task``: as the records say, else as the metric.

    (A task's ranking metric may be newer than all its records: their rows stay unranked.)
    """
    recorded = (
        r["higher_is_better"][metric]
        for r in records
        if r["task"] == task and metric in r["higher_is_better"]
    )
    found = next(recorded, None)
    if found is not None:
        return found
    return METRICS[metric].higher_is_better if metric in METRICS else True


TWO_SIDED = {
    "pairwise_ms_ssim",
    "pairwise_ms_ssim_real",
    "pairwise_lpips",
    "copy_rate",
}  # read against real data


def arrow(records: list[dict], task: str, metric: str) -> str:
    """``↑``/``↓`` for a metric's better direction; ``·`` for diversity, read against real data."""
    if metric in TWO_SIDED:
        return "·"
    return "↑" if direction(records, task, metric) else "↓"


def two_sample_p(old: list[float], new: list[float]) -> tuple[float, float]:
    """``(p, mdd80)`` of "one distribution" for committed vs rerun seed values, two-sided.

    Two or more values each: Welch's t-test. One rerun value: a t prediction interval around
    the committed seeds. Means equal to `ROUNDING`: p is 1; else with no spread on either
    side, p is 0.
    ``mdd80``: the mean difference this test detects with 80% power at `ALPHA`.
    """
    a, b = np.asarray(old, float), np.asarray(new, float)
    var_a = a.var(ddof=1) if len(a) > 1 else 0.0
    var_b = b.var(ddof=1) if len(b) > 1 else var_a  # one rerun seed: spread as the records'
    se = math.sqrt(var_a / len(a) + var_b / len(b))
    diff = float(b.mean() - a.mean())
    if math.isclose(a.mean(), b.mean(), rel_tol=ROUNDING, abs_tol=1e-12):
        return 1.0, 0.0  # e.g. a real-data score, the same up to another host's rounding
    if se == 0 or len(a) < 2:
        return 0.0, 0.0
    if len(b) > 1:  # Welch-Satterthwaite degrees of freedom
        df = se**4 / ((var_a / len(a)) ** 2 / (len(a) - 1) + (var_b / len(b)) ** 2 / (len(b) - 1))
    else:
        df = len(a) - 1
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    mdd = float((stats.t.ppf(1 - ALPHA / 2, df) + stats.t.ppf(0.8, df)) * se)
    return p, mdd


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error over one family of tests)."""
    order = np.argsort(p_values)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
