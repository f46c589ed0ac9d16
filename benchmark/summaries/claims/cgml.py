"""cGML (Ramasinghe et al. 2021): modes of multimodal completion, quality, convergence."""

import math

import pandas as pd

from cgbench.summaries.claims.base import EVIDENCE, Claim, Evidence, Finding, decide, stat_line
from cgbench.summaries.ranking import sample


def _modes(ev: Evidence, task: str) -> dict[str, list[dict]]:
    return {m: ev.runs(task, m) for m in ("cgml", "cvae", "cgan")}


def _mode(runs: list[dict], key: str) -> list[float]:
    """One ``details.modes`` value per seed (NaN where a record predates it)."""
    return [r["details"].get("modes", {}).get(key, math.nan) for r in runs]


def _shares(runs: list[dict]) -> str:
    shares = {k: [round(v, 3) for v in _mode(runs, f"{k}_share")]
              for k in ("plain", "overlaid", "neither")}  # fmt: skip
    true, ideal = _mode(runs, "true_overlaid_share")[:1], _mode(runs, "ideal_coverage")[:1]
    return f"shares of samples by mode {shares} (data's overlaid share {true}; ideal sampler's "\
        f"coverage {ideal})"  # fmt: skip


def cgml_plain_at_20(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task = "completion_mnist_multimodal"
    groups = _modes(ev, task)
    if not groups["cgml"]:
        return Finding("not measured", ["no cGML record on multimodal MNIST at 20%"])
    reasons = ev.problems(task, {"cgml": groups["cgml"]}, "ssim_best")
    gap = sample(groups["cgml"], "mode_share_gap")
    true = groups["cgml"][0]["details"].get("modes", {}).get("true_overlaid_share", math.nan)
    # converged to the plain digit: the overlaid share is at most a quarter of the data's, and
    # the samples take the plain digit (a blank top is neither mode, not "plain")
    plain = _mode(groups["cgml"], "plain_share")
    holds = gap["_low"] >= 0.75 * true and min(plain) >= PLAIN_SHARE
    fails = gap["_high"] < 0.75 * true or max(plain) < 0.5
    numbers = [stat_line(ev, groups, "mode_share_gap"), f"cgml: {_shares(groups['cgml'])}"]
    return Finding(decide(reasons, holds, fails), numbers, ev.paths(groups["cgml"]))


def cgml_modes(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task = "completion_mnist_multimodal_alt30"
    groups = _modes(ev, task)
    if not groups["cgml"]:
        return Finding("not measured", ["no cGML record on multimodal MNIST at 30%"])
    reasons = ev.problems(task, groups, "ssim_best")
    others = [g for m, g in groups.items() if m != "cgml" and g]
    # beats the baselines and reaches half of what an ideal sampler covers (an absolute target)
    ideal = _mode(groups["cgml"], "ideal_coverage")[0]
    reached = ev.mean(groups["cgml"], "mode_coverage") >= 0.5 * ideal
    holds = reached and all(ev.better(groups["cgml"], g, "mode_coverage") for g in others)
    fails = any(ev.better(g, groups["cgml"], "mode_coverage") for g in others)
    numbers = [stat_line(ev, groups, "mode_coverage"), f"cgml: {_shares(groups['cgml'])}"]
    return Finding(decide(reasons, holds, fails), numbers, ev.paths(groups["cgml"]))


def cgml_quality(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    if not ev.runs("completion", "cgml") and not ev.runs("colorization", "cgml"):
        return Finding("not measured", ["no cGML record on completion or colorization"])
    numbers, reasons, worse, refuted, paths = [], [], [], False, []
    for task in ("completion", "colorization"):
        groups = {m: ev.runs(task, m) for m in ("cgml", "cvae", "cgan")}
        problems = ev.problems(task, groups, "lpips_best", False)
        reasons += [f"{task}: {r}" for r in problems]
        if not all(groups.values()):
            continue
        best = min(("cvae", "cgan"), key=lambda m: ev.mean(groups[m], "lpips_best"))
        worse.append(ev.better(groups[best], groups["cgml"], "lpips_best", higher=False))
        refuted |= worse[-1] and not problems  # one task's clean evidence refutes it alone
        numbers.append(f"{task} " + stat_line(ev, groups, "lpips_best"))
        paths += ev.paths(groups["cgml"])
    # "at least as good": not significantly worse than the better baseline on either task
    if refuted:
        return Finding("does not hold", numbers, paths)
    verdict = decide(reasons, len(worse) == 2 and not any(worse), any(worse))
    return Finding(verdict, numbers, paths)


PLAIN_SHARE = 0.75  # "converges to the plain digit": at least this share of samples is it
MIN_EVALUATIONS = 5  # a convergence curve needs this many validation points to be read


def cgml_convergence(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    curves = {}
    for model in ("cgml", "cvae", "cgan"):
        runs = ev.runs("completion", model)
        files = [ev.results_dir / p / "val_curves.csv" for p in ev.paths(runs)]
        files = [f for f in files if f.exists()]
        if files:
            curves[model] = pd.read_csv(files[0])
    if len(curves) < 3:
        return Finding("not measured", ["completion val_curves.csv missing for a model"])
    if min(len(c) for c in curves.values()) < MIN_EVALUATIONS:
        counts = ", ".join(f"{m} {len(c)}" for m, c in curves.items())
        cgml = ev.paths(ev.runs("completion", "cgml"))[:1]
        return Finding("not measured", [f"evaluations per curve: {counts}"], cgml)
    level = max(c["val/sample_l1"].iloc[-1] for c in curves.values())
    reach = {
        m: int(c.loc[c["val/sample_l1"] <= level, "batches"].iloc[0]) for m, c in curves.items()
    }
    rises = {
        m: int((c["val/sample_l1"].diff() > 0.01 * c["val/sample_l1"]).sum())
        for m, c in curves.items()
    }
    seconds = {
        m: ev.runs("completion", m)[0]["train_seconds"] / c["batches"].iloc[-1]
        for m, c in curves.items()
    }
    faster = reach["cgml"] <= min(reach["cvae"], reach["cgan"])
    faster_s = reach["cgml"] * seconds["cgml"] <= min(
        reach[m] * seconds[m] for m in ("cvae", "cgan")
    )
    stabler = rises["cgml"] <= min(rises["cvae"], rises["cgan"])
    groups = {m: ev.runs("completion", m) for m in curves}
    reasons = ev.problems("completion", groups, "lpips", higher=False)
    reasons.append("one seed's curve per model")  # curves of more seeds: not compared yet
    numbers = [
        f"level {level:.4f}; batches to reach it: "
        + ", ".join(f"{m} {b}" for m, b in reach.items()),
        "training seconds per batch (a batch's cost differs; CPU, 2 cores): "
        + ", ".join(f"{m} {t:.2f}" for m, t in seconds.items())
        + "; so seconds to reach the level: "
        + ", ".join(f"{m} {reach[m] * t:.0f}" for m, t in seconds.items()),
        f"faster per batch: {faster}; per second: {faster_s}; "
        "rises of more than 1% between evaluations: "
        + ", ".join(f"{m} {n}" for m, n in rises.items()),
        "plot: report/completion_convergence.png",
    ]
    verdict = decide(reasons, faster and faster_s and stabler, not (faster or faster_s))
    return Finding(verdict, numbers, ev.paths(ev.runs("completion", "cgml"))[:1])


CLAIMS = [
    Claim(
        "cGML",
        "With 20% of inputs overlaid, it converges to the plain digit.",
        "Rule: on completion_mnist_multimodal (top half hidden, 20% overlaid), cGML's samples "
        "take the overlaid mode at most a quarter as often as the data does "
        "(`mode_share_gap` >= 0.75 x the data's overlaid share over its 95% interval) and, on "
        "every seed, at least 75% of the samples are the plain digit (a sample nearer neither "
        "mode than half their distance, e.g. a blank top, is *neither*, never plain)." + EVIDENCE,
        cgml_plain_at_20,
    ),
    Claim(
        "cGML",
        "With a frequent alternate mode (30%), its samples reach both modes.",
        "Rule: on completion_mnist_multimodal_alt30, cGML's `mode_coverage` (inputs whose K "
        "samples reach both completions) beats CVAE's and CGAN's significantly and reaches half "
        "of an ideal sampler's (`1 - p^K - (1 - p)^K`, 0.83 at p = 0.3, K = 5); does not hold "
        "if a baseline beats it significantly." + EVIDENCE,
        cgml_modes,
    ),
    Claim(
        "cGML",
        "Completion and colorization at least as good as CVAE/CGAN.",
        "Rule: cGML's best-of-K LPIPS (completion pasted back) is not significantly worse than "
        "the better of CVAE and CGAN on completion and on colorization; does not hold if it is "
        "significantly worse on either (one task's clean evidence is enough to refute it)."
        + EVIDENCE,
        cgml_quality,
    ),
    Claim(
        "cGML",
        "Faster and more stable convergence.",
        "Rule, on completion's validation L1 of one sample (`val_curves.csv`): *faster* = "
        "fewer batches and fewer seconds to reach the level every model ends at (the worst "
        "final value); *more stable* = no more rises between evaluations than the baselines. "
        "Not measured on curves with fewer than 5 evaluations (the quick profile validates "
        "once); only the first seed's curves are compared so far, so at most inconclusive."
        + EVIDENCE,
        cgml_convergence,
    ),
]
