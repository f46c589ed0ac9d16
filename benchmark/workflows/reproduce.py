"""Rerun committed cells from scratch and compare them with their records: ``reproduce.csv``.

``cgbench reproduce --tasks mnist --models cvae`` (``make reproduce``) trains each named cell
again, at its task's published profile, into a temporary results folder (the committed records
are never touched), scores it with today's code and tests what can reproduce:

- **exact**, where the record was made on the same host kind and build (`cgbench.provenance.host`:
  CPU model, ISA, torch build, threads): the same seed gives the same floats, so every score
  must equal its record's (to `ROUNDING`, 1e-6 relative).
- **two-sample** elsewhere: kernels round differently and a seed's training diverges like a new
  seed, so the rerun's seeds and the committed seeds are two samples of one distribution;
  per metric Welch's t-test (one rerun seed: a t prediction interval), Holm's correction over
  a cell's metrics at 5%. ``mdd80`` is the difference the test would have found four times in
  five: "agrees" is no proof of equality beyond it.
- **conclusion**: the leaderboard's rank groups and floor verdicts from the committed records,
  and again with the rerun cells in place of theirs; a verdict that changes is reported.
"""

import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cgbench.records import atomic_write, collect
from cgbench.summaries.ranking import ALPHA, ROUNDING, holm, two_sample_p

COLUMNS = [
    "task",
    "model",
    "profile",
    "seed",
    "metric",
    "record",
    "rerun",
    "delta",
    "seed_sd",
    "p_value",
    "p_holm",
    "mdd80",
    "reproduces",
    "test",
    "why",
]
HOST_KEYS = ("cpu", "isa", "torch", "torch_git", "threads")


def same_build(old: dict, new: dict) -> tuple[bool, str]:
    """Whether two records come from one host kind and build, and the reason in words."""
    before, now = old.get("host"), new.get("host")
    if not before:
        return False, "the record names no host (made before hosts were recorded)"
    differs = [k for k in HOST_KEYS if before.get(k) != (now or {}).get(k)]
    if differs:
        shown = "; ".join(f"{k} {before.get(k)} -> {(now or {}).get(k)}" for k in differs)
        return False, f"host differs: {shown}"
    return True, "same host kind and build as the record"


def _metrics(records: list[dict]) -> list[str]:
    return sorted({m for r in records for m in r["scores"] if "@" not in m})  # groups: no test


def compare(committed: list[dict], rerun: list[dict]) -> pd.DataFrame:
    """Rows of `COLUMNS` for every rerun cell's scores, by the test its host allows.

    Args:
        committed: Records of the results folder (every seed of a cell is one sample).
        rerun: Records of the same cells, trained again (variants and references left out).
    """
    rows = []
    cells = sorted({(r["task"], r["model"], r["profile"]) for r in rerun})
    for cell in cells:
        new = [r for r in rerun if (r["task"], r["model"], r["profile"]) == cell]
        old = [r for r in committed if (r["task"], r["model"], r["profile"]) == cell]
        pairs = [(o, n) for n in new for o in old if o["seed"] == n["seed"]]
        if not pairs:
            continue
        verdicts = [same_build(o, n) for o, n in pairs]
        exact = all(same for same, _ in verdicts)
        why = next((reason for same, reason in verdicts if not same), verdicts[0][1])
        rows += _exact_rows(cell, pairs, old, why) if exact else _sample_rows(cell, old, new, why)
    return pd.DataFrame(rows, columns=COLUMNS)


def _exact_rows(cell: tuple, pairs: list, old: list[dict], why: str) -> list[list]:
    rows = []
    for before, after in pairs:
        for metric in _metrics([after]):
            if metric not in before["scores"]:
                continue
            spread = [r["scores"][metric] for r in old if metric in r["scores"]]
            sd = float(np.std(spread, ddof=1)) if len(spread) > 1 else 0.0
            a, b = before["scores"][metric], after["scores"][metric]
            same = math.isclose(a, b, rel_tol=ROUNDING, abs_tol=1e-12)
            rows.append(
                [
                    *cell,
                    str(after["seed"]),
                    metric,
                    a,
                    b,
                    b - a,
                    sd,
                    math.nan,
                    math.nan,
                    0.0,
                    same,
                    "exact",
                    why,
                ]
            )
    return rows


def _sample_rows(cell: tuple, old: list[dict], new: list[dict], why: str) -> list[list]:
    metrics = [m for m in _metrics(new) if any(m in r["scores"] for r in old)]
    values = {
        m: (
            [r["scores"][m] for r in old if m in r["scores"]],
            [r["scores"][m] for r in new if m in r["scores"]],
        )
        for m in metrics
    }
    tests = [two_sample_p(*values[m]) for m in metrics]
    adjusted = holm([p for p, _ in tests])
    seeds = " ".join(str(r["seed"]) for r in sorted(new, key=lambda r: r["seed"]))
    rows = []
    for metric, (p, mdd), p_adj in zip(metrics, tests, adjusted, strict=True):
        a, b = values[metric]
        sd = float(np.std(a, ddof=1)) if len(a) > 1 else 0.0
        rows.append(
            [
                *cell,
                seeds,
                metric,
                float(np.mean(a)),
                float(np.mean(b)),
                float(np.mean(b) - np.mean(a)),
                sd,
                p,
                p_adj,
                mdd,
                p_adj >= ALPHA,
                "two-sample",
                why,
            ]
        )
    return rows


def conclusions(committed: list[dict], rerun: list[dict]) -> pd.DataFrame:
    """Rank groups and floor verdicts of the rerun tasks, committed vs with the rerun cells.

    The rerun's cells replace the committed ones of the same (task, model, profile); the
    committed references stay (scoring fixed data, they do not depend on training).
    """
    from cgbench.summaries.leaderboard import leaderboard_table  # the tables' own rules

    cells = {(r["task"], r.get("variant_of") or r["model"], r["profile"]) for r in rerun}
    tasks = {task for task, _, _ in cells}
    before = [r for r in committed if r["task"] in tasks]
    after = [
        r
        for r in before
        if (r["task"], r.get("variant_of") or r["model"], r["profile"]) not in cells
    ] + rerun
    old, new = (
        leaderboard_table(rs).set_index(["task", "model", "profile"]) for rs in (before, after)
    )
    rows = []
    for key in old.index.intersection(new.index):
        if isinstance(old.at[key, "reference"], str):  # references are never ranked
            continue
        for column, name in (("rank", "rank"), ("vs_floor", "vs_floor")):
            a, b = (_shown(t.at[key, column]) for t in (old, new))
            rows.append(
                [
                    *key,
                    "",
                    name,
                    a,
                    b,
                    math.nan,
                    math.nan,
                    math.nan,
                    math.nan,
                    math.nan,
                    a == b,
                    "conclusion",
                    "the leaderboard's rules",
                ]
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _shown(value) -> str:
    return "" if value is None or value is pd.NA or value != value else str(value)


def reproduce(
    cells: list, results_dir: Path = Path("results"), executor=None, rerun_dir: Path | None = None
) -> pd.DataFrame:
    """Train ``cells`` (`matrix.Cell`) again in a scratch folder; `compare`, `conclusions`.

    Writes ``<results_dir>/reproduce.csv`` (atomically; other cells' rows kept) and returns
    this rerun's rows. ``rerun_dir``: a results folder such a rerun already filled (on another
    machine, say, with ``cgbench run --force``); its records of these cells are compared and
    nothing trains.

    Raises:
        SystemExit: when a cell of the rerun failed (exit status 1, the cell named).
    """
    from cgbench.workflows.matrix import run_matrix

    wanted = {(c.task, c.model, c.profile, c.seed) for c in cells}

    def of_cells(records: list[dict]) -> list[dict]:
        return [
            r
            for r in records
            if not r.get("reference")
            and (r["task"], r.get("variant_of") or r["model"], r["profile"], r["seed"]) in wanted
        ]

    if rerun_dir is not None:
        rerun = of_cells(collect(Path(rerun_dir)))
    else:
        with tempfile.TemporaryDirectory(prefix="cgbench-reproduce-") as scratch:
            for cell, result in run_matrix(cells, Path(scratch), executor, force=True):
                if not isinstance(result, dict):
                    print(f"{cell.name}: the rerun failed ({result.error})", file=sys.stderr)
                    raise SystemExit(1)
                print(f"rerun {cell.name}: trained", flush=True)
            rerun = of_cells(collect(Path(scratch)))
    committed = collect(Path(results_dir))
    trained = [r for r in rerun if not r.get("variant_of")]
    new = pd.concat([compare(committed, trained), conclusions(committed, rerun)], ignore_index=True)
    path, key = Path(results_dir) / "reproduce.csv", ["task", "model", "profile"]
    table = new
    if path.exists():  # keep the other cells' rows; replace this rerun's
        kept = pd.read_csv(path, dtype={"seed": str})
        if "test" in kept:  # (rows from before the tests were named are not kept)
            cells = set(new[key].itertuples(index=False, name=None))
            tasks = set(new["task"])  # the conclusions cover every model of a rerun task

            def replaced(row) -> bool:
                cell = (row.task, row.model, row.profile)
                return row.task in tasks and (row.test == "conclusion" or cell in cells)

            kept = kept[[not replaced(row) for row in kept.itertuples()]]
            table = pd.concat([kept, new], ignore_index=True)
    table = table.sort_values([*key, "test", "seed", "metric"], key=lambda c: c.astype(str))
    atomic_write(path, table.to_csv(index=False, float_format="%.6g"))
    return new


def summary_lines(table: pd.DataFrame) -> list[str]:
    """One line per rerun cell (its test and how many scores agree), one per changed verdict."""
    from cgbench.tasks import TASKS

    lines = []
    scored = table[table["test"] != "conclusion"]
    for (task, model, profile), rows in scored.groupby(["task", "model", "profile"]):
        primary = rows[rows["metric"] == TASKS[task].primary] if task in TASKS else rows[:0]
        detail = "".join(
            f"; {p.metric} record {p.record:.4f}, rerun {p.rerun:.4f}"
            + (
                f" (p {p.p_value:.2f}, Holm {p.p_holm:.2f}; detectable {p.mdd80:.4f})"
                if p.test == "two-sample"
                else ""
            )
            for p in primary.itertuples()
        )
        lines.append(
            f"{task} x {model} ({profile}): {rows['test'].iloc[0]} test, "
            f"{rows['why'].iloc[0]}: {int(rows['reproduces'].sum())} of {len(rows)} "
            f"scores agree{detail}"
        )
    changed = table[(table["test"] == "conclusion") & ~table["reproduces"].astype(bool)]
    for row in changed.itertuples():
        lines.append(
            f"{row.task} x {row.model} ({row.profile}): CONCLUSION CHANGED, "
            f"{row.metric} {row.record or '-'!r} -> {row.rerun or '-'!r}"
        )
    held = table[(table["test"] == "conclusion")]
    if len(held):
        lines.append(
            f"conclusions: {int(held['reproduces'].astype(bool).sum())} of {len(held)} "
            "rank groups and floor verdicts unchanged"
        )
    return lines
