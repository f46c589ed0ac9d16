"""Leaderboard: rebuild the tables from the per-run ``metrics.json`` records, never by appending.

- ``scores.csv``: long, one row per (task, model, profile, seed, metric).
- ``leaderboard.csv``: wide, one row per (task, model, profile): mean and std over seeds of each
  metric, the evaluator's own test accuracy beside ``attr_acc``, cost columns, rank by the task's
  primary metric in its direction.
- ``leaderboard.md``: the same for people, one table per task, ``↑``/``↓`` in the headers.

The output is a pure function of the records: rebuilding twice gives identical bytes.
"""

import contextlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from cgbench import records as R
from cgbench.metrics import METRICS
from cgbench.metrics.distribution import DISTRIBUTION
from cgbench.summaries.tables import integer, markdown_table, mean_pm, missing, num, tflop
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


def _mean_std(values: pd.Series) -> tuple[float, float]:
    values = values.dropna()
    if values.empty:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _ci95(std: float, n: int) -> float:
    """Half-width of the 95% confidence interval of a mean over ``n`` seeds (Student's t)."""
    if n < 2 or pd.isna(std):
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))


def sample(runs: list[dict], metric: str) -> dict:
    """What a significance test needs of a group of seeds' runs on one metric.

    ``{"_values": per-seed values, "_mean", "_low", "_high", "ci_over"}``: the 95% interval is
    Student's t over seeds with two or more, else the one run's bootstrap over test items
    (recorded for the ranking metric), else the value itself (``ci_over`` empty).
    """
    values = [r["scores"][metric] for r in runs if not missing(r["scores"].get(metric))]
    mean = float(np.mean(values)) if values else math.nan
    if len(values) >= 2:
        half = _ci95(float(np.std(values, ddof=1)), len(values))
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


def significantly_better(a: dict, b: dict, higher: bool) -> bool:
    """Whether row ``a`` beats row ``b`` on the primary metric at the 5% level.

    Two or more seeds each: Welch's one-sided t-test over the seeds' values. Otherwise the
    rows' 95% intervals (over seeds or over test items) must not overlap.
    """
    va, vb = a["_values"], b["_values"]
    if len(va) >= 2 and len(vb) >= 2:
        if np.std(va) == 0 and np.std(vb) == 0:
            return (np.mean(va) > np.mean(vb)) == higher and np.mean(va) != np.mean(vb)
        test = stats.ttest_ind(va, vb, equal_var=False, alternative="greater" if higher else "less")
        return bool(test.pvalue < 0.05)
    return a["_low"] > b["_high"] if higher else a["_high"] < b["_low"]


def _rank_budget(table: pd.DataFrame, idx, higher: bool) -> None:
    """Floor test and rank groups of one task's rows under one budget, in place.

    A model is ``above floor`` when it beats the best floor reference significantly; only
    those are ranked. Models tie (share the leader's rank) until one is significantly worse
    than the leader of the current group.
    """
    rows = table.loc[idx]
    floors = rows[rows["reference"] == "floor"]
    models = rows[rows["reference"].isna() & ~rows["status"].str.contains("stale")]  # current
    if not floors.empty:
        best = floors.sort_values("_mean", ascending=not higher).iloc[0]
        for i, row in models[models["_mean"].notna()].iterrows():  # unscored rows: no test
            table.at[i, "vs_floor"] = (
                "above floor" if significantly_better(row, best, higher) else "not above floor"
            )
    ranked = models[models["variant_of"].isna() & models["_mean"].notna()]
    if not floors.empty:
        ranked = ranked[table.loc[ranked.index, "vs_floor"] == "above floor"]
    ranked = ranked.sort_values("_mean", ascending=not higher)
    leader, rank = None, 0
    for position, (i, row) in enumerate(ranked.iterrows(), 1):
        if leader is None or significantly_better(leader, row, higher):
            leader, rank = row, position
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
            row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std(scores[metric])
            row[f"{metric}_ci95"] = _ci95(row[f"{metric}_std"], int(scores[metric].notna().sum()))
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
    table["rank"], table["vs_floor"] = pd.NA, ""
    # Ranks compare models under one budget: within a task and a profile (overrides included).
    table["budget"] = table["profile"].str.rstrip("*")
    for (task, _), idx in table.groupby(["task", "budget"]).groups.items():
        primary = TASKS[task].primary if task in TASKS else None
        if primary is None or table.loc[idx, "_mean"].isna().all():
            continue
        _rank_budget(table, idx, direction(records, task, primary))
    table["rank"] = table["rank"].astype("Int64")
    order = {name: i for i, name in enumerate(reversed(R.PROFILES))}  # most thorough first
    table["budget"] = table["budget"].map(lambda b: order.get(b, len(order)))
    table["kind"] = table["reference"].map({"ceiling": 0, "floor": 2}).fillna(1)
    table = table.sort_values(
        ["task", "budget", "kind", "rank", "_mean", "model"],
        ascending=[True, True, True, True, False, True],
        na_position="last",
    )
    table["primary_low"], table["primary_high"] = table["_low"], table["_high"]
    return table.drop(columns=["budget", "kind", "_values", "_mean", "_low", "_high"])


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


TWO_SIDED = {"pairwise_ms_ssim", "pairwise_ms_ssim_real", "pairwise_lpips"}  # no better side


def arrow(records: list[dict], task: str, metric: str) -> str:
    """``↑``/``↓`` for a metric's better direction; ``·`` for diversity, read against real data."""
    if metric in TWO_SIDED:
        return "·"
    return "↑" if direction(records, task, metric) else "↓"


DISTRIBUTION_NOTE = (
    "Distribution metrics: every sample against the scored real test images, on Inception "
    "features (`fid` ...) where the profile turns them on and on the frozen evaluator's last "
    "hidden layer (`*_eval`); values compare only at equal sample counts (shown)."
)

INTRO = """# cgbench leaderboard

Rebuilt from `results/runs/*/*/*/*/metrics.json` by `cgbench leaderboard`; cells are mean ± std
over seeds. Every table holds its task's **reference rows** (`ref_*`, never ranked), scored by
the same code on the same test rows as the models: *floors* (a generator that learnt nothing:
one constant image, real images paired with shuffled conditions, the masked input, the grey
lightness) and the *ceilings* (`ref_real`: real test images with their true conditions;
`ref_train`: training images with the same condition). A model is **ranked only when it beats
the best floor significantly** (Welch's one-sided t-test over seeds at 5% with two or more
seeds each, otherwise non-overlapping 95% intervals over test items); ranks are groups: a model
shares the rank of the group's leader until it is significantly worse. `95% CI` is over seeds
(Student's t) or, for one run, a bootstrap over the scored test items. Ranks compare models
within one profile (full, then standard, then quick). `model[variant]` rows score another
sampling mode of the same runs and are not ranked. † marks a model adapted to the task's
condition kind; a profile ending in `*` ran with `--set` overrides. `·` marks diversity
columns, read against the real data's value (`pairwise_ms_ssim_real`; the ranked form is
`pairwise_ms_ssim_gap`, the distance to it). Status `stale: config|task|code (...)`: the record
no longer matches today's config, task version or code.
"""


def markdown(table: pd.DataFrame, records: list[dict]) -> str:
    """One section per task: main table, then per-group and per-attribute tables when present.

    The main table has ``mean ± std`` cells and ``↑``/``↓`` headers; the group table shows the
    primary metric per evaluation group (e.g. mask size); the attribute tables (one per
    profile) put each model's per-attribute TPR / TNR beside the references' and the frozen
    evaluator's own on real test faces.
    """
    lines = [INTRO]
    for task, group in table.groupby("task", sort=True) if not table.empty else []:
        runs = [r for r in records if r["task"] == task]
        metrics = sorted({m for r in runs for m in r["scores"]})
        primary = TASKS[task].primary if task in TASKS else ""
        main = [m for m in metrics if "@" not in m and m not in DISTRIBUTION]
        lines += [f"## {task}", "", f"Ranked by `{primary}`.", ""]
        header = ["rank", "model", "profile", "seeds", "vs floor"]
        for metric in main:
            header.append(f"{metric} {arrow(records, task, metric)}")
            if metric == primary:
                header.append(f"{metric} 95% CI")
        stages = group["train_stages"].astype(bool).any()
        iters = group["inference_iterations"].notna().any()
        header += [
            "params",
            "train TFLOP",
            "train s",
            *(["stages s"] if stages else []),
            "samples/s",
            *(["inference iters"] if iters else []),
            "status",
        ]
        rows = []
        for _, row in group.iterrows():
            name = row["model"] + (" †" if row["adapted"] else "")
            if isinstance(row["reference"], str):
                name = f"*{row['model']} ({row['reference']})*"
            cells = [
                integer(row["rank"]),
                name,
                row["profile"],
                str(row["n_seeds"]),
                row["vs_floor"],
            ]
            for metric in main:
                mean, std = row.get(f"{metric}_mean"), row.get(f"{metric}_std")
                cells.append(mean_pm(mean, std))
                if metric == primary:
                    cells.append(_ci_cell(row))
            cells += [
                integer(row["n_params"]),
                tflop(row["train_tflop"]),
                integer(row["train_seconds"]),
                *([row["train_stages"]] if stages else []),
                integer(row["samples_per_second"]),
                *([integer(row["inference_iterations"])] if iters else []),
                row["status"],
            ]
            rows.append(cells)
        lines += [*markdown_table(header, rows), ""]
        by_group = [m for m in metrics if m.split("@")[0] == primary and "@" in m]
        if by_group:
            lines += [f"`{primary}` per evaluation group:", ""]
            rows = [
                [
                    r["model"],
                    r["profile"],
                    *(mean_pm(r.get(f"{m}_mean"), r.get(f"{m}_std")) for m in by_group),
                ]
                for _, r in group.iterrows()
            ]
            lines += [*markdown_table(["model", "profile", *by_group], rows), ""]
        lines += _distribution(group, records, task, [m for m in metrics if m in DISTRIBUTION])
        lines += _per_attribute(runs)
    return "\n".join(lines)


def _distribution(group: pd.DataFrame, records: list[dict], task: str, metrics: list[str]):
    """The distribution metrics' table: samples against the scored real test images.

    Rows without any of them (records older than the metrics) are left out.
    """
    if not metrics:
        return []
    sizes = {}
    for r in records:
        settings = r.get("metric_settings", {})
        for m in metrics:
            if r["task"] == task and m in settings:
                sizes[(r["model"], r["profile"])] = settings[m]["n_samples"], settings[m]["n_real"]
    header = [
        "model",
        "profile",
        "seeds",
        "samples / real",
        *(f"{m} {arrow(records, task, m)}" for m in metrics),
    ]
    rows = []
    for _, row in group.iterrows():
        if all(missing(row.get(f"{m}_mean")) for m in metrics):
            continue  # older records without them: the main table lists those
        name = f"*{row['model']}*" if isinstance(row["reference"], str) else row["model"]
        n = sizes.get((row["model"], row["profile"]))
        rows.append(
            [
                name,
                row["profile"],
                str(row["n_seeds"]),
                f"{n[0]} / {n[1]}" if n else "",
                *(mean_pm(row.get(f"{m}_mean"), row.get(f"{m}_std")) for m in metrics),
            ]
        )
    return [DISTRIBUTION_NOTE, "", *markdown_table(header, rows), ""]


def _ci_cell(row) -> str:
    low, high, over = row.get("primary_low"), row.get("primary_high"), row.get("ci_over")
    if not over or missing(low):
        return ""
    return f"[{low:.4f}, {high:.4f}]" + (" items" if over == "items" else "")


def _per_attribute(runs: list[dict]) -> list[str]:
    """Per profile: each row's per-attribute TPR / TNR (label tasks: per-class ``attr_acc``).

    Means over seeds; the last row is the frozen evaluator's own on all real test images.
    """
    rates = [r for r in runs if r.get("details", {}).get("attr_tpr")]
    if not rates:
        per_class = [r for r in runs if r.get("details", {}).get("attr_acc")]
        return _per_column(
            per_class,
            lambda d: num(d.get("attr_acc")),
            "`attr_acc` per class (share of samples of the class read as it)",
            "test_acc",
        )
    return _per_column(
        rates,
        lambda d: _pair(d.get("attr_tpr"), d.get("attr_tnr")),
        "TPR / TNR per attribute (requested-on seen / requested-off absent)",
        "attr_tpr",
        "attr_tnr",
    )


def _pair(a, b) -> str:
    return "" if missing(a) or missing(b) else f"{a:.2f} / {b:.2f}"


def _per_column(runs: list[dict], cell, title: str, *evaluator_keys: str) -> list[str]:
    """One table per profile: a row per model or reference, a column per attribute or class."""
    if not runs:
        return []
    keys = [{"test_acc": "attr_acc"}.get(k, k) for k in evaluator_keys]
    columns = list(runs[0]["details"][keys[0]])
    lines = []
    for profile in sorted({r["profile"] for r in runs}, key=lambda p: (_profile_order(p), p)):
        rows = []
        for model in sorted({r["model"] for r in runs if r["profile"] == profile}):
            group = [r for r in runs if r["profile"] == profile and r["model"] == model]
            means = {
                metric: pd.DataFrame([r["details"][metric] for r in group]).mean()
                for metric in keys
                if metric in group[0]["details"]
            }
            rows.append([model, *(cell({m: v.get(c) for m, v in means.items()}) for c in columns)])
        evaluator = next(
            (
                r["evaluator"]
                for r in runs  # the one this profile scored with
                if r["profile"] == profile and r.get("evaluator")
            ),
            None,
        )
        if evaluator and all(
            k == "test_acc" or f"{k}_per_column" in evaluator for k in evaluator_keys
        ):
            own = {
                k: evaluator["per_column"] if k == "test_acc" else evaluator[f"{k}_per_column"]
                for k in evaluator_keys
            }
            rename = {"test_acc": "attr_acc"}
            rows.append(
                [
                    "evaluator on real test images",
                    *(cell({rename.get(k, k): v.get(c) for k, v in own.items()}) for c in columns),
                ]
            )
        lines += [f"{title}, {profile}:", "", *markdown_table(["model", *columns], rows), ""]
    return lines


def _profile_order(profile: str) -> int:
    order = {name: i for i, name in enumerate(reversed(R.PROFILES))}
    return order.get(profile.rstrip("*"), len(order))


TABLES = ("scores.csv", "leaderboard.csv", "leaderboard.md")


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
    records = R.collect(results_dir) if records is None else records
    records = [r for r in records if include_synthetic or not _synthetic(r["task"])]
    table = leaderboard_table(records)
    texts = {
        "scores.csv": scores_table(records).to_csv(index=False, float_format="%.6g"),
        "leaderboard.csv": table.to_csv(index=False, float_format="%.6g"),
        "leaderboard.md": markdown(table, records),
    }
    return table, texts


@contextlib.contextmanager
def rebuild_lock(results_dir: Path):
    """Hold an exclusive lock on ``results_dir`` for one table rebuild.

    Two matrices sharing ``results/`` must not replace each other's table with one built
    before the other's record landed, so records are read and tables written under it.
    """
    with R.file_lock(Path(results_dir) / ".leaderboard.lock"):
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
            return write(results_dir, include_synthetic, R.collect(results_dir))
    table, texts = render(results_dir, include_synthetic, records)
    for name, text in texts.items():
        R.atomic_write(Path(results_dir) / name, text)
    return table


def drift(results_dir: Path = Path("results"), records: list[dict] | None = None) -> list[str]:
    """The committed tables that differ from a rebuild from the records (empty: no drift)."""
    _, texts = render(results_dir, records=records)
    paths = {name: Path(results_dir) / name for name in texts}
    return [n for n, t in texts.items() if not paths[n].exists() or paths[n].read_text() != t]


def _synthetic(task: str) -> bool:
    return task in TASKS and TASKS[task].synthetic
