"""Static HTML report: per task, the leaderboard table, bar charts with error bars, sample grids.

``cgbench report`` (``make report``) writes ``results/report.html`` and its PNGs
under ``results/report/`` from the committed run records only; open the HTML file in any
browser, no server needed. Sample grids are the runs' own ``samples*.png`` (the most thorough
profile's lowest seed), shown side by side: every model drew them for the same conditions.
"""

import html
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from cgbench.errors import ConfigError  # noqa: E402
from cgbench.records import (  # noqa: E402
    PROFILES,
    atomic_write,
    read_run,
)
from cgbench.summaries import leaderboard
from cgbench.tasks import TASKS  # noqa: E402

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3}.grids{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0}figcaption{font-weight:bold;text-align:center}img.grid{width:320px}
img.chart{max-width:100%}"""


REFERENCE_COLORS = {"floor": "#999999", "ceiling": "#c44e52", "copy": "#dd8452"}


def _save(fig, path: Path) -> Path:
    """Lay out, write (`atomic_write`, as every file of the suite) and close a figure."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=80, format="png")
    plt.close(fig)
    atomic_write(path, buffer.getvalue())
    return path


def bar_charts(task: str, rows: pd.DataFrame, metrics: list[str], out: Path) -> Path:
    """One bar chart per metric (mean over seeds, error bar = std), models on the x axis."""
    n = len(metrics)
    cols = min(4, n)
    fig, axes = plt.subplots(math.ceil(n / cols), cols, figsize=(4 * cols, 3 * math.ceil(n / cols)))
    axes = [axes] if n == 1 else list(getattr(axes, "flat", axes))
    for ax, metric in zip(axes, metrics, strict=False):
        means, stds = rows[f"{metric}_mean"], rows[f"{metric}_std"].fillna(0)
        labels = rows["model"] + "\n" + rows["profile"]
        # floors grey, the real-data ceiling red, the training-set copy orange, models blue
        colors = rows["reference"].map(REFERENCE_COLORS).fillna("#4c72b0")
        ax.bar(labels, means, yerr=stds, capsize=4, color=list(colors))
        ax.set_title(metric)
        ax.tick_params(axis="x", labelsize=8)
    for ax in axes[n:]:
        ax.axis("off")
    fig.suptitle(f"{task}: mean ± std over seeds")
    return _save(fig, out / f"{task}_metrics.png")


REFERENCE_LINES = {"floor": ":", "ceiling": "-", "copy": "-."}  # linestyle per kind


def budget_chart(task: str, steps: pd.DataFrame, out: Path) -> Path | None:
    """The ranking metric against training TFLOP (log) and seconds, per campaign profile.

    ``steps``: the ``milestones.csv`` rows of one task. A line per model (mean over seeds,
    band: ±1 SD of the seeds, a marker at each milestone); every reference a horizontal line
    (floors grey dotted, the real-data ceiling red, the training-set copy orange), named in
    the legend with its value so labels never overlap the curves.
    """
    steps = steps[~steps["model"].str.contains("[", regex=False)]  # variants: the tables
    if steps.empty or steps["reference"].eq("").sum() == 0:
        return None
    profiles = sorted(steps["profile"].unique())
    fig, axes = plt.subplots(len(profiles), 2, figsize=(13, 4.2 * len(profiles)), squeeze=False)
    for (ax_flop, ax_sec), profile in zip(axes, profiles, strict=True):
        rows = steps[steps["profile"] == profile]
        metric = rows["metric"].iloc[0]
        models = rows[rows["reference"] == ""]
        for i, (model, g) in enumerate(models.groupby("model", sort=True)):
            g = g.sort_values("tflop")
            colour = plt.cm.tab10.colors[i % 10]
            low, high = g["mean"] - g["std"].fillna(0), g["mean"] + g["std"].fillna(0)
            seeds = int(g["n_seeds"].min())
            for ax, x in ((ax_flop, g["tflop"]), (ax_sec, g["train_seconds"])):
                ax.plot(x, g["mean"], marker="o", color=colour, label=f"{model} ({seeds} seeds)")
                ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
        references = rows[rows["reference"] != ""].drop_duplicates("model")
        for _, ref in references.sort_values("mean").iterrows():
            for ax in (ax_flop, ax_sec):
                ax.axhline(
                    ref["mean"],
                    color=REFERENCE_COLORS.get(ref["reference"], "#999999"),
                    linestyle=REFERENCE_LINES.get(ref["reference"], ":"),
                    linewidth=1.2,
                    label=f"{ref['model']} ({ref['reference']}) {ref['mean']:.3f}",
                )
        budgets = sorted(models["tflop"].unique())
        for ax, xlabel in ((ax_flop, "training TFLOP (log)"), (ax_sec, "training seconds (log)")):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no 3x10^0 clutter
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.set_xlabel(xlabel)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        ax_flop.set_xticks(budgets)  # the milestones themselves
        ax_flop.set_title(f"{task} ({profile}): {metric} against compute", fontsize=10)
        ax_sec.set_title("the same runs against this host's training seconds", fontsize=10)
        ax_sec.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return _save(fig, out / f"{task}_budget.png")


def _first(results_dir: Path, task: str, model: str, name: str) -> Path | None:
    """``name`` from the most thorough profile's lowest seed that has it (full first)."""
    for profile in reversed(PROFILES):
        found = sorted((results_dir / "runs" / task / model / profile).glob(f"seed*/{name}"))
        if found:
            return found[0]
    return None


def curve_charts(results_dir: Path, task: str, models: list[str], out: Path) -> Path | None:
    """Training losses per epoch, one panel per model (seed 0's ``curves.csv``)."""
    curves = {}
    for model in models:
        found = _first(results_dir, task, model, "curves.csv")
        if found:
            curves[model] = pd.read_csv(found, index_col="epoch")
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3), squeeze=False)
    for ax, (model, frame) in zip(axes[0], curves.items(), strict=True):
        for column in frame:
            ax.plot(frame.index, frame[column], label=column.removeprefix("train/"))
        ax.set_title(model)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    return _save(fig, out / f"{task}_curves.png")


def convergence_chart(results_dir: Path, task: str, models: list[str], out: Path) -> Path | None:
    """``val/sample_l1`` against batches trained, every model on one axis (``val_curves.csv``)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    drawn = 0
    for model in models:
        path = _first(results_dir, task, model, "val_curves.csv")
        if path:
            frame = pd.read_csv(path)
            label = f"{model} ({path.parent.parent.name}, {path.parent.name})"
            ax.plot(frame["batches"], frame["val/sample_l1"], marker=".", label=label)
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("training batches")
    ax.set_ylabel("validation L1 of one sample")
    ax.set_title(f"{task}: convergence")
    ax.legend(fontsize=7)
    return _save(fig, out / f"{task}_convergence.png")


def quality_chart(results_dir: Path, task: str, out: Path) -> Path | None:
    """The primary metric against training seconds and FLOPs (`cgbench.studies.time_to_quality`)."""
    found = results_dir / "time_to_quality" / f"{task}.csv"
    if not found.exists():
        return None
    table = pd.read_csv(found, keep_default_na=False)
    table["label"] = table.get("label", "")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = dict(zip(table["model"].unique(), plt.cm.tab10.colors, strict=False))
    for i, ((model, label), rows) in enumerate(table.groupby(["model", "label"], sort=False)):
        name = f"{model} [{label}]" if label else model  # a --set variant of the profile
        style = {
            "marker": "os^vD"[i % 5],
            "label": name,
            "color": colours[model],
            "linestyle": "--" if label else "-",
        }
        axes[0].plot(rows["train_seconds"], rows["value"], **style)
        axes[1].plot(rows["train_flops"] / 1e12, rows["value"], **style)
    for ax, xlabel in zip(axes, ("training seconds", "training TFLOPs"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(table["metric"].iloc[0])
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"{task}: time to quality ({table['device'].iloc[0]}; dashed: --set variants)")
    fig.tight_layout()
    return _save(fig, out / f"{task}_time_to_quality.png")


def tuning_chart(results_dir: Path, task: str, out: Path) -> Path | None:
    """Every tuning trial's validation score per model (`workflows.tuning`): the spread in view.

    Circles are trials, the square the YAML default (trial 0), the star the best.
    """
    found = results_dir / "tuning" / f"{task}.csv"
    if not found.exists():
        return None
    table = pd.read_csv(found).dropna(subset=["score"])
    fig, ax = plt.subplots(figsize=(1.6 * table["model"].nunique() + 2, 3.5))
    higher = bool(table["higher_is_better"].iloc[0])
    for i, (_, rows) in enumerate(table.groupby("model", sort=True)):
        best = rows["score"].idxmax() if higher else rows["score"].idxmin()
        ax.scatter([i] * len(rows), rows["score"], color="#4c72b0", alpha=0.6)
        default = rows[rows["trial"] == 0]
        ax.scatter([i] * len(default), default["score"], marker="s", color="#999999", s=50)
        ax.scatter([i], [rows.loc[best, "score"]], marker="*", color="#c44e52", s=140)
    ax.set_xticks(range(table["model"].nunique()), sorted(table["model"].unique()))
    ax.set_ylabel(f"validation {table['score_metric'].iloc[0]}")
    trials = table.groupby("model")["trial"].count()
    ax.set_title(
        f"{task}: tuning trials ({trials.min()}-{trials.max()} per model; square: YAML "
        "default, star: best)",
        fontsize=9,
    )
    return _save(fig, out / f"{task}_tuning.png")


def labelled_grid(grid: Path, rows: list[str], out: Path) -> Path:
    """``grid`` redrawn with each row's condition beside it (and the columns of image tasks).

    ``rows``: the record's ``grid_rows`` (`cgbench.cells.pipeline.grid_rows`). Image tasks'
    rows show the input, the real image, then the samples.
    """
    image = plt.imread(grid)
    height, width = image.shape[:2]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(width / 80 + 1.6, height / 80 + 0.3))
    ax.imshow(image)
    ax.set_yticks([(i + 0.5) * height / n for i in range(n)], rows, fontsize=8)
    if rows and rows[0].startswith("input"):
        tile = width / 10  # input, real, 8 samples (`sample_grid`'s n_cols)
        ax.set_xticks([tile / 2, 1.5 * tile, 6 * tile], ["input", "real", "samples"], fontsize=8)
        ax.xaxis.tick_top()
    else:
        ax.set_xticks([width / 2], ["samples for the condition on the left"], fontsize=8)
        ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    return _save(fig, out)


def _grids(results_dir: Path, task: str, models: list[str], out: Path) -> list[tuple[str, str]]:
    """``(caption, relative path)`` of one sample grid per model (and per variant).

    Labelled with each row's condition where the record names them (``grid_rows``).
    """
    found = []
    for model in models:
        base, _, variant = model.partition("[")
        stem = f"samples_{variant.rstrip(']')}" if variant else "samples"
        grid = _first(results_dir, task, base, f"{stem}.png")
        if not grid:
            continue
        rows = read_run(grid.parent).get("grid_rows")
        if rows:
            grid = labelled_grid(grid, rows, out / f"{task}_{base}_{stem}.png")
        found.append((model, grid.relative_to(results_dir).as_posix()))
    return found


def _milestone_rows(text: str) -> pd.DataFrame:
    """``milestones.csv`` text as a frame (references' ``reference`` a kind, models' "")."""
    if not text.strip():
        return pd.DataFrame(columns=["task", "profile", "model", "reference"])
    frame = pd.read_csv(io.StringIO(text))
    return frame.assign(reference=frame["reference"].fillna(""))


def write(results_dir: Path = Path("results"), records: list[dict] | None = None) -> Path:
    """Build ``report.html`` and ``report/*.png`` under ``results_dir``; return the HTML path.

    ``records``: annotated records (`cgbench.config.load_records`); read plainly when None.
    """
    results_dir = Path(results_dir)
    table, texts = leaderboard.render(results_dir, records=records)
    steps = _milestone_rows(texts["milestones.csv"])
    if table.empty:
        raise ConfigError(f"no run records under {results_dir}/runs: run `make benchmark` first")
    out = results_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<!doctype html><meta charset=utf-8><title>cgbench report</title>"
        f"<style>{STYLE}</style><h1>cgbench report</h1>"
        "<p>Built from <code>results/runs/*/*/*/*/metrics.json</code> by "
        "<code>make report</code>. Tables as in <code>leaderboard.md</code>; in the "
        "charts floors are grey, the real-data ceiling red, the training-set copy orange, "
        "models blue.</p>"
    ]
    for task, rows in table.groupby("task", sort=True):
        primary = TASKS[task].primary if task in TASKS else ""
        metrics = sorted(
            c[: -len("_mean")]
            for c in rows
            if c.endswith("_mean") and "@" not in c and rows[c].notna().any()
        )
        shown = [
            "rank",
            "model",
            "profile",
            "n_seeds",
            "reference",
            "vs_floor",
            "status",
            *(f"{m}_mean" for m in metrics),
            "train_seconds",
        ]
        chart = bar_charts(task, rows, metrics, out)
        parts += [
            f"<h2 id={task}>{html.escape(task)}</h2><p>Ranked by <code>{primary}</code>.</p>",
            rows[[c for c in shown if c in rows]]
            .astype({"rank": "object"})
            .to_html(index=False, na_rep="", float_format="%.4f"),
            f"<p><img class=chart src='{chart.relative_to(results_dir).as_posix()}' "
            f"alt='{task} metrics'></p><h3>Samples (same conditions for every model)</h3>"
            "<div class=grids>",
        ]
        for model, path in _grids(results_dir, task, list(dict.fromkeys(rows["model"])), out):
            parts.append(
                f"<figure><img class=grid src='{path}' alt='{model}'>"
                f"<figcaption>{html.escape(model)}</figcaption></figure>"
            )
        parts.append("</div>")
        budget = budget_chart(task, steps[steps["task"] == task], out)
        if budget:
            parts.append(
                "<h3>Quality against compute (milestones of every seed; "
                "<a href='milestones.md'>milestones.md</a>)</h3><p><img class=chart "
                f"src='{budget.relative_to(results_dir).as_posix()}'></p>"
            )
        plot = convergence_chart(results_dir, task, sorted(set(rows["model"])), out)
        if plot:
            parts.append(
                f"<h3>Convergence</h3><p><img class=chart "
                f"src='{plot.relative_to(results_dir).as_posix()}'></p>"
            )
        quality = quality_chart(results_dir, task, out)
        if quality:
            parts.append(
                f"<h3>Time to quality</h3><p><img class=chart "
                f"src='{quality.relative_to(results_dir).as_posix()}'></p>"
            )
        tuned = tuning_chart(results_dir, task, out)
        if tuned:
            src = tuned.relative_to(results_dir).as_posix()
            parts.append(
                "<h3>Tuning trials (validation split, equal budget)</h3>"
                f"<p><img class=chart src='{src}'></p>"
            )
        curves = curve_charts(results_dir, task, sorted(set(rows["model"])), out)
        if curves:
            parts.append(
                f"<h3>Training curves (seed 0)</h3><p><img class=chart "
                f"src='{curves.relative_to(results_dir).as_posix()}'></p>"
            )
    path = results_dir / "report.html"
    atomic_write(path, "\n".join(parts) + "\n")
    return path
