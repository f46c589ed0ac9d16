"""``leaderboard.md``: the leaderboard table and the records, for people.

One section per task: the main table, then the distribution, group and per-attribute tables.
"""

import pandas as pd

from cgbench.metrics.distribution import DISTRIBUTION
from cgbench.records import PROFILES
from cgbench.scoring.standardised import STANDARDISED
from cgbench.summaries.ranking import arrow
from cgbench.summaries.tables import integer, markdown_table, mean_pm, missing, num, tflop
from cgbench.tasks import TASKS

DISTRIBUTION_NOTE = (
    "Distribution metrics: every sample against the scored real test images, on Inception "
    "features (`fid` ...) where the profile turns them on and on the frozen evaluator's last "
    "hidden layer (`*_eval`); values compare only at equal sample counts (shown). `fid_evalz` "
    "and `kid_evalz`: FID and KID on the evaluator's features standardised by the real "
    "training images' (one sample per scored row)."
)
DISTRIBUTION_COLUMNS = {*DISTRIBUTION, *STANDARDISED}


INTRO = """# cgbench leaderboard

Rebuilt from `results/runs/*/*/*/*/metrics.json` by `cgbench leaderboard`; cells are mean ± std
over seeds. Every table holds its task's **reference rows** (`ref_*`, never ranked), scored by
the same code on the same test rows as the models (protocol v3, `docs/protocol.md`):
*floors*, generators that learnt nothing (a constant image, shuffled real images, class and
attribute prototypes, the masked input, mean, harmonic and Poisson-blended fills, the nearest
training image blended in, the grey lightness, borrowed mean chroma); the *ceiling* `ref_real`
(real test images with their true conditions); the *copy* `ref_train` (training images with
the same condition: above real data where the evaluator was trained on them, so no bound).
A model is **ranked only when it beats the best floor significantly**: a one-sided t-test of
its seeds against the floor's value at 5%, Holm's correction over the table's models;
`not distinguishable from floor (power p at 1 SD)` says what the test could have found. On
label and attribute tasks a ranked model must also pass the `gate`: not `prototype` (samples of
one condition closer to one image than to real data's diversity) and not `copies` (`copy_rate`
more than 0.1 above real test images'). Ranks are groups: a model shares the rank of the
group's leader until it is significantly worse (Welch over seeds, Holm over every pair).
`95% CI` is over seeds (Student's t) or, for one run, a bootstrap over the scored test items.
Ranks compare models within one profile (full, then standard, then quick). `model[variant]`
rows score another sampling mode of the same runs and are not ranked. † marks a model adapted
to the task's condition kind; a profile ending in `*` ran with `--set` overrides. `·` marks
columns read against the real data's value (diversity `pairwise_ms_ssim` against `ref_real`'s,
which pairs random same-condition test images; `copy_rate`). Status `stale: config|task|code
(...)`: the record no longer matches today's config, task version or code; a blank
`copy_rate`: scored before the copying check existed.
"""


def _verdict(row) -> str:
    """The floor verdict, with the test's power where it found nothing."""
    power = row.get("floor_power")
    if row["vs_floor"] != "not distinguishable from floor" or pd.isna(power):
        return row["vs_floor"]
    return f"{row['vs_floor']} (power {power:.2f} at 1 SD)"


def markdown(table: pd.DataFrame, records: list[dict], dropped: dict | None = None) -> str:
    """One section per task: main table, then per-group and per-attribute tables when present.

    The main table has ``mean ± std`` cells and ``↑``/``↓`` headers; the group table shows the
    primary metric per evaluation group (e.g. mask size); the attribute tables (one per
    profile) put each model's per-attribute TPR / TNR beside the references' and the frozen
    evaluator's own on real test faces. ``dropped``: per task, the distribution metrics left
    out (`cgbench.summaries.sanity.dropped`).
    """
    lines = [INTRO]
    for task, group in table.groupby("task", sort=True) if not table.empty else []:
        runs = [r for r in records if r["task"] == task]
        metrics = sorted({m for r in runs for m in r["scores"]})
        primary = TASKS[task].primary if task in TASKS else ""
        main = [m for m in metrics if "@" not in m and m not in DISTRIBUTION_COLUMNS]
        lines += [f"## {task}", "", f"Ranked by `{primary}`.", ""]
        gated = group["gate"].astype(bool).any()
        header = ["rank", "model", "profile", "seeds", "vs floor", *(["gate"] if gated else [])]
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
                _verdict(row),
                *([row["gate"]] if gated else []),
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
        left_out = set((dropped or {}).get(task, ()))
        shown = [m for m in metrics if m in DISTRIBUTION_COLUMNS and m not in left_out]
        lines += _distribution(group, records, task, shown)
        if left_out & set(metrics):
            lines += [
                "Left out (they fail the keep rule on real faces, `results/fid_sanity.csv`; "
                f"`leaderboard.csv` has them): {', '.join(sorted(left_out & set(metrics)))}.",
                "",
            ]
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
    order = {name: i for i, name in enumerate(reversed(PROFILES))}
    return order.get(profile.rstrip("*"), len(order))
