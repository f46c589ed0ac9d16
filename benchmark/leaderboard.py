"""Leaderboard: rebuild the tables from the per-run ``metrics.json`` records, never by appending.

- ``scores.csv``: long, one row per (task, model, profile, seed, metric).
- ``leaderboard.csv``: wide, one row per (task, model, profile): mean and std over seeds of each
  metric, the evaluator's own test accuracy beside ``attr_acc``, cost columns, rank by the task's
  primary metric in its direction.
- ``leaderboard.md``: the same for people, one table per task, ``↑``/``↓`` in the headers.

The output is a pure function of the records: rebuilding twice gives identical bytes.
"""

import contextlib
import fcntl
import math
from pathlib import Path

import pandas as pd
from scipy import stats

from cgbench import records as R
from cgbench.tables import integer, interval, markdown_table, mean_pm, num
from cgbench.tasks import TASKS

SCORE_COLUMNS = [
    "task", "task_version", "model", "profile", "seed", "metric", "value",
    "higher_is_better", "git_sha", "config_sha",
]  # fmt: skip


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
        {**{k: r[k] for k in SCORE_COLUMNS if k in r}, "metric": metric, "value": value,
         "higher_is_better": r["higher_is_better"][metric]}
        for r in records
        for metric, value in sorted(r["scores"].items())
    ]  # fmt: skip
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


def leaderboard_table(records: list[dict]) -> pd.DataFrame:
    """Wide table: mean/std over seeds per metric, cost columns and rank within each task."""
    if not records:
        return pd.DataFrame()
    runs = pd.DataFrame(records)
    rows = []
    for (task, model, profile), group in runs.groupby(["task", "model", "profile"], sort=True):
        row = {"task": task, "model": model, "profile": profile, "n_seeds": len(group)}
        diverged = [r for r in group.to_dict("records") if r.get("status") == "diverged"]
        stale = [r for r in group.to_dict("records") if r.get("stale")]
        status = [f"{name} {len(rs)}/{len(group)}" for name, rs in
                  (("diverged", diverged), ("stale", stale)) if rs]  # fmt: skip
        row["status"] = ", ".join(status) or "ok"
        row["adapted"] = "adapted" in group and bool(group["adapted"].fillna(False).any())
        scores = pd.DataFrame(list(group["scores"]))
        for metric in sorted(scores.columns):
            row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std(scores[metric])
            row[f"{metric}_ci95"] = _ci95(row[f"{metric}_std"], int(scores[metric].notna().sum()))
            if metric == "attr_acc":
                evaluators = [e["test_acc"] for e in group["evaluator"] if e]
                row["evaluator_acc"] = evaluators[0] if evaluators else math.nan
        for cost in ("n_params", "train_seconds", "samples_per_second", "inference_iterations"):
            row[cost] = float(group[cost].mean()) if cost in group else math.nan
        row["train_stages"] = _stages(group)
        row["variant_of"] = group["variant_of"].iloc[0] if "variant_of" in group else None
        rows.append(row)
    table = pd.DataFrame(rows)
    table["rank"] = pd.NA
    # Ranks compare models under one budget: within a task and a profile (overrides included).
    table["budget"] = table["profile"].str.rstrip("*")
    ranked = table[table["variant_of"].isna()]
    for (task, _), idx in ranked.groupby(["task", "budget"]).groups.items():
        primary = TASKS[task].primary if task in TASKS else None
        column = f"{primary}_mean"
        if primary is None or column not in table:
            continue
        if table.loc[idx, column].isna().all():
            continue
        higher = direction(records, task, primary)
        table.loc[idx, "rank"] = table.loc[idx, column].rank(ascending=not higher, method="min")
    table["rank"] = table["rank"].astype("Int64")
    order = {name: i for i, name in enumerate(reversed(R.PROFILES))}  # most thorough first
    table["budget"] = table["budget"].map(lambda b: order.get(b, len(order)))
    table = table.sort_values(["task", "budget", "rank", "model", "profile"], na_position="last")
    return table.drop(columns="budget")


def direction(records: list[dict], task: str, metric: str) -> bool:
    """Whether higher ``metric`` is better on ``task``, as the records say."""
    return next(
        r["higher_is_better"][metric]
        for r in records
        if r["task"] == task and metric in r["higher_is_better"]
    )


def markdown(table: pd.DataFrame, records: list[dict]) -> str:
    """One section per task: main table, then per-group and per-attribute tables when present.

    The main table has ``mean ± std`` cells and ``↑``/``↓`` headers; the group table shows the
    primary metric per evaluation group (e.g. mask size); the attribute table puts the
    per-attribute ``attr_acc`` beside the evaluator's held-out accuracy (its ceiling).
    """
    lines = ["# cgbench leaderboard", "", "Rebuilt from `results/runs/*/*/*/*/metrics.json` by",
             "`cgbench leaderboard`; mean ± std over seeds and the 95% confidence",
             "interval (Student's t) of the ranking metric. Ranks compare models within one",
             "profile (full, then standard, then quick). A row `model[variant]` scores another",
             "sampling mode of the same runs (`lc[prior]`: LC's VAE sampled without its actor)",
             "and is not ranked. † marks a model adapted to the task's condition kind; a",
             "profile ending in `*` ran with `--set` overrides, listed in its record. Status",
             "`stale k/n`: today's YAML or code defaults resolve another config for k of the n",
             "runs, which `make benchmark` would rerun.",
             ""]  # fmt: skip
    for task, group in table.groupby("task", sort=True) if not table.empty else []:
        runs = [r for r in records if r["task"] == task]
        metrics = sorted({m for r in runs for m in r["scores"]})
        primary = TASKS[task].primary if task in TASKS else ""
        main = [m for m in metrics if "@" not in m]
        lines += [f"## {task}", "", f"Ranked by `{primary}`.", ""]
        header = ["rank", "model", "profile", "seeds"]
        for metric in main:
            header.append(f"{metric} {'↑' if direction(records, task, metric) else '↓'}")
            if metric == primary:
                header.append(f"{metric} 95% CI")
            if metric == "attr_acc":
                header.append("evaluator acc (ceiling)")
        stages = group["train_stages"].astype(bool).any()
        iters = group["inference_iterations"].notna().any()
        header += ["params", "train s", *(["stages s"] if stages else []), "samples/s",
                   *(["inference iters"] if iters else []), "status"]  # fmt: skip
        rows = []
        for _, row in group.iterrows():
            name = row["model"] + (" †" if row["adapted"] else "")
            cells = [integer(row["rank"]), name, row["profile"], str(row["n_seeds"])]
            for metric in main:
                mean, std = row.get(f"{metric}_mean"), row.get(f"{metric}_std")
                cells.append(mean_pm(mean, std))
                if metric == primary:
                    cells.append(interval(mean, row.get(f"{metric}_ci95")))
                if metric == "attr_acc":
                    cells.append(num(row.get("evaluator_acc")))
            cells += [integer(row["n_params"]), integer(row["train_seconds"]),
                      *([row["train_stages"]] if stages else []),
                      integer(row["samples_per_second"]),
                      *([integer(row["inference_iterations"])] if iters else []),
                      row["status"]]  # fmt: skip
            rows.append(cells)
        lines += [*markdown_table(header, rows), ""]
        by_group = [m for m in metrics if m.split("@")[0] == primary and "@" in m]
        if by_group:
            lines += [f"`{primary}` per evaluation group:", ""]
            rows = [[r["model"], r["profile"], *(mean_pm(r.get(f"{m}_mean"), r.get(f"{m}_std"))
                                                  for m in by_group)]
                    for _, r in group.iterrows()]  # fmt: skip
            lines += [*markdown_table(["model", "profile", *by_group], rows), ""]
        lines += _per_attribute(runs, "attr_acc", "`attr_acc` per attribute or class:")
        recall = "`attr_recall` per attribute (share of requested-on samples seen):"
        lines += _per_attribute(runs, "attr_recall", recall)
    return "\n".join(lines)


def _per_attribute(runs: list[dict], metric: str, title: str) -> list[str]:
    """Per-attribute ``metric`` (mean over seeds) with the evaluator's held-out accuracy."""
    per_run = [(r["model"], r.get("details", {}).get(metric)) for r in runs]
    per_run = [(model, d) for model, d in per_run if d]
    if not per_run:
        return []
    columns = list(per_run[0][1])
    rows = []
    for model in sorted({m for m, _ in per_run}):
        details = pd.DataFrame([d for m, d in per_run if m == model])
        rows.append([model, *(num(details[c].mean()) for c in columns)])
    ceiling = next((r["evaluator"].get("per_column") for r in runs if r.get("evaluator")), None)
    if ceiling:
        rows.append(["evaluator (ceiling)", *(num(ceiling.get(c)) for c in columns)])
    return [title, "", *markdown_table(["model", *columns], rows), ""]


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
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    with open(results_dir / ".leaderboard.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


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
