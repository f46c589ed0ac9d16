"""Latent Constraints (Engel et al. 2018): near real data; a new attribute costs one stage."""

from cgbench.summaries.claims.base import EVIDENCE, Claim, Evidence, Finding, decide, stat_line
from cgbench.summaries.ranking import sample


def lc_close_to_real(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task, metric = "celeba", "attr_balanced"
    lc, prior, real = ev.runs(task, "lc"), ev.runs(task, "lc[prior]"), ev.ceiling(task)
    if not lc:
        return Finding("not measured", ["no CelebA LC record"])
    floor = ev.floor(task, metric)
    reasons = ev.problems(task, {"lc": lc, "ref_real": real}, metric)
    numbers = [stat_line(ev, {"lc": lc, "lc[prior]": prior}, metric)]
    holds = fails = False
    if real and floor:
        top, bottom = ev.mean(real, metric), ev.mean(floor, metric)
        span = sample(lc, metric)
        share = [(v - bottom) / max(top - bottom, 1e-9) for v in (span["_low"], span["_high"])]
        holds, fails = share[0] >= HEADROOM, share[1] < HEADROOM
        numbers.append(
            f"floor ({floor[0]['model']}) {bottom:.4f}, ceiling (ref_real) {top:.4f}: "
            f"LC closes {share[0]:.0%} to {share[1]:.0%} of the headroom "
            f"(95% interval)"
        )
    return Finding(decide(reasons, holds, fails), numbers, ev.paths(lc))


HEADROOM = 0.9  # "close to real data": at least this share of the floor-to-ceiling gap


def lc_new_attribute(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task, metric = "celeba_new_attributes", "attr_balanced"
    lc, prior, cvae = ev.runs(task, "lc"), ev.runs(task, "lc[prior]"), ev.runs(task, "cvae")
    if not lc:
        return Finding("not measured", ["no celeba_new_attributes LC record"])
    reasons = ev.problems(task, {"lc": lc, "cvae": cvae}, metric)
    cached = all(r.get("vae_from_cache") for r in lc)
    latent = [
        sum(v for k, v in r.get("stage_seconds", {}).items() if not k.startswith("stage1"))
        for r in lc
    ]
    retrain = [r["train_seconds"] for r in cvae]
    cheap = bool(retrain) and cached and max(latent) < min(retrain)
    gain = bool(prior) and ev.better(lc, prior, metric)
    numbers = [
        f"VAE from the cache in every run: {cached}; latent-stage seconds {latent} vs "
        f"training a CVAE for the new attributes {retrain}",
        stat_line(ev, {"lc": lc, "lc[prior]": prior, "cvae": cvae}, metric),
    ]
    return Finding(decide(reasons, cheap and gain, not cheap or not gain), numbers, ev.paths(lc))


CLAIMS = [
    Claim(
        "Latent Constraints",
        "Conditional samples from an unconditional VAE reach attribute accuracy close to real "
        "data.",
        "Rule: on CelebA, LC's attr_balanced closes at least 90% of the gap between the best "
        "floor and the ceiling (real test faces, `ref_real`): holds if the lower end of its 95% "
        "interval does, does not hold if the upper end falls short." + EVIDENCE,
        lc_close_to_real,
    ),
    Claim(
        "Latent Constraints",
        "A new attribute costs only the latent stage.",
        "Rule: on celeba_new_attributes, every LC run reused the cached VAE, its latent stage "
        "took less time than training a CVAE for the new attributes, and its actor's samples "
        "beat the same VAE's prior samples (`lc[prior]`) on attr_balanced significantly."
        + EVIDENCE,
        lc_new_attribute,
    ),
]
