"""The source papers' claims, checked against the run records: ``results/claims.md``.

``cgbench claims`` (also run by ``make leaderboard``). Every claim is data (`Claim`: source,
text, verdict rule, check) in `CLAIMS`, and its rule is applied once per profile (``full``,
``standard``, ``quick``); the numbers give mean ± standard deviation over seeds, and the records
used are listed, so each verdict traces back to its runs. A verdict is given only when every
run it uses has 3 seeds and beats its task's floor reference significantly, and the difference
it rests on is significant; otherwise it is ``inconclusive`` with the reason.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cgbench import records as R
from cgbench.leaderboard import sample, significantly_better
from cgbench.tables import markdown_table

PROFILES = tuple(p for p in reversed(R.PROFILES) if p != "smoke")  # most thorough first


@dataclass(frozen=True)
class Claim:
    """A source paper's claim as data: who claims it, what, the verdict rule and its check.

    Attributes:
        source: The paper (or replication) that makes the claim.
        text: The claim, one sentence.
        rule: The verdict rule, printed in claims.md; ``check`` applies it.
        check: ``Evidence -> Finding`` for one profile's records.
    """

    source: str
    text: str
    rule: str
    check: Callable[["Evidence"], "Finding"]


@dataclass
class Finding:
    """A claim's verdict, the numbers behind it and the records they come from."""

    verdict: str
    numbers: list[str]
    records: list[str] = field(default_factory=list)


class Evidence:
    """The successful records of one profile, grouped by (task, model) through ``runs``."""

    def __init__(self, records: list[dict], profile: str, results_dir: Path = Path("results")):
        self.profile = profile
        self.results_dir = Path(results_dir)  # where per-run files (val_curves.csv) are read
        self.records = [
            r
            for r in records
            if r.get("status", "ok") == "ok" and r["profile"].rstrip("*") == profile
        ]  # old records have no status

    def runs(self, task: str, model: str) -> list[dict]:
        """Every seed's record of ``model`` on ``task`` in this profile."""
        return [r for r in self.records if r["task"] == task and r["model"] == model]

    @staticmethod
    def values(runs: list[dict], metric: str) -> list[float]:
        return [r["scores"][metric] for r in runs if metric in r["scores"]]

    @classmethod
    def mean(cls, runs: list[dict], metric: str) -> float:
        values = cls.values(runs, metric)
        return sum(values) / len(values) if values else math.nan

    @classmethod
    def stat(cls, runs: list[dict], metric: str) -> str:
        """``"mean ± sd"`` over seeds (sample standard deviation), or the one value."""
        values = cls.values(runs, metric)
        if len(values) < 2:
            return f"{cls.mean(runs, metric):.4f}"
        return f"{cls.mean(runs, metric):.4f} ± {pd.Series(values).std():.4f}"

    @staticmethod
    def paths(runs: list[dict]) -> list[str]:
        return [
            f"runs/{r['task']}/{r.get('variant_of', r['model'])}/{r['profile'].rstrip('*')}/"
            f"seed{r['seed']}"
            for r in runs
        ]

    def budget(self, paths: list[str]) -> str:
        """The training compute behind records (by path): their FLOP budgets, or epochs."""
        runs = [r for r in self.records if not r.get("variant_of") and self.paths([r])[0] in paths]
        tflop = sorted({r["budget_tflop"] for r in runs if r.get("budget_tflop")})
        if tflop and all(r.get("budget_tflop") for r in runs):
            return " / ".join(f"{t:g}" for t in tflop) + " TFLOP per run"
        return "epoch schedules (no FLOP budget): " + ", ".join(
            sorted({f"{r['model']} {r.get('epochs')} epochs" for r in runs})
        )

    def floor(self, task: str, metric: str, higher: bool = True, name: str | None = None):
        """The best floor reference's record on ``metric`` (a one-item list; empty if none).

        ``name`` picks one floor (e.g. ``ref_constant``) where the best is no test: real faces
        with shuffled conditions have the real data's FID.
        """
        floors = [r for r in self.records if r["task"] == task and r.get("reference") == "floor"
                  and metric in r["scores"] and name in (None, r["model"])]  # fmt: skip
        floors.sort(key=lambda r: r["scores"][metric], reverse=higher)
        return floors[:1]

    def ceiling(self, task: str) -> list[dict]:
        """The real-data reference's record (``ref_real``), as a list."""
        return self.runs(task, "ref_real")

    def better(self, a: list[dict], b: list[dict], metric: str, higher: bool = True) -> bool:
        """Whether ``a`` beats ``b`` on ``metric`` significantly (see `significantly_better`)."""
        return significantly_better(sample(a, metric), sample(b, metric), higher)

    def problems(self, task: str, groups: dict[str, list[dict]], metric: str,
                 higher: bool = True, floor: str | None = None) -> list[str]:  # fmt: skip
        """Why a verdict resting on ``groups`` cannot be given: missing, seeds, under-trained.

        Every group needs a record, current (not stale) and at least 3 seeds, and must beat the
        task's best floor (or the floor named ``floor``) on ``metric`` significantly (a run
        that never learned is no evidence either way).
        """
        reasons = [f"no {name} record" for name, runs in groups.items() if not runs]
        if reasons:
            return reasons
        stale = sorted({str(r["stale"]) for g in groups.values() for r in g if r.get("stale")})
        if stale:  # scored under another protocol or code: no evidence for today's rule
            reasons.append(f"stale records ({', '.join(stale)})")
        models = {n: g for n, g in groups.items() if not g[0].get("reference")}  # refs: 1 run
        few = min((len(runs) for runs in models.values()), default=MIN_SEEDS)
        if few < MIN_SEEDS:
            reasons.append(f"{few} seed{'s' * (few != 1)}")
        floor = self.floor(task, metric, higher, floor)
        if not floor:
            reasons.append("no floor reference")
        else:
            low = [n for n, runs in models.items() if not self.better(runs, floor, metric, higher)]
            if low:
                reasons.append(f"under-trained: {', '.join(low)} not above the "
                               f"{floor[0]['model']} floor on {metric}")  # fmt: skip
        return reasons


MIN_SEEDS = 3  # fewer seeds make no verdict


def decide(reasons: list[str], holds: bool, fails: bool) -> str:
    """``holds`` / ``does not hold`` when the evidence allows it, else ``inconclusive (why)``."""
    if not reasons and not (holds or fails):
        reasons = ["not significant"]
    if reasons:
        return f"inconclusive ({'; '.join(dict.fromkeys(reasons))})"
    return "holds" if holds else "does not hold"


def _label(runs: list[dict]) -> str:
    return f"{runs[0]['model']} ({runs[0]['profile']}, {len(runs)} seed{'s' * (len(runs) > 1)})"


def _stat_line(ev: Evidence, groups: dict[str, list[dict]], metric: str) -> str:
    return f"{metric}: " + ", ".join(f"{_label(g)} {ev.stat(g, metric)}" for g in groups.values()
                                     if g)  # fmt: skip


def lc_close_to_real(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task, metric = "celeba", "attr_balanced"
    lc, prior, real = ev.runs(task, "lc"), ev.runs(task, "lc[prior]"), ev.ceiling(task)
    if not lc:
        return Finding("not measured", ["no CelebA LC record"])
    floor = ev.floor(task, metric)
    reasons = ev.problems(task, {"lc": lc, "ref_real": real}, metric)
    numbers = [_stat_line(ev, {"lc": lc, "lc[prior]": prior}, metric)]
    holds = fails = False
    if real and floor:
        top, bottom = ev.mean(real, metric), ev.mean(floor, metric)
        span = sample(lc, metric)
        share = [(v - bottom) / max(top - bottom, 1e-9) for v in (span["_low"], span["_high"])]
        holds, fails = share[0] >= HEADROOM, share[1] < HEADROOM
        numbers.append(f"floor ({floor[0]['model']}) {bottom:.4f}, ceiling (ref_real) {top:.4f}: "
                       f"LC closes {share[0]:.0%} to {share[1]:.0%} of the headroom "
                       f"(95% interval)")  # fmt: skip
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
    latent = [sum(v for k, v in r.get("stage_seconds", {}).items() if not k.startswith("stage1"))
              for r in lc]  # fmt: skip
    retrain = [r["train_seconds"] for r in cvae]
    cheap = bool(retrain) and cached and max(latent) < min(retrain)
    gain = bool(prior) and ev.better(lc, prior, metric)
    numbers = [f"VAE from the cache in every run: {cached}; latent-stage seconds {latent} vs "
               f"training a CVAE for the new attributes {retrain}",
               _stat_line(ev, {"lc": lc, "lc[prior]": prior, "cvae": cvae}, metric)]  # fmt: skip
    return Finding(decide(reasons, cheap and gain, not cheap or not gain), numbers,
                   ev.paths(lc))  # fmt: skip


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
        f"{_label(runs)} within-class MS-SSIM {ev.stat(runs, 'pairwise_ms_ssim')} vs real "
        f"test digits {ev.stat(runs, 'pairwise_ms_ssim_real')}; gap "
        f"{ev.stat(runs, 'pairwise_ms_ssim_gap')} (95% interval {gap['_low']:.4f} to "
        f"{gap['_high']:.4f}); attr_acc {ev.stat(runs, 'attr_acc')}",
        "gap per class (mean over seeds): "
        + (", ".join(f"{c} {g:.3f}" for c, g in per_class.items()) or "none recorded"),
        f"tolerance {tolerance:.4f} (0.05, or real test digits' own gap when larger: "
        f"{', '.join(f'{v:.4f}' for v in real) or 'no ref_real record'})",
    ]
    # fmt: skip
    return Finding(decide(reasons, holds, fails), numbers, ev.paths(runs))


def class_gaps(runs: list[dict]) -> dict[str, float]:
    """Per class, |samples' within-class MS-SSIM - real digits'|, averaged over seeds."""
    rows = [(r["details"].get("pairwise_ms_ssim"), r["details"].get("pairwise_ms_ssim_real"))
            for r in runs if r.get("details")]  # fmt: skip
    rows = [(d, real) for d, real in rows if d and real]
    if not rows:
        return {}
    classes = [c for c in rows[0][0] if all(c in d and c in real for d, real in rows)]
    return {c: sum(abs(d[c] - real[c]) for d, real in rows) / len(rows) for c in classes}


DIVERSITY_TOLERANCE = 0.05  # |samples' MS-SSIM - real data's| that still counts as "as diverse"


def _modes(ev: Evidence, task: str) -> dict[str, list[dict]]:
    return {m: ev.runs(task, m) for m in ("cgml", "cvae", "cgan")}


def _shares(runs: list[dict]) -> str:
    shares = [r["details"].get("modes", {}).get("overlaid_share") for r in runs]
    true = [r["details"].get("modes", {}).get("true_overlaid_share") for r in runs]
    return f"overlaid share of samples {shares} (data: {true[:1]})"


def cgml_plain_at_20(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task = "completion_mnist_multimodal"
    groups = _modes(ev, task)
    if not groups["cgml"]:
        return Finding("not measured", ["no cGML record on multimodal MNIST at 20%"])
    reasons = ev.problems(task, {"cgml": groups["cgml"]}, "ssim_best")
    gap = sample(groups["cgml"], "mode_share_gap")
    true = groups["cgml"][0]["details"].get("modes", {}).get("true_overlaid_share", math.nan)
    # converged to the plain digit: the overlaid share is at most a quarter of the data's
    holds, fails = gap["_low"] >= 0.75 * true, gap["_high"] < 0.75 * true
    numbers = [_stat_line(ev, groups, "mode_share_gap"), f"cgml: {_shares(groups['cgml'])}"]
    return Finding(decide(reasons, holds, fails), numbers, ev.paths(groups["cgml"]))


def cgml_modes(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task = "completion_mnist_multimodal_alt30"
    groups = _modes(ev, task)
    if not groups["cgml"]:
        return Finding("not measured", ["no cGML record on multimodal MNIST at 30%"])
    reasons = ev.problems(task, groups, "ssim_best")
    others = [g for m, g in groups.items() if m != "cgml" and g]
    holds = all(ev.better(groups["cgml"], g, "mode_coverage") for g in others)
    fails = any(ev.better(g, groups["cgml"], "mode_coverage") for g in others)
    numbers = [_stat_line(ev, groups, "mode_coverage"), f"cgml: {_shares(groups['cgml'])}"]
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
        numbers.append(f"{task} " + _stat_line(ev, groups, "lpips_best"))
        paths += ev.paths(groups["cgml"])
    # "at least as good": not significantly worse than the better baseline on either task
    if refuted:
        return Finding("does not hold", numbers, paths)
    verdict = decide(reasons, len(worse) == 2 and not any(worse), any(worse))
    return Finding(verdict, numbers, paths)


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
    rises = {m: int((c["val/sample_l1"].diff() > 0.01 * c["val/sample_l1"]).sum())
             for m, c in curves.items()}  # fmt: skip
    seconds = {m: ev.runs("completion", m)[0]["train_seconds"] / c["batches"].iloc[-1]
               for m, c in curves.items()}  # fmt: skip
    faster = reach["cgml"] <= min(reach["cvae"], reach["cgan"])
    faster_s = reach["cgml"] * seconds["cgml"] <= min(
        reach[m] * seconds[m] for m in ("cvae", "cgan")
    )
    stabler = rises["cgml"] <= min(rises["cvae"], rises["cgan"])
    groups = {m: ev.runs("completion", m) for m in curves}
    reasons = ev.problems("completion", groups, "lpips", higher=False)
    reasons.append("one seed's curve per model")  # curves of more seeds: not compared yet
    numbers = [f"level {level:.4f}; batches to reach it: "
               + ", ".join(f"{m} {b}" for m, b in reach.items()),
               "training seconds per batch (a batch's cost differs; CPU, 2 cores): "
               + ", ".join(f"{m} {t:.2f}" for m, t in seconds.items())
               + "; so seconds to reach the level: "
               + ", ".join(f"{m} {reach[m] * t:.0f}" for m, t in seconds.items()),
               f"faster per batch: {faster}; per second: {faster_s}; "
               "rises of more than 1% between evaluations: "
               + ", ".join(f"{m} {n}" for m, n in rises.items()),
               "plot: report/completion_convergence.png"]  # fmt: skip
    verdict = decide(reasons, faster and faster_s and stabler, not (faster or faster_s))
    return Finding(verdict, numbers, ev.paths(ev.runs("completion", "cgml"))[:1])


def csvae_less_information(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task = "celeba"
    groups = {m: ev.runs(task, m) for m in ("csvae", "cvae", "lc")}
    if not groups["csvae"]:
        return Finding("not measured", ["no CelebA CSVAE record"])
    # CSVAE's and CVAE's z are latents of generators: each must generate above the floor. LC's
    # latent is its stage-1 VAE's, which the latent actor never changes: that unconditional
    # VAE must have learnt the faces (prior samples' fid_eval below one constant image's).
    reasons = ev.problems(task, {m: groups[m] for m in ("csvae", "cvae")}, "attr_balanced")
    reasons += ev.problems(task, {"lc": ev.runs(task, "lc[prior]")}, "fid_eval",
                           higher=False, floor="ref_constant")  # fmt: skip
    base = [g for m, g in groups.items() if m != "csvae" and g]
    holds = all(ev.better(groups["csvae"], g, "latent_auroc", higher=False) for g in base)
    fails = any(ev.better(g, groups["csvae"], "latent_auroc", higher=False) for g in base)
    vae = {"lc[prior]": ev.runs(task, "lc[prior]"),
           "ref_constant": ev.floor(task, "fid_eval", False, "ref_constant")}  # fmt: skip
    numbers = [_stat_line(ev, groups, "latent_auroc") + " (0.5: nothing readable)",
               _stat_line(ev, groups, "leakage_max"),
               "LC's VAE learnt the faces: " + _stat_line(ev, vae, "fid_eval")]  # fmt: skip
    return Finding(decide(reasons, holds, fails), numbers, ev.paths(groups["csvae"]))


def cvae_more_accurate(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    groups = {m: ev.runs("celeba", m) for m in ("cvae", "csvae")}
    if not all(groups.values()):
        return Finding("not measured", ["a CelebA CVAE or CSVAE record is missing"])
    reasons = ev.problems("celeba", groups, "attr_balanced")
    holds = ev.better(groups["cvae"], groups["csvae"], "attr_tpr")
    fails = ev.better(groups["csvae"], groups["cvae"], "attr_tpr")
    numbers = [_stat_line(ev, groups, m) for m in ("attr_tpr", "attr_balanced", "edit_success")]
    return Finding(decide(reasons, holds, fails), numbers,
                   ev.paths(groups["cvae"]) + ev.paths(groups["csvae"]))  # fmt: skip


EVIDENCE = (
    " Every verdict needs 3 seeds of every run it uses, each significantly above the task's best"
    " floor reference; otherwise it is inconclusive, with the reason. Comparisons use Welch's"
    " one-sided t-test over seeds at 5%, under the profile's budgets."
)

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
    Claim(
        "cGML",
        "With 20% of inputs overlaid, it converges to the plain digit.",
        "Rule: on completion_mnist_multimodal (top half hidden, 20% overlaid), cGML's samples "
        "take the overlaid mode at most a quarter as often as the data does "
        "(`mode_share_gap` >= 0.75 x the data's overlaid share over its 95% interval)." + EVIDENCE,
        cgml_plain_at_20,
    ),
    Claim(
        "cGML",
        "With a frequent alternate mode (30%), its samples reach both modes.",
        "Rule: on completion_mnist_multimodal_alt30, cGML's `mode_coverage` (inputs whose K "
        "samples reach both completions) beats CVAE's and CGAN's significantly; does not hold "
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
    Claim(
        "CSVAE",
        "z carries less label information than the baselines' latents.",
        "Rule: on CelebA, a fresh probe reads the attributes from CSVAE's z with a lower macro "
        "AUROC (`latent_auroc`, 0.5 = nothing readable) than from CVAE's z and from LC's "
        "unconditional VAE latent, significantly; does not hold if either baseline's is "
        "significantly lower. LC's latent actor never changes its VAE's z, so LC is gated on "
        "that VAE having learnt the faces (`lc[prior]` fid_eval below `ref_constant`'s), not "
        "on the actor's attribute accuracy." + EVIDENCE,
        csvae_less_information,
    ),
    Claim(
        "CSVAE replication",
        "CVAE generates attributes more accurately than CSVAE.",
        "Rule: on CelebA, the replication's protocol: the share of requested attributes that "
        "the evaluator sees (`attr_tpr`, macro over attributes) is higher for CVAE than for "
        "CSVAE, significantly; does not hold if CSVAE's is significantly higher." + EVIDENCE,
        cvae_more_accurate,
    ),
]


def findings(
    results_dir: Path = Path("results"), records: list[dict] | None = None
) -> tuple[list[Evidence], list[tuple]]:
    """Each profile's evidence and, per claim, ``(claim, [finding per profile])``.

    ``records`` (default: read from ``results_dir``) lets a caller that has them skip a re-read.
    """
    records = R.collect(Path(results_dir)) if records is None else records
    views = [Evidence(records, profile, results_dir) for profile in PROFILES]
    return views, [(claim, [claim.check(ev) for ev in views]) for claim in CLAIMS]


def verdict_table(rows: list[tuple]) -> list[str]:
    """The markdown table of verdicts: a row per claim, a column per profile."""
    cells = [[claim.source, claim.text, *(f.verdict for f in fs)] for claim, fs in rows]
    return markdown_table(["source", "claim", *PROFILES], cells)


def render(results_dir: Path = Path("results"), records: list[dict] | None = None) -> str:
    """The text of ``claims.md``.

    A verdict table with a column per profile, then each claim's rule and, per profile that
    measured it, its numbers and records.
    """
    views, rows = findings(results_dir, records)
    lines = ["# The papers' claims under one protocol", "",
             "Rebuilt from the run records by `cgbench claims`. Each claim's rule",
             "(stated under it) is applied per profile; numbers are mean ± standard deviation",
             "over seeds, records are paths under `results/`. A verdict needs 3 seeds of every",
             "run it uses, each significantly above its task's floor reference, and a",
             "significant difference; otherwise it is *inconclusive* with the reason.",
             "Read each claim in its task's published profile (the `published` block of the",
             "task's YAML, what `make benchmark` runs with 3 seeds): `standard` for CelebA,",
             "`quick` for MNIST and the image tasks, under equal FLOP budgets.",
             "", *verdict_table(rows)]  # fmt: skip
    for claim, found in rows:
        lines += ["", f"## {claim.source}: {claim.text}", "", claim.rule]
        for ev, finding in zip(views, found, strict=True):
            if finding.verdict == "not measured" and not finding.records:
                continue
            lines += ["", f"**{ev.profile}: {finding.verdict}.**", ""]
            lines += [f"- {n}" for n in finding.numbers]
            if finding.records:
                lines.append("- records: " + ", ".join(f"`{p}`" for p in finding.records))
                lines.append(f"- training budget of these runs: {ev.budget(finding.records)}")
    return "\n".join(lines) + "\n"


def write(results_dir: Path = Path("results"), records: list[dict] | None = None) -> Path:
    """Write ``claims.md`` under ``results_dir`` atomically; return its path."""
    path = Path(results_dir) / "claims.md"
    R.atomic_write(path, render(results_dir, records))
    return path
