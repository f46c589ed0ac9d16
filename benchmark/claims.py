"""The source papers' claims, checked against the run records: ``results/claims.md``.

``cgbench claims`` (also run by ``make leaderboard``). Every claim is data (`Claim`: source,
text, verdict rule, check) in `CLAIMS`, and its rule is applied once per profile (``full``,
``standard``, ``quick``) to the mean over that profile's seeds; the numbers give mean ± standard
deviation over seeds, and the records used are listed, so each verdict traces back to its runs.
Verdicts from fewer than 3 seeds say so.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cgbench import records as R
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


def _seeds(*groups: list[dict]) -> str:
    n = min(len(g) for g in groups)
    return "" if n >= 3 else f" ({n} seed{'s' if n != 1 else ''})"


def _label(runs: list[dict]) -> str:
    return f"{runs[0]['model']} ({runs[0]['profile']}, {len(runs)} seed{'s' * (len(runs) > 1)})"


def lc_close_to_real(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    lc, prior = ev.runs("celeba", "lc"), ev.runs("celeba", "lc[prior]")
    if not lc:
        return Finding("not measured", ["no CelebA LC record"])
    acc, ceiling = ev.mean(lc, "attr_acc"), lc[0]["evaluator"]["test_acc"]
    gap = ceiling - acc
    verdict = ("holds" if gap <= 0.05 else "does not hold") + _seeds(lc)
    numbers = [f"{_label(lc)} attr_acc {ev.stat(lc, 'attr_acc')}; evaluator on real test faces "
               f"{ceiling:.4f}; gap {gap:.4f}",
               "the same VAE sampled without the actor (lc[prior]) "
               f"{ev.stat(prior, 'attr_acc')}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(lc))


def lc_new_attribute(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    runs = ev.runs("celeba_new_attributes", "lc")
    prior = ev.runs("celeba_new_attributes", "lc[prior]")
    if not runs:
        return Finding("not measured", ["no celeba_new_attributes LC record"])
    cached = all(r.get("vae_from_cache") for r in runs)
    acc, base = ev.mean(runs, "attr_acc"), ev.mean(prior, "attr_acc")
    stages = [r.get("stage_seconds", {}) for r in runs]
    holds = cached and acc - base >= 0.05
    verdict = ("holds" if holds else "does not hold") + _seeds(runs)
    numbers = [f"VAE from the cache in every run: {cached}; stage seconds per run {stages}",
               f"{_label(runs)} attr_acc {ev.stat(runs, 'attr_acc')} vs its prior samples "
               f"{ev.stat(prior, 'attr_acc')}; evaluator "
               f"{runs[0]['evaluator']['test_acc']:.4f}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(runs))


def acgan_diverse(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    runs = ev.runs("mnist", "acgan")
    if not runs:
        return Finding("not measured", ["no MNIST AC-GAN record"])
    div, real, acc = (
        ev.mean(runs, m) for m in ("pairwise_ms_ssim", "pairwise_ms_ssim_real", "attr_acc")
    )
    holds = div <= real + 0.05 and acc >= 0.95
    verdict = ("holds" if holds else "does not hold") + _seeds(runs)
    pairwise = ev.stat(runs, "pairwise_ms_ssim")
    numbers = [f"{_label(runs)} within-class MS-SSIM {pairwise} (real test "
               f"digits {real:.4f}); attr_acc {ev.stat(runs, 'attr_acc')}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(runs))


def cgml_modes(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    task = "completion_mnist_multimodal"
    groups = {m: ev.runs(task, m) for m in ("cgml", "cgml[no_rho]", "cvae", "cgan")}
    if not groups["cgml"]:
        return Finding("not measured", ["no cGML record on multimodal MNIST"])
    cover = {m: ev.mean(g, "mode_coverage") for m, g in groups.items() if g}
    best_baseline = max((v for m, v in cover.items() if not m.startswith("cgml")), default=0)
    holds = cover["cgml"] >= 0.5 and cover["cgml"] >= best_baseline
    verdict = ("holds" if holds else "does not hold") + _seeds(groups["cgml"])
    numbers = ", ".join(f"{_label(g)} {ev.stat(g, 'mode_coverage')}" for g in groups.values() if g)
    return Finding(verdict, ["mode_coverage: " + numbers], ev.paths(groups["cgml"]))


def cgml_quality(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    numbers, holds, paths = [], [], []
    for task in ("completion", "colorization"):
        groups = {m: ev.runs(task, m) for m in ("cgml", "cvae", "cgan")}
        if not all(groups.values()):
            return Finding("not measured", [f"{task}: a cGML, CVAE or CGAN record is missing"])
        lpips = {m: ev.mean(g, "lpips_best") for m, g in groups.items()}
        holds.append(lpips["cgml"] <= min(lpips["cvae"], lpips["cgan"]) + 0.005)
        numbers.append(f"{task} lpips_best: " + ", ".join(f"{_label(g)} {ev.stat(g, 'lpips_best')}"
                                                           for g in groups.values()))  # fmt: skip
        paths += ev.paths(groups["cgml"])
    verdict = ("holds" if all(holds) else "does not hold") + _seeds(ev.runs("completion", "cgml"))
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
    faster = reach["cgml"] <= min(reach["cvae"], reach["cgan"])
    stabler = rises["cgml"] <= min(rises["cvae"], rises["cgan"])
    verdict = "holds" if faster and stabler else "does not hold" if not faster else "inconclusive"
    seconds = {m: ev.runs("completion", m)[0]["train_seconds"] / c["batches"].iloc[-1]
               for m, c in curves.items()}  # fmt: skip
    numbers = [f"level {level:.4f}; batches to reach it: "
               + ", ".join(f"{m} {b}" for m, b in reach.items()),
               "training seconds per batch (a batch's cost differs; CPU, 2 cores): "
               + ", ".join(f"{m} {t:.2f}" for m, t in seconds.items())
               + "; so seconds to reach the level: "
               + ", ".join(f"{m} {reach[m] * t:.0f}" for m, t in seconds.items()),
               "rises of more than 1% between evaluations: "
               + ", ".join(f"{m} {n}" for m, n in rises.items()),
               "one seed's curve per model; plot: report/completion_convergence.png"]  # fmt: skip
    return Finding(verdict + " (1 seed)", numbers, ev.paths(ev.runs("completion", "cgml"))[:1])


def csvae_no_leak(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    csvae, cvae = ev.runs("celeba", "csvae"), ev.runs("celeba", "cvae")
    if not csvae:
        return Finding("not measured", ["no CelebA CSVAE record"])
    worst = ev.mean(csvae, "leakage_max")
    verdict = ("holds" if worst <= 0.05 else "does not hold") + _seeds(csvae)
    numbers = [f"{_label(g)}{' (contrast)' * (g is cvae)} leakage mean {ev.stat(g, 'leakage')}, "
               f"max {ev.stat(g, 'leakage_max')}" for g in (csvae, cvae) if g]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(csvae))


def cvae_more_accurate(ev: Evidence) -> Finding:
    """Apply the rule of this check's `CLAIMS` entry to one profile's evidence."""
    csvae, cvae = ev.runs("celeba", "csvae"), ev.runs("celeba", "cvae")
    if not (csvae and cvae):
        return Finding("not measured", ["a CelebA CVAE or CSVAE record is missing"])
    a, b = ev.mean(cvae, "attr_acc"), ev.mean(csvae, "attr_acc")
    verdict = ("holds" if a > b else "does not hold") + _seeds(cvae, csvae)
    numbers = [f"{_label(cvae)} vs {_label(csvae)}: " + "; ".join(
        f"{m} {ev.stat(cvae, m)} vs {ev.stat(csvae, m)}"
        for m in ("attr_acc", "attr_recall", "edit_success", "edit_lpips"))]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(cvae) + ev.paths(csvae))


CLAIMS = [
    Claim(
        "Latent Constraints",
        (
            "Conditional samples from an unconditional VAE reach attribute accuracy close to real "
            "data."
        ),
        "Rule: holds if LC's attr_acc on CelebA is within 0.05 of the evaluator's on real faces.",
        lc_close_to_real,
    ),
    Claim(
        "Latent Constraints",
        "A new attribute costs only the latent stage.",
        (
            "Rule: holds if the new-attribute run reused the cached VAE (no stage 1 trained) "
            "and its "
            "actor's attr_acc beats the same VAE's prior samples by at least 0.05."
        ),
        lc_new_attribute,
    ),
    Claim(
        "AC-GAN",
        "Samples as diverse as real data within a class (MS-SSIM) at high class accuracy.",
        (
            "Rule: holds if AC-GAN's within-class MS-SSIM on MNIST is at most the real data's "
            "+ 0.05 "
            "(lower is more diverse) and its attr_acc is at least 0.95."
        ),
        acgan_diverse,
    ),
    Claim(
        "cGML",
        "Reaches several modes on multimodal MNIST.",
        (
            "Rule: holds if cGML covers both completions for at least half the test inputs and no "
            "less often than CVAE and CGAN; does not hold if it covers fewer than half."
        ),
        cgml_modes,
    ),
    Claim(
        "cGML",
        "Completion and colorization at least as good as CVAE/CGAN.",
        (
            "Rule: holds if cGML's best-of-K LPIPS is no worse than the better of CVAE and CGAN on "
            "both completion and colorization (tolerance 0.005)."
        ),
        cgml_quality,
    ),
    Claim(
        "cGML",
        "Faster and more stable convergence.",
        (
            "Rule, on completion's validation L1 of one sample (``val_curves.csv``, the first "
            "seed's): *faster* = fewer batches to reach the level every model ends at (the worst "
            "final value); *more stable* = no more rises between evaluations than the baselines. "
            "Holds if both, does not hold if cGML is slower; otherwise inconclusive. Not "
            "measured on "
            "curves with fewer than 5 evaluations (the quick profile validates once)."
        ),
        cgml_convergence,
    ),
    Claim(
        "CSVAE",
        "z carries no label information.",
        (
            "Rule: holds if no attribute is readable from CSVAE's z on CelebA: probe accuracy "
            "within "
            "0.05 of the majority rate for every attribute (``leakage_max`` <= 0.05)."
        ),
        csvae_no_leak,
    ),
    Claim(
        "CSVAE replication",
        "CVAE generates attributes more accurately than CSVAE.",
        "Rule: holds if CVAE's attr_acc on CelebA exceeds CSVAE's (same profile).",
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
             "(stated under it) is applied per profile to the mean over that profile's seeds;",
             "numbers are mean ± standard deviation over seeds, records are paths under",
             "`results/`. `quick` is the 3-seed matrix of `make benchmark` (minutes of",
             "training: a first look); `standard` and `full` train far longer on fewer seeds.",
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
    return "\n".join(lines) + "\n"


def write(results_dir: Path = Path("results"), records: list[dict] | None = None) -> Path:
    """Write ``claims.md`` under ``results_dir`` atomically; return its path."""
    path = Path(results_dir) / "claims.md"
    R.atomic_write(path, render(results_dir, records))
    return path
