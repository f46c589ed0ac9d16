"""Quality against compute: the leaderboard at every FLOP milestone of a campaign profile.

A run scored at milestones (`cgbench.cells.callbacks.Milestones`) carries
``milestones: {tflop: {scores, train_tflop, train_seconds, ...}}``. `at_milestones` turns each
into a record of its own under the profile ``<profile>@<tflop>`` (the final score is
``<profile>@<budget>``), and copies the profile's floor, ceiling and copy references to every
milestone (they do not train), so the leaderboard's own machinery (`leaderboard_table`: floor
test, gate, rank groups) ranks every budget. The learning rate is constant, so a milestone's
scores are those of a shorter run stopped there (tested); LC's stages are a schedule, so its
milestones before stage 2 score its VAE alone.

``milestones.csv`` (long: task, profile, tflop, model, mean, std, seeds, rank, verdict) and
``milestones.md`` (per task, models by budget, and where a ranking changes) are rebuilt with
the other tables.
"""

import pandas as pd
from scipy import stats

from cgbench.summaries.tables import markdown_table


def _label(profile: str, tflop: float) -> str:
    return f"{profile}@{tflop:g}"


def at_milestones(records: list[dict]) -> list[dict]:
    """One record per (run, milestone) and per (run, final budget), references copied to each."""
    out, budgets = [], {}
    for r in records:
        if r.get("reference") or not r.get("milestones"):
            continue
        # a variant's record (LC's prior samples: ``lc[prior]``) reads its own milestone scores
        variant = r["model"][len(r["variant_of"]) + 1 : -1] if r.get("variant_of") else None
        steps = {
            float(t): m | {"scores": m.get("variants", {}).get(variant)} if variant else m
            for t, m in r["milestones"].items()
        }
        final = float(r.get("budget_tflop") or r["train_tflop"])
        steps[final] = {k: r.get(k) for k in ("scores", "train_tflop", "train_seconds", "items")}
        for tflop, m in steps.items():
            if m["scores"] is None:
                continue
            budgets.setdefault((r["task"], r["profile"]), set()).add(tflop)
            out.append(
                r
                | {
                    "profile": _label(r["profile"], tflop),
                    "scores": m["scores"],
                    "train_tflop": m["train_tflop"],
                    "train_seconds": m["train_seconds"],
                    "budget_tflop": tflop,
                    "milestone_tflop": tflop,
                    "items": m.get("items"),  # per-row values: the final scores' only
                }
            )
    for r in records:  # references score fixed rows: the same line at every budget
        if r.get("reference") and (r["task"], r["profile"]) in budgets:
            for tflop in budgets[(r["task"], r["profile"])]:
                out.append(r | {"profile": _label(r["profile"], tflop), "milestone_tflop": tflop})
    return out


def milestone_rows(table: pd.DataFrame, primary_of, higher_of=lambda task: True) -> pd.DataFrame:
    """The long ``milestones.csv`` from `leaderboard_table` over `at_milestones` records.

    ``primary_of(task)``: its ranking metric; ``higher_of(task)``: whether higher is better.
    """
    if table.empty:
        return pd.DataFrame()
    rows = []
    for _, row in table.iterrows():
        profile, tflop = row["profile"].rsplit("@", 1)
        metric = primary_of(row["task"])
        rows.append(
            {
                "task": row["task"],
                "profile": profile,
                "tflop": float(tflop),
                "model": row["model"],
                "reference": row["reference"] if isinstance(row["reference"], str) else "",
                "metric": metric,
                "higher": higher_of(row["task"]),
                "mean": row.get(f"{metric}_mean"),
                "std": row.get(f"{metric}_std"),
                "n_seeds": row["n_seeds"],
                "train_seconds": row["train_seconds"],
                "rank": row["rank"],
                "vs_floor": row["vs_floor"],
                "gate": row["gate"],
                "status": row["status"],
            }
        )
    return pd.DataFrame(rows).sort_values(["task", "profile", "tflop", "reference", "model"])


def _ahead(a: pd.Series, b: pd.Series, higher: bool) -> bool:
    """Whether milestone row ``a`` beats ``b`` significantly (Welch, one-sided, 5%, seeds)."""
    if min(a["n_seeds"], b["n_seeds"]) < 2 or pd.isna(a["mean"]) or pd.isna(b["mean"]):
        return False
    diff = (a["mean"] - b["mean"]) * (1 if higher else -1)
    _, p = stats.ttest_ind_from_stats(
        a["mean"], a["std"], a["n_seeds"], b["mean"], b["std"], b["n_seeds"], equal_var=False
    )
    return bool(diff > 0 and p / 2 < 0.05)


def rank_changes(rows: pd.DataFrame) -> list[str]:
    """Pairs of models whose order flips between two budgets, significantly at both.

    Every model is compared, ranked or not (a model under the floor can still overtake
    another): at each budget Welch's one-sided test over seeds at 5%; a pair is listed when
    one is significantly ahead at some budget and significantly behind at another.
    """
    notes = []
    models = rows[(rows["reference"] == "") & ~rows["model"].str.contains("[", regex=False)]
    for (task, profile), group in models.groupby(["task", "profile"]):
        higher = bool(group["higher"].iloc[0]) if "higher" in group else True
        by = {m: g.set_index("tflop") for m, g in group.groupby("model")}
        names = sorted(by)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                shared = sorted(set(by[a].index) & set(by[b].index))
                ahead = [t for t in shared if _ahead(by[a].loc[t], by[b].loc[t], higher)]
                behind = [t for t in shared if _ahead(by[b].loc[t], by[a].loc[t], higher)]
                if ahead and behind:
                    notes.append(
                        f"{task} ({profile}): {a} ahead of {b} at "
                        f"{', '.join(f'{t:g}' for t in ahead)} TFLOP, behind at "
                        f"{', '.join(f'{t:g}' for t in behind)} (Welch, one-sided, 5%)"
                    )
    return notes


def markdown(rows: pd.DataFrame) -> str:
    """``milestones.md``: per task and profile, each model's ranking metric at every budget."""
    lines = [
        "# Quality against compute",
        "",
        "Rebuilt from the run records by `make leaderboard`. Each run is scored at FLOP "
        "milestones on the same rows and metrics as its final score (`budget.milestones`); a "
        "cell is the mean over seeds of the task's ranking metric, then the rank group among "
        "the models ranked at that budget (`r1`, ...) and the floor verdict "
        "(`>` above the strongest no-learning floor, `<` below, `~` not distinguishable); the "
        "references (they do not train) are the same at every budget. With a constant "
        "learning rate a milestone equals a shorter run; LC's milestones before its stage 2 "
        "score its VAE alone.",
        "",
    ]
    if rows.empty:
        return "\n".join([*lines, "No run has milestones yet.", ""])
    mark = {"above floor": ">", "below floor": "<"}
    for (task, profile), group in rows.groupby(["task", "profile"], sort=True):
        budgets = sorted(group["tflop"].unique())
        metric = group["metric"].iloc[0]
        cells = []
        for (model, reference), g in group.groupby(["model", "reference"], sort=False):
            by = g.set_index("tflop")
            row = [f"*{model} ({reference})*" if reference else model]
            for t in budgets:
                if t not in by.index or pd.isna(by.loc[t, "mean"]):
                    row.append("–")
                    continue
                cell = f"{by.loc[t, 'mean']:.4f}"
                if not reference:
                    seeds, rank = int(by.loc[t, "n_seeds"]), by.loc[t, "rank"]
                    verdict = by.loc[t, "vs_floor"] or ""
                    sign = mark.get(verdict, "~" if verdict else "")
                    cell += f" ({seeds}; {'r' + str(int(rank)) if pd.notna(rank) else '–'}{sign})"
                row.append(cell)
            cells.append((bool(reference), row))
        cells = [c for _, c in sorted(cells, key=lambda c: c[0])]
        lines += [f"## {task} ({profile}): `{metric}` by training TFLOP", ""]
        lines += markdown_table(["model", *(f"{t:g}" for t in budgets)], cells)
        lines.append("")
    changes = rank_changes(rows)
    lines += ["## Where a ranking changes with the budget", ""]
    lines += [f"- {c}" for c in changes] or [
        "None so far: no two models swap a significant order between budgets."
    ]
    return "\n".join([*lines, ""])
