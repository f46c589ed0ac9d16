"""cGML (Ramasinghe et al. 2021): modes of multimodal completion, quality, convergence."""

import math

from cgbench.summaries.claims.base import EVIDENCE, Claim, Evidence, Finding, decide, stat_line
from cgbench.summaries.ranking import sample, significantly_better


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
HEADROOM_SHARE = 0.25  # convergence target: this far from the best floor towards real data


def _curve(run: dict, metric: str) -> list[tuple[float, float, float]]:
    """``(tflop, seconds, value)`` at each milestone of one run, then at its end, in order.

    Only the milestones before the record's own compute: a milestone's record
    (`budgets.at_milestones`) carries the whole run's milestones.
    """
    points = [
        (m["train_tflop"], m["train_seconds"], m["scores"][metric])
        for m in (run.get("milestones") or {}).values()
        if metric in m["scores"] and m["train_tflop"] < run["train_tflop"]
    ]
    points.append((run["train_tflop"], run["train_seconds"], run["scores"][metric]))
    return sorted(points)


def _reach(points: list[tuple[float, float, float]], target: float) -> tuple[float, float]:
    """TFLOP and seconds at which a lower-is-better curve first reaches ``target``.

    Interpolated in log compute between the two milestones around the crossing; ``inf``
    when the run never reaches it.
    """
    before = None
    for tflop, seconds, value in points:
        if value <= target:
            if before is None or before[2] == value:
                return tflop, seconds
            share = (before[2] - target) / (before[2] - value)
            return tuple(
                math.exp(math.log(a) + share * (math.log(b) - math.log(a)))
                for a, b in ((before[0], tflop), (before[1], seconds))
            )
        before = (tflop, seconds, value)
    return math.inf, math.inf


def _faster(a: list[float], b: list[float]) -> bool:
    """Whether reach times ``a`` (one per seed) are shorter than ``b``'s.

    Shorter: every ``a`` reached and some ``b`` not, or significantly lower in log time
    (Welch, one-sided, over seeds).
    """
    if math.inf in a:
        return False
    if math.inf in b:
        return True
    rows = [sample([{"scores": {"t": math.log(v)}} for v in x], "t") for x in (a, b)]
    return significantly_better(*rows, higher=False)


def cgml_convergence(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task, metric = "completion", "lpips"
    groups = {m: ev.runs(task, m) for m in ("cgml", "cvae", "cgan")}
    if not all(r.get("milestones") for g in groups.values() for r in g) or not all(groups.values()):
        why = f"{task}: a model has no milestone-scored run here"
        return Finding("not measured", [why], ev.paths(groups["cgml"]))
    floor, ceiling = ev.floor(task, metric, higher=False), ev.ceiling(task)
    if not floor or not ceiling:
        return Finding("not measured", [f"{task}: no floor or ceiling reference"])
    best, real = floor[0]["scores"][metric], ceiling[0]["scores"][metric]
    target = best - HEADROOM_SHARE * (best - real)
    reach = {m: [_reach(_curve(r, metric), target) for r in g] for m, g in groups.items()}
    flops = {m: [t for t, _ in v] for m, v in reach.items()}
    seconds = {m: [s for _, s in v] for m, v in reach.items()}
    # stability: how often a seed's curve gets worse from one milestone to the next
    rises = {
        m: sum(
            sum(b[2] > a[2] for a, b in zip(c, c[1:], strict=False))
            for c in (_curve(r, metric) for r in g)
        )
        / len(g)
        for m, g in groups.items()
    }
    reasons = [r for r in ev.problems(task, groups, metric, False) if "under-trained" not in r]
    if all(math.inf in v for v in flops.values()):
        top = max(r["train_tflop"] for g in groups.values() for r in g)
        reasons.append(
            f"under-trained at this budget: no model reaches {metric} {target:.4f} on every "
            f"seed by {top:.3g} TFLOP"
        )
    baselines = ("cvae", "cgan")
    faster = all(_faster(flops["cgml"], flops[m]) for m in baselines) and all(
        _faster(seconds["cgml"], seconds[m]) for m in baselines
    )
    slower = any(_faster(flops[m], flops["cgml"]) for m in baselines)
    stabler = rises["cgml"] <= min(rises[m] for m in baselines)

    def show(values: dict) -> str:
        return "; ".join(f"{m} " + ", ".join(f"{v:.3g}" for v in vs) for m, vs in values.items())

    numbers = [
        f"target {metric} {target:.4f}: {HEADROOM_SHARE:.0%} of the way from the best floor "
        f"({floor[0]['model']} {best:.4f}) to real data ({real:.4f})",
        f"TFLOP to reach it per seed (inf: not within the budget): {show(flops)}",
        f"training seconds to reach it (this protocol's hosts): {show(seconds)}",
        stat_line(ev, groups, metric) + " at the end of the budget",
        "milestones at which a seed's curve gets worse, per seed: "
        + ", ".join(f"{m} {n:.2f}" for m, n in rises.items()),
        f"curves: report/{task}_budget.png",
    ]
    verdict = decide(reasons, faster and stabler, slower)
    return Finding(verdict, numbers, ev.paths(groups["cgml"]))


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
        "Rule, on completion's milestone scores (every seed scored along its run, "
        "`budget.milestones`): the target is LPIPS a quarter of the way from the best floor "
        "reference to real data; *faster* = cGML reaches it on every seed with significantly "
        "fewer TFLOP and seconds than CVAE and CGAN (Welch over seeds on log compute, "
        "interpolated between milestones), or reaches it where a baseline does not; *more "
        "stable* = its curves get worse between milestones no more often. Does not hold if a "
        "baseline reaches it significantly faster; *under-trained at this budget* if no model "
        "reaches it." + EVIDENCE,
        cgml_convergence,
    ),
]
