"""The README's results block: headline scores, the claims' verdicts, a sample grid per task.

``cgbench leaderboard`` rewrites the text between `BEGIN` and `END` in the README
beside the results folder (``<results_dir>/../README.md``), so the numbers people read first
come from the records like every other table; ``--check`` reports it when it drifts.
"""

from pathlib import Path

import pandas as pd

from cgbench.records import atomic_write, collect
from cgbench.summaries import claims, leaderboard
from cgbench.summaries.tables import markdown_table, mean_pm
from cgbench.tasks import TASKS

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def headline(table: pd.DataFrame, records: list[dict]) -> list[str]:
    """Per task and ranked model, the primary metric as ``mean ± std (seeds)`` per profile."""
    rows = []
    ranked = table[table["variant_of"].isna()] if not table.empty else table
    for (task, model), group in ranked.groupby(["task", "model"], sort=True):
        primary = TASKS[task].primary
        arrow = "↑" if leaderboard.direction(records, task, primary) else "↓"
        budgets = group["profile"].str.rstrip("*")
        cells = [
            "; ".join(
                _cell(row, primary)
                for _, row in group[budgets == p].iterrows()
                if not pd.isna(row.get(f"{primary}_mean"))
            )
            or "–"
            for p in claims.PROFILES
        ]
        role = group["reference"].dropna()
        name = f"*{model} ({role.iloc[0]})*" if len(role) else model
        rows.append([task, f"`{primary}` {arrow}", name, *cells])
    return markdown_table(["task", "ranked by", "model", *claims.PROFILES], rows)


def _cell(row: pd.Series, metric: str) -> str:
    """``mean ± std (seeds[*][, not above floor][, gate][, status])`` of one leaderboard row."""
    verdict = row.get("vs_floor") or ""
    flags = (
        "*" * row["profile"].endswith("*")
        + (", not above floor" if verdict and verdict != "above floor" else "")
        + (f", {row['gate']}" if row.get("gate") else "")
        + ("" if row["status"] == "ok" else f", {row['status']}")
    )
    value = mean_pm(row[f"{metric}_mean"], row[f"{metric}_std"])
    return f"{value} ({row['n_seeds']}{flags})"


def grids(table: pd.DataFrame, results_dir: Path) -> list[str]:
    """Per task, the samples of its top-ranked model in the most thorough profile ranked."""
    rows = []
    results_dir = Path(results_dir)
    for task, group in table.groupby("task", sort=True) if not table.empty else []:
        best = group[group["rank"].notna()]
        best = best.assign(budget=best["profile"].str.rstrip("*").map(claims.PROFILES.index))
        if best.empty:
            continue
        row = best.sort_values(["budget", "rank"]).iloc[0]
        profile = row["profile"].rstrip("*")
        folders = sorted((results_dir / "runs" / task / row["model"] / profile).glob("seed*"))
        image = next((f / "samples.png" for f in folders if (f / "samples.png").exists()), None)
        if image:
            src = image.relative_to(results_dir.parent).as_posix()
            rows.append(
                [
                    task,
                    f"{row['model']} ({row['profile']}, {image.parent.name})",
                    f'<img src="{src}" width="220">',
                ]
            )
    return markdown_table(["task", "model (profile, seed)", "samples"], rows)


def budget_charts(records: list[dict], results_dir: Path) -> list[str]:
    """Per task with milestone-scored runs, its quality-against-compute chart (`make report`)."""
    tasks = sorted({r["task"] for r in records if r.get("milestones")})
    charts = [(t, Path(results_dir) / "report" / f"{t}_budget.png") for t in tasks]
    return [
        f"![{t}: ranking metric against training TFLOP]"
        f"({png.relative_to(Path(results_dir).parent).as_posix()})"
        for t, png in charts
        if png.exists()
    ]


def block(results_dir: Path = Path("results"), everything: list[dict] | None = None) -> str:
    """The generated text between the markers (the markers included).

    ``everything``: the annotated records (`cgbench.config.load_records`); read when None.
    """
    everything = collect(results_dir) if everything is None else everything
    records = [r for r in everything if r["task"] in TASKS and not TASKS[r["task"]].synthetic]
    table = leaderboard.leaderboard_table(records)
    _, rows = claims.findings(results_dir, everything)
    lines = [
        BEGIN,
        "",
        "Generated from the run records by `make leaderboard` (do not edit between the",
        "markers). Primary metric per task and model, `mean ± std (seeds)`, per profile,",
        "beside each task's floor and ceiling references (`ref_*`, same scoring code);",
        "`not above floor`: not significantly better than the best floor, so not ranked;",
        "`prototype`, `copies`: stopped by the gate of label and attribute tasks;",
        "`*`: run with `--set` overrides; `stale: why k/n`: k runs no longer match today's",
        "config, task version or code. Full tables: `results/leaderboard.md`.",
        "",
        *headline(table, records),
        "",
        "The papers' claims, a verdict per profile (rules and numbers: "
        "[`results/claims.md`](results/claims.md)):",
        "",
        *claims.verdict_table(rows),
        "",
        "Quality against compute: each task's ranking metric at every FLOP milestone of its",
        "runs (mean over seeds, band ±1 SD; floors dotted, ceiling red; table:",
        "[`results/milestones.md`](results/milestones.md)):",
        "",
        *(f"{chart}\n" for chart in budget_charts(records, results_dir)),
        "",
        "Samples of each task's top-ranked model (most thorough profile):",
        "",
        *grids(table, results_dir),
        "",
        END,
    ]
    return "\n".join(lines)


def current(
    results_dir: Path = Path("results"), records: list[dict] | None = None
) -> tuple[Path, str, str] | None:
    """``(path, text now, text rebuilt)`` of the README beside ``results_dir``.

    None when there is no README there or it has no markers (e.g. a test's results folder).
    """
    path = Path(results_dir).resolve().parent / "README.md"
    if not path.exists():
        return None
    text = path.read_text()
    if BEGIN not in text or END not in text:
        return None
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return path, text, head + block(results_dir, records) + tail


def write(results_dir: Path = Path("results"), records: list[dict] | None = None) -> Path | None:
    """Rewrite the README's block from the records; the README's path, or None if it has none."""
    found = current(results_dir, records)
    if found is None:
        return None
    path, _, rebuilt = found
    atomic_write(path, rebuilt)
    return path


def drifted(results_dir: Path = Path("results"), records: list[dict] | None = None) -> bool:
    """Whether the README's block differs from a rebuild from the records."""
    found = current(results_dir, records)
    return found is not None and found[1] != found[2]
