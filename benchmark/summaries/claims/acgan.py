"""AC-GAN (Odena et al. 2017): samples as diverse as real data within a class."""

import math

from cgbench.summaries.claims.base import EVIDENCE, Claim, Evidence, Finding, decide, label
from cgbench.summaries.ranking import sample


def acgan_diverse(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    runs = ev.runs("mnist", "acgan")
    if not runs:
        return Finding("not measured", ["no MNIST AC-GAN record"])
    reasons = ev.problems("mnist", {"acgan": runs}, "attr_acc")
    gap = sample(runs, "pairwise_ms_ssim_gap")
    per_class = class_gaps(runs)
    worst = max(per_class.values(), default=math.nan)
    # real digits drawn again (ref_real) miss the same rows' MS-SSIM by their own gap: a
    # tolerance below it would fail real data itself
    real = ev.values(ev.ceiling("mnist"), "pairwise_ms_ssim_gap")
    tolerance = max([DIVERSITY_TOLERANCE, *real])
    holds = gap["_high"] <= tolerance and not worst > tolerance  # NaN: none
    fails = gap["_low"] > tolerance
    numbers = [
        f"{label(runs)} within-class MS-SSIM {ev.stat(runs, 'pairwise_ms_ssim')} vs real "
        f"test digits {ev.stat(runs, 'pairwise_ms_ssim_real')}; gap "
        f"{ev.stat(runs, 'pairwise_ms_ssim_gap')} (95% interval {gap['_low']:.4f} to "
        f"{gap['_high']:.4f}); attr_acc {ev.stat(runs, 'attr_acc')}",
        "gap per class (mean over seeds): "
        + (", ".join(f"{c} {g:.3f}" for c, g in per_class.items()) or "none recorded"),
        f"tolerance {tolerance:.4f} (0.05, or real test digits' own gap when larger: "
        f"{', '.join(f'{v:.4f}' for v in real) or 'no ref_real record'})",
    ]

    return Finding(decide(reasons, holds, fails), numbers, ev.paths(runs))


def class_gaps(runs: list[dict]) -> dict[str, float]:
    """Per class, |samples' within-class MS-SSIM - real digits'|, averaged over seeds."""
    rows = [
        (r["details"].get("pairwise_ms_ssim"), r["details"].get("pairwise_ms_ssim_real"))
        for r in runs
        if r.get("details")
    ]
    rows = [(d, real) for d, real in rows if d and real]
    if not rows:
        return {}
    classes = [c for c in rows[0][0] if all(c in d and c in real for d, real in rows)]
    return {c: sum(abs(d[c] - real[c]) for d, real in rows) / len(rows) for c in classes}


DIVERSITY_TOLERANCE = 0.05  # |samples' MS-SSIM - real data's| that still counts as "as diverse"


CLAIMS = [
    Claim(
        "AC-GAN",
        "Samples as diverse as real data within a class (MS-SSIM) at high class accuracy.",
        "Rule: on MNIST, two-sided: the distance between AC-GAN's within-class MS-SSIM and the "
        "real digits' on the same rows (`pairwise_ms_ssim_gap`) is at most the tolerance over "
        "its whole 95% interval, every class included (holds), or above it over all of it "
        "(does not hold); more varied than real data is not better. The tolerance is 0.05, or "
        "the gap that real test digits drawn again (`ref_real`) show, when larger. AC-GAN must "
        "be above the attr_acc floor." + EVIDENCE,
        acgan_diverse,
    ),
]
