"""The source papers' claims, checked against the run records: ``results/claims.md``.

``python -m benchmark claims`` (also run by ``make leaderboard``). Every claim names its
measurement and a verdict rule fixed in this file; the numbers are read from the records (mean
over seeds of the most thorough profile that has the needed runs: ``full``, then ``standard``,
then ``quick``), and the records used are listed, so each verdict traces back to its runs.
Verdicts from fewer than 3 seeds say so.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark import leaderboard

PROFILES = ("full", "standard", "quick")  # most thorough first


@dataclass
class Finding:
    """A claim's verdict, the numbers behind it and the records they come from."""

    verdict: str
    numbers: list[str]
    records: list[str] = field(default_factory=list)


class Evidence:
    """Records grouped by (task, model); ``runs`` picks the most thorough profile present."""

    def __init__(self, records: list[dict], results_dir: Path = Path("results")):
        self.results_dir = Path(results_dir)  # where per-run files (val_curves.csv) are read
        self.records = [r for r in records if r.get("status", "ok") == "ok"]  # old: no status

    def runs(self, task: str, model: str, profile: str | None = None) -> list[dict]:
        found = [r for r in self.records if r["task"] == task and r["model"] == model]
        for name in [profile] if profile else PROFILES:
            chosen = [r for r in found if r["profile"].rstrip("*") == name]
            if chosen:
                return chosen
        return []

    @staticmethod
    def mean(runs: list[dict], metric: str) -> float:
        values = [r["scores"][metric] for r in runs if metric in r["scores"]]
        return sum(values) / len(values) if values else math.nan

    @staticmethod
    def paths(runs: list[dict]) -> list[str]:
        return [
            f"runs/{r['task']}/{r.get('variant_of', r['model'])}/{r['profile'].rstrip('*')}/"
            f"seed{r['seed']}"
            for r in runs
        ]


def _seeds(*groups: list[dict]) -> str:
    n = min(len(g) for g in groups)
    return "" if n >= 3 else f" ({n} seed{'s' if n != 1 else ''}: a single-run verdict)"


def _label(runs: list[dict]) -> str:
    return f"{runs[0]['model']} ({runs[0]['profile']}, {len(runs)} seed{'s' * (len(runs) > 1)})"


def lc_close_to_real(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule: holds if LC's attr_acc on CelebA is within 0.05 of the evaluator's on real faces.
    """
    lc, prior = ev.runs("celeba", "lc"), ev.runs("celeba", "lc[prior]")
    if not lc:
        return Finding("not measured", ["no CelebA LC record"])
    prior = [r for r in prior if r["profile"] == lc[0]["profile"]]
    acc, ceiling = ev.mean(lc, "attr_acc"), lc[0]["evaluator"]["test_acc"]
    gap = ceiling - acc
    verdict = ("holds" if gap <= 0.05 else "does not hold") + _seeds(lc)
    numbers = [f"{_label(lc)} attr_acc {acc:.4f}; evaluator on real test faces {ceiling:.4f}; "
               f"gap {gap:.4f}",
               "the same VAE sampled without the actor (lc[prior]) "
               f"{ev.mean(prior, 'attr_acc'):.4f}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(lc))


def lc_new_attribute(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule: holds if the new-attribute run reused the cached VAE (no stage 1 trained) and its
    actor's attr_acc beats the same VAE's prior samples by at least 0.05.
    """
    runs = ev.runs("celeba_new_attributes", "lc")
    prior = [r for r in ev.runs("celeba_new_attributes", "lc[prior]")
             if runs and r["profile"] == runs[0]["profile"]]  # fmt: skip
    if not runs:
        return Finding("not measured", ["no celeba_new_attributes LC record"])
    cached = all(r.get("vae_from_cache") for r in runs)
    acc, base = ev.mean(runs, "attr_acc"), ev.mean(prior, "attr_acc")
    stages = runs[0].get("stage_seconds", {})
    holds = cached and acc - base >= 0.05
    verdict = ("holds" if holds else "does not hold") + _seeds(runs)
    numbers = [f"VAE from the cache: {cached}; stage seconds {stages}",
               f"{_label(runs)} attr_acc {acc:.4f} vs its prior samples {base:.4f}; evaluator "
               f"{runs[0]['evaluator']['test_acc']:.4f}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(runs))


def acgan_diverse(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule: holds if AC-GAN's within-class MS-SSIM on MNIST is at most the real data's + 0.05
    (lower is more diverse) and its attr_acc is at least 0.95.
    """
    runs = ev.runs("mnist", "acgan")
    if not runs:
        return Finding("not measured", ["no MNIST AC-GAN record"])
    div, real, acc = (ev.mean(runs, m) for m in ("diversity", "diversity_real", "attr_acc"))
    holds = div <= real + 0.05 and acc >= 0.95
    verdict = ("holds" if holds else "does not hold") + _seeds(runs)
    numbers = [f"{_label(runs)} within-class MS-SSIM {div:.4f} (real test digits {real:.4f}); "
               f"attr_acc {acc:.4f}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(runs))


def cgml_modes(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule: holds if cGML covers both completions for at least half the test inputs and no
    less often than CVAE and CGAN; does not hold if it covers fewer than half.
    """
    task = "completion_mnist_multimodal"
    groups = {m: ev.runs(task, m) for m in ("cgml", "cgml[no_rho]", "cvae", "cgan")}
    if not groups["cgml"]:
        return Finding("not measured", ["no cGML record on multimodal MNIST"])
    cover = {m: ev.mean(g, "mode_coverage") for m, g in groups.items() if g}
    best_baseline = max(v for m, v in cover.items() if not m.startswith("cgml"))
    holds = cover["cgml"] >= 0.5 and cover["cgml"] >= best_baseline
    verdict = ("holds" if holds else "does not hold") + _seeds(groups["cgml"])
    numbers = [", ".join(f"{_label(groups[m])} {v:.4f}" for m, v in cover.items())]
    return Finding(verdict, ["mode_coverage: " + numbers[0]], ev.paths(groups["cgml"]))


def cgml_quality(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule: holds if cGML's best-of-K LPIPS is no worse than the better of CVAE and CGAN on
    both completion and colorization (tolerance 0.005).
    """
    numbers, holds, paths = [], [], []
    for task in ("completion", "colorization"):
        groups = {m: ev.runs(task, m) for m in ("cgml", "cvae", "cgan")}
        if not all(groups.values()):
            return Finding("not measured", [f"{task}: a cGML, CVAE or CGAN record is missing"])
        lpips = {m: ev.mean(g, "lpips_best") for m, g in groups.items()}
        holds.append(lpips["cgml"] <= min(lpips["cvae"], lpips["cgan"]) + 0.005)
        numbers.append(f"{task} lpips_best: " + ", ".join(f"{_label(groups[m])} {v:.4f}"
                                                           for m, v in lpips.items()))  # fmt: skip
        paths += ev.paths(groups["cgml"])
    verdict = ("holds" if all(holds) else "does not hold") + _seeds(ev.runs("completion", "cgml"))
    return Finding(verdict, numbers, paths)


def cgml_convergence(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule, on completion's validation L1 of one sample (``val_curves.csv``): *faster* = fewer
    batches to reach the level every model ends at (the worst final value); *more stable* =
    no more rises between evaluations than the baselines. Holds if both, does not hold if
    cGML is slower; otherwise inconclusive.
    """
    curves = {}
    for model in ("cgml", "cvae", "cgan"):
        runs = ev.runs("completion", model)
        files = [ev.results_dir / p / "val_curves.csv" for p in ev.paths(runs)]
        files = [f for f in files if f.exists()]
        if files:
            curves[model] = pd.read_csv(files[0])
    if len(curves) < 3:
        return Finding("not measured", ["completion val_curves.csv missing for a model"])
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
    return Finding(verdict + " (1 seed)", numbers, ev.paths(ev.runs("completion", "cgml")))


def csvae_no_leak(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule: holds if no attribute is readable from CSVAE's z on CelebA: probe accuracy within
    0.05 of the majority rate for every attribute (``leakage_max`` <= 0.05).
    """
    csvae, cvae = ev.runs("celeba", "csvae"), ev.runs("celeba", "cvae")
    if not csvae:
        return Finding("not measured", ["no CelebA CSVAE record"])
    worst = ev.mean(csvae, "leakage_max")
    verdict = ("holds" if worst <= 0.05 else "does not hold") + _seeds(csvae)
    numbers = [f"{_label(csvae)} leakage mean {ev.mean(csvae, 'leakage'):.4f}, max {worst:.4f}",
               f"{_label(cvae)} (contrast) leakage mean {ev.mean(cvae, 'leakage'):.4f}, "
               f"max {ev.mean(cvae, 'leakage_max'):.4f}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(csvae))


def cvae_more_accurate(ev: Evidence) -> Finding:
    """Check the claim; the verdict rule below is printed in claims.md.

    Rule: holds if CVAE's attr_acc on CelebA exceeds CSVAE's (same profile).
    """
    csvae = ev.runs("celeba", "csvae")
    cvae = ev.runs("celeba", "cvae", csvae[0]["profile"].rstrip("*") if csvae else None)
    if not (csvae and cvae):
        return Finding("not measured", ["a CelebA CVAE or CSVAE record is missing"])
    a, b = ev.mean(cvae, "attr_acc"), ev.mean(csvae, "attr_acc")
    verdict = ("holds" if a > b else "does not hold") + _seeds(cvae, csvae)
    numbers = [f"attr_acc {_label(cvae)} {a:.4f} vs {_label(csvae)} {b:.4f}; attr_recall "
               f"{ev.mean(cvae, 'attr_recall'):.4f} vs {ev.mean(csvae, 'attr_recall'):.4f}",
               f"edit_success {ev.mean(cvae, 'edit_success'):.4f} vs "
               f"{ev.mean(csvae, 'edit_success'):.4f} at edit_lpips "
               f"{ev.mean(cvae, 'edit_lpips'):.4f} vs "
               f"{ev.mean(csvae, 'edit_lpips'):.4f}"]  # fmt: skip
    return Finding(verdict, numbers, ev.paths(cvae) + ev.paths(csvae))


CLAIMS = [
    ("Latent Constraints", "Conditional samples from an unconditional VAE reach attribute "
     "accuracy close to real data.", lc_close_to_real),
    ("Latent Constraints", "A new attribute costs only the latent stage.", lc_new_attribute),
    ("AC-GAN", "Samples as diverse as real data within a class (MS-SSIM) at high class "
     "accuracy.", acgan_diverse),
    ("cGML", "Reaches several modes on multimodal MNIST.", cgml_modes),
    ("cGML", "Completion and colorization at least as good as CVAE/CGAN.", cgml_quality),
    ("cGML", "Faster and more stable convergence.", cgml_convergence),
    ("CSVAE", "z carries no label information.", csvae_no_leak),
    ("CSVAE replication", "CVAE generates attributes more accurately than CSVAE.",
     cvae_more_accurate),
]  # fmt: skip


def render(results_dir: Path = Path("results")) -> str:
    """The text of ``claims.md``: a verdict table, then each claim's rule, numbers, records."""
    ev = Evidence(leaderboard.collect(Path(results_dir)), results_dir)
    findings = []
    for source, claim, check in CLAIMS:
        findings.append((source, claim, check, check(ev)))
    lines = ["# The papers' claims under one protocol", "",
             "Rebuilt from the run records by `python -m benchmark claims`; each verdict follows",
             "the rule stated under it, applied to the records listed (paths under `results/`).",
             "", "| source | claim | verdict |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {s} | {c} | {f.verdict} |" for s, c, _, f in findings]
    for source, claim, check, finding in findings:
        rule = " ".join(check.__doc__.split("\n\n", 1)[1].split())
        lines += ["", f"## {source}: {claim}", "", f"**{finding.verdict}.** {rule}", ""]
        lines += [f"- {n}" for n in finding.numbers]
        if finding.records:
            lines.append("- records: " + ", ".join(f"`{p}`" for p in finding.records))
    return "\n".join(lines) + "\n"


def write(results_dir: Path = Path("results")) -> Path:
    """Write ``claims.md`` under ``results_dir`` atomically; return its path."""
    path = Path(results_dir) / "claims.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render(results_dir))
    tmp.replace(path)
    return path
