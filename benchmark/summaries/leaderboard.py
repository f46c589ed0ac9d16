"""Leaderboard: rebuild the tables from the per-run ``metrics.json`` records, never by appending.

- ``scores.csv``: long, one row per (task, model, profile, seed, metric).
- ``leaderboard.csv``: wide, one row per (task, model, profile): mean and std over seeds of each
  metric, the evaluator's own test accuracy beside ``attr_acc``, cost columns, rank by the task's
  primary metric in its direction.
- ``leaderboard.md``: the same for people, one table per task, ``↑``/``↓`` in the headers.
- ``milestones.csv`` / ``milestones.md``: the ranking metric, rank group and floor verdict of
  every model at every FLOP milestone of a campaign profile (`cgbench.summaries.budgets`).
- ``best_of_k.md``: each model's expected best validation score with k of its tuning trials
  (`cgbench.summaries.best_of_k`, from ``results/tuning/*.csv``).

The output is a pure function of the records (and the tuning tables): rebuilding twice gives
identical bytes.
"""

import contextlib
import math
from pathlib import Path

import pandas as pd

from cgbench.records import PROFILES, atomic_write, collect, file_lock
from cgbench.summaries import best_of_k, budgets, sanity
from cgbench.summaries.markdown import markdown
from cgbench.summaries.ranking import (
    ALPHA,
    ci95,
    direction,
    holm,
    mean_std,
    p_better,
    power_at_1sd,
    sample,
)
from cgbench.tasks import TASKS

SCORE_COLUMNS = [
    "task",
    "task_version",
    "model",
    "profile",
    "seed",
    "metric",
    "value",
    "higher_is_better",
    "git_sha",
    "config_sha",
]


def _off_budget(group: pd.DataFrame) -> list[str]:
    """``["TFLOP 0.61x budget 2/3"]`` when runs spent more than 5% off their task's budget."""
    if "budget_tflop" not in group or "train_tflop" not in group:
        return []
    ratio = (group["train_tflop"] / group["budget_tflop"]).dropna()
    off = ratio[(ratio - 1).abs() > 0.05]
    return [f"TFLOP {off.mean():.2f}x budget {len(off)}/{len(group)}"] if len(off) else []


UNMETERED_SHARE = 0.2  # the suite's models: 2-6% (elementwise ops); above it, work goes unseen


def _unmetered(group: pd.DataFrame) -> list[str]:
    """``["unmetered ops 0.35 of counted FLOPs 3/3"]`` where ops with no FLOP formula matter.

    Their share: the tensor elements they touched over the FLOPs counted
    (`cgbench.cells.callbacks.FlopCount`), in the batches the meter measured.
    """
    if "flops_uncounted_share" not in group:
        return []
    share = group["flops_uncounted_share"].dropna()
    off = share[share > UNMETERED_SHARE]
    return (
        [f"unmetered ops {off.mean():.2f} of counted FLOPs {len(off)}/{len(group)}"]
        if len(off)
        else []
    )


def _stages(group: pd.DataFrame) -> str:
    """Mean seconds of each training stage over seeds, e.g. ``vae 420 (cached) + latent 130``."""
    runs = [r for r in group.to_dict("records") if isinstance(r.get("stage_seconds"), dict)]
    if not runs:
        return ""
    parts = []
    for stage in sorted(runs[0]["stage_seconds"]):  # keys "stage<k>_<name>"
        seconds = sum(r["stage_seconds"][stage] for r in runs) / len(runs)
        cached = stage.startswith("stage1") and any(r.get("vae_from_cache") for r in runs)
        parts.append(f"{stage.split('_', 1)[1]} {seconds:.0f}" + (" (cached)" if cached else ""))
    return " + ".join(parts)


def scores_table(records: list[dict]) -> pd.DataFrame:
    """Long table: one row per (run, metric)."""
    rows = [
        {
            **{k: r[k] for k in SCORE_COLUMNS if k in r},
            "metric": metric,
            "value": value,
            "higher_is_better": r["higher_is_better"][metric],
        }
        for r in records
        for metric, value in sorted(r["scores"].items())
    ]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def real_values(rows: pd.DataFrame) -> dict[str, float]:
    """The real-data row's (``ref_real``) means the `gate` reads; NaN where absent."""
    real = rows[rows["model"] == "ref_real"]
    return {
        metric: float(real[f"{metric}_mean"].iloc[0])
        if len(real) and f"{metric}_mean" in real
        else math.nan
        for metric in ("pairwise_ms_ssim", "copy_rate")
    }


def gate(real: dict[str, float], row) -> str:
    """Why a row of a label or attribute task may not be ranked, or ``""``.

    A blurry prototype or a copy of the training set can win condition accuracy alone, so the
    ranking asks two more things, each read against the real-data row (`real_values`):
    ``prototype``: its samples of one condition are closer to a single image than to real data's
    diversity (`pairwise_ms_ssim` above the midpoint between ``ref_real``'s and 1);
    ``copies``: its `copy_rate` is more than `COPY_MARGIN` above ``ref_real``'s.
    Comparisons with a missing value (NaN) are false: no gate without the numbers.
    """
    div, copy = row.get("pairwise_ms_ssim_mean", math.nan), row.get("copy_rate_mean", math.nan)
    if div > (real["pairwise_ms_ssim"] + 1) / 2:
        return "prototype"
    if copy > real["copy_rate"] + COPY_MARGIN:
        return "copies"
    return ""


COPY_MARGIN = 0.1  # over real test images' copy_rate (CelebA 0.42, MNIST 0.39); a copy: 1.00


def _floor_verdict(p_above: float, p_below: float) -> str:
    if p_above < ALPHA:
        return "above floor"
    return "below floor" if p_below < ALPHA else "not distinguishable from floor"


def _rank_budget(table: pd.DataFrame, idx, higher: bool, gated: bool, metric: str) -> None:
    """Floor test, gates and rank groups of one task's rows under one budget, in place.

    A model is ``above floor`` when it beats the best floor reference significantly, Holm's
    correction over the table's models; only those are ranked (on label and attribute tasks
    also only those the `gate` lets through). Rank groups: models share the leader's rank until
    one is significantly worse than it, Holm's correction over every pair of ranked models.
    Every test is `ranking.p_better` on ``metric``: over seeds, and over the test rows too
    where the runs kept their per-row values.
    """
    rows = table.loc[idx]
    floors = rows[rows["reference"] == "floor"]
    models = rows[rows["reference"].isna() & ~rows["status"].str.contains("stale")]  # current
    models = models[models["_mean"].notna()]  # unscored rows: no test
    eligible = list(models.index)
    if not floors.empty:
        best = floors.sort_values("_mean", ascending=not higher).iloc[0]
        tests = [p_better(models.loc[i], best, higher, metric) for i in models.index]
        for i, p_above in zip(models.index, holm(tests), strict=True):
            row = models.loc[i]
            table.at[i, "vs_floor"] = _floor_verdict(p_above, p_better(best, row, higher, metric))
            table.at[i, "floor_power"] = power_at_1sd(len(row["_values"]), 1)
        eligible = [i for i in eligible if table.at[i, "vs_floor"] == "above floor"]
    if gated:
        real = real_values(rows)
        for i in models.index:
            table.at[i, "gate"] = gate(real, models.loc[i])
        eligible = [i for i in eligible if not table.at[i, "gate"]]
    ranked = models.loc[eligible]
    ranked = ranked[ranked["variant_of"].isna()].sort_values("_mean", ascending=not higher)
    pairs = [(a, b) for n, a in enumerate(ranked.index) for b in ranked.index[n + 1 :]]
    adjusted = holm([p_better(ranked.loc[a], ranked.loc[b], higher, metric) for a, b in pairs])
    worse = {pair for pair, p in zip(pairs, adjusted, strict=True) if p < ALPHA}
    leader, rank = None, 0
    for position, i in enumerate(ranked.index, 1):
        if leader is None or (leader, i) in worse:
            leader, rank = i, position
        table.at[i, "rank"] = rank


def leaderboard_table(records: list[dict]) -> pd.DataFrame:
    """Wide table: mean/std over seeds per metric, references, floor test, rank groups, costs."""
    if not records:
        return pd.DataFrame()
    runs = pd.DataFrame(records)
    rows = []
    for (task, model, profile), group in runs.groupby(["task", "model", "profile"], sort=True):
        row = {"task": task, "model": model, "profile": profile, "n_seeds": len(group)}
        diverged = [r for r in group.to_dict("records") if r.get("status") == "diverged"]
        stale = [r["stale"] for r in group.to_dict("records") if r.get("stale")]
        status = [
            f"{name} {len(rs)}/{len(group)}"
            for name, rs in (
                ("diverged", diverged),
                (f"stale: {', '.join(sorted(set(map(str, stale))))}", stale),
            )
            if rs
        ]
        status += _off_budget(group) + _unmetered(group)
        row["status"] = ", ".join(status) or "ok"
        row["adapted"] = "adapted" in group and bool(group["adapted"].fillna(False).any())
        row["reference"] = group["reference"].iloc[0] if "reference" in group else None
        row["reference"] = row["reference"] if isinstance(row["reference"], str) else None
        scores = pd.DataFrame(list(group["scores"]))
        for metric in sorted(scores.columns):
            row[f"{metric}_mean"], row[f"{metric}_std"] = mean_std(scores[metric])
            row[f"{metric}_ci95"] = ci95(row[f"{metric}_std"], int(scores[metric].notna().sum()))
        primary = TASKS[task].primary if task in TASKS else None
        row |= sample(group.to_dict("records"), primary)
        costs = (
            "n_params",
            "train_tflop",
            "train_seconds",
            "samples_per_second",
            "inference_iterations",
        )
        for cost in costs:
            row[cost] = float(group[cost].mean()) if cost in group else math.nan
        row["train_stages"] = _stages(group)
        row["variant_of"] = group["variant_of"].iloc[0] if "variant_of" in group else None
        rows.append(row)
    table = pd.DataFrame(rows)
    table["rank"], table["vs_floor"], table["gate"] = pd.NA, "", ""
    table["floor_power"] = math.nan  # of the floor test, at a one-SD difference
    # Ranks compare models under one budget: within a task and a profile (overrides included).
    table["budget"] = table["profile"].str.rstrip("*")
    for (task, _), idx in table.groupby(["task", "budget"]).groups.items():
        primary = TASKS[task].primary if task in TASKS else None
        if primary is None or table.loc[idx, "_mean"].isna().all():
            continue
        gated = task in TASKS and TASKS[task].cond_kind in ("label", "attributes")
        _rank_budget(table, idx, direction(records, task, primary), gated, primary)
    table["rank"] = table["rank"].astype("Int64")
    order = {name: i for i, name in enumerate(reversed(PROFILES))}  # most thorough first
    table["budget"] = table["budget"].map(lambda b: order.get(b, len(order)))
    table["kind"] = table["reference"].map({"ceiling": 0, "copy": 2, "floor": 3}).fillna(1)
    table = table.sort_values(
        ["task", "budget", "kind", "rank", "_mean", "model"],
        ascending=[True, True, True, True, False, True],
        na_position="last",
    )
    table["primary_low"], table["primary_high"] = table["_low"], table["_high"]
    return table.drop(columns=["budget", "kind", "_values", "_mean", "_low", "_high", "_items"])


TABLES = (
    "scores.csv",
    "leaderboard.csv",
    "leaderboard.md",
    "milestones.csv",
    "milestones.md",
    "best_of_k.md",
)


def render(
    results_dir: Path, include_synthetic: bool = False, records: list[dict] | None = None
) -> tuple[pd.DataFrame, dict]:
    """The leaderboard table and the text of each file in ``TABLES``.

    Args:
        results_dir: The results folder (records are read from it when ``records`` is None).
        include_synthetic: Keep the test-only synthetic tasks.
        records: Records from `cgbench.records.collect`, annotated with ``stale`` and
            ``adapted`` by the runner side (`cgbench.config.load_records`); a pure function of
            them.
    """
    records = collect(results_dir) if records is None else records
    records = [r for r in records if include_synthetic or not _synthetic(r["task"])]
    table = leaderboard_table(records)
    texts = {
        "scores.csv": scores_table(records).to_csv(index=False, float_format="%.6g"),
        "leaderboard.csv": table.to_csv(index=False, float_format="%.6g"),
        "leaderboard.md": markdown(table, records, sanity.dropped(results_dir)),
    }
    steps = budgets.milestone_rows(
        leaderboard_table(budgets.at_milestones(records)),
        lambda t: TASKS[t].primary,
        lambda t: direction(records, t, TASKS[t].primary),
    )
    texts["milestones.csv"] = steps.to_csv(index=False, float_format="%.6g")
    texts["milestones.md"] = budgets.markdown(steps)
    texts["best_of_k.md"] = best_of_k.markdown(results_dir)
    return table, texts


@contextlib.contextmanager
def rebuild_lock(results_dir: Path):
    """Hold an exclusive lock on ``results_dir`` for one table rebuild.

    Two matrices sharing ``results/`` must not replace each other's table with one built
    before the other's record landed, so records are read and tables written under it.
    """
    with file_lock(Path(results_dir) / ".leaderboard.lock"):
        yield


def write(
    results_dir: Path = Path("results"),
    include_synthetic: bool = False,
    records: list[dict] | None = None,
) -> pd.DataFrame:
    """Rebuild ``scores.csv``, ``leaderboard.csv`` and ``leaderboard.md`` under ``results_dir``.

    Synthetic (test-only) tasks are left out unless ``include_synthetic`` is set. Without
    ``records`` they are read and the tables written under the rebuild lock; a caller passing
    ``records`` holds that lock itself (`cgbench.__main__.rebuild`).
    """
    if records is None:
        with rebuild_lock(results_dir):
            return write(results_dir, include_synthetic, collect(results_dir))
    table, texts = render(results_dir, include_synthetic, records)
    for name, text in texts.items():
        atomic_write(Path(results_dir) / name, text)
    return table


def drift(results_dir: Path = Path("results"), records: list[dict] | None = None) -> list[str]:
    """The committed tables that differ from a rebuild from the records (empty: no drift)."""
    _, texts = render(results_dir, records=records)
    paths = {name: Path(results_dir) / name for name in texts}
    return [n for n, t in texts.items() if not paths[n].exists() or paths[n].read_text() != t]


def _synthetic(task: str) -> bool:
    return task in TASKS and TASKS[task].synthetic
