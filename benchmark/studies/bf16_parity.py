"""bf16 parity: does bf16 autocast change a model's score at equal training FLOPs?

``python -m cgbench.studies.bf16_parity`` (``make bf16-parity``) trains each case of `CASES`
with 3 seeds in fp32 (``trainer.precision=32-true``) and 3 under bf16 autocast
(``bf16-mixed``), same config, rows and FLOP budget otherwise, and compares the task's ranking
metric: Welch's test (`two_sample_p`), the difference a 3 vs 3 comparison detects with 80%
power (``mdd80``) and whether the difference is within the fp32 seeds' spread. Training
seconds of both give the speedup this host gets. Records go to
``results/bf16_parity/<precision>/runs/...`` (their own folder: the published records are
never replaced), the summary to ``results/bf16_parity.{csv,md}``; a rerun skips every current
record, so a cut-short study goes on where it stopped. Scoring runs in fp32 either way.

bf16 is adopted by the runner (``trainer.precision: auto``) only where every case passes
and a training step under bf16 autocast runs faster on the host
(`cgbench.provenance.auto_precision`).
"""

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from cgbench.cells.train import run_one
from cgbench.provenance import host
from cgbench.records import atomic_write
from cgbench.summaries.ranking import two_sample_p
from cgbench.summaries.tables import markdown_table, num
from cgbench.tasks import TASKS

# (task, profile, models): MNIST at the label task's quick budget (3 TFLOP), CelebA at 16
CASES = (
    ("mnist", "quick", ("cvae", "cgan")),
    ("celeba", "standard", ("cvae",)),
)
PRECISIONS = ("32-true", "bf16-mixed")
SEEDS = (0, 1, 2)


def run_cases(results_dir: Path, cases=CASES) -> list[dict]:
    """Train (or read back) every case's seeds in both precisions; return one row per run."""
    rows = []
    for task, profile, models in cases:
        for model in models:
            for seed in SEEDS:
                for precision in PRECISIONS:
                    record = run_one(
                        task,
                        model,
                        seed,
                        profile,
                        overrides=(f"trainer.precision={precision}",),
                        results_dir=results_dir / precision,
                        logger="none",
                    )
                    primary = TASKS[task].primary
                    rows.append(
                        {
                            "task": task,
                            "profile": profile,
                            "model": model,
                            "seed": seed,
                            "precision": record.get("precision", precision),
                            "status": record.get("status"),
                            "metric": primary,
                            "value": record.get("scores", {}).get(primary, np.nan),
                            "train_seconds": record.get("train_seconds", np.nan),
                            "train_tflop": record.get("train_tflop", np.nan),
                        }
                    )
    return rows


def passes(fp32: list[float], bf16: list[float]) -> tuple[bool, float, float]:
    """``(passes, p, mdd80)``: not significant at 5% and the mean difference within fp32's SD."""
    p, mdd = two_sample_p(fp32, bf16)
    within = abs(np.mean(bf16) - np.mean(fp32)) <= np.std(fp32, ddof=1)
    return bool(p >= 0.05 and within), p, mdd


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model): both precisions' mean/SD, the test, the speedup."""
    rows = []
    for (task, profile, model), group in runs.groupby(["task", "profile", "model"], sort=False):
        by = {p: group[group["precision"] == p] for p in PRECISIONS}
        fp32, bf16 = by["32-true"], by["bf16-mixed"]
        ok, p, mdd = passes(list(fp32["value"]), list(bf16["value"]))
        rows.append(
            {
                "task": task,
                "profile": profile,
                "model": model,
                "metric": group["metric"].iloc[0],
                "seeds": len(fp32),
                "fp32_mean": fp32["value"].mean(),
                "fp32_sd": fp32["value"].std(ddof=1),
                "bf16_mean": bf16["value"].mean(),
                "bf16_sd": bf16["value"].std(ddof=1),
                "difference": bf16["value"].mean() - fp32["value"].mean(),
                "p_welch": p,
                "mdd80": mdd,
                "passes": ok,
                "fp32_train_s": fp32["train_seconds"].mean(),
                "bf16_train_s": bf16["train_seconds"].mean(),
                "speedup": fp32["train_seconds"].mean() / bf16["train_seconds"].mean(),
                "tflop": group["train_tflop"].mean(),
                "device": f"{host()['cpu']} ({', '.join(host()['isa'])}), 1 thread a run",
                "created": dt.date.today().isoformat(),
            }
        )
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame) -> str:
    """The summary as the table ``results/bf16_parity.md`` shows."""
    header = ["task", "model", "metric", "fp32 (3 seeds)", "bf16 (3 seeds)", "diff", "p", "mdd80"]
    header += ["passes", "train s fp32 / bf16", "speedup"]
    rows = [
        [
            f"{r.task} ({r.profile}, {r.tflop:g} TFLOP)",
            r.model,
            r.metric,
            f"{num(r.fp32_mean)} ± {num(r.fp32_sd)}",
            f"{num(r.bf16_mean)} ± {num(r.bf16_sd)}",
            f"{r.difference:+.4f}",
            f"{r.p_welch:.2f}",
            num(r.mdd80),
            "yes" if r.passes else "**no**",
            f"{r.fp32_train_s:.0f} / {r.bf16_train_s:.0f}",
            f"{r.speedup:.2f}x",
        ]
        for r in summary.itertuples()
    ]
    device = summary["device"].iloc[0] if len(summary) else ""
    intro = [
        "# bf16 parity (issue 36)",
        "",
        "Each case trained with 3 seeds in fp32 and 3 under bf16 autocast at the same FLOP",
        "budget, scored in fp32 on the same test rows (`cgbench.studies.bf16_parity`). *passes*:",
        "Welch p >= 0.05 and the mean difference within the fp32 seeds' SD. *mdd80*: the mean",
        "difference a 3 vs 3 comparison finds with 80% power; a pass says no difference larger",
        "than about that, not that there is none.",
        "",
        f"Host: {device}; the training seconds are of runs that shared the host's two cores",
        "with another job, so the speedups are indicative (`results/speed.csv` times steps).",
        "",
    ]
    return "\n".join(intro + markdown_table(header, rows)) + "\n"


def main(argv=None) -> int:
    """Run the study and write ``results/bf16_parity.{csv,md}``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", type=Path, default=Path("results/bf16_parity"))
    parser.add_argument("--out", type=Path, default=Path("results/bf16_parity"))
    args = parser.parse_args(argv)
    runs = pd.DataFrame(run_cases(args.results_dir))
    summary = summarise(runs)
    atomic_write(args.out.with_suffix(".csv"), summary.to_csv(index=False))
    atomic_write(args.out.with_suffix(".md"), markdown(summary))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
