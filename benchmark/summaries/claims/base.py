"""The machinery of the claims check: `Claim`, `Finding`, `Evidence`, `decide`, `render`.

Each paper's rules live in a module of their own beside this one (`lc`, `acgan`, `cgml`,
`csvae`), as `Claim` entries whose ``check`` turns one profile's `Evidence` into a `Finding`.
A verdict is given only when every run it uses has 3 seeds and beats its task's floor
reference significantly, and the difference it rests on is significant; otherwise it is
``inconclusive`` with the reason.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cgbench.config import published
from cgbench.records import PROFILES as RECORD_PROFILES
from cgbench.records import collect, run_dir_of
from cgbench.summaries import budgets
from cgbench.summaries.ranking import power_at_1sd, sample, significantly_better
from cgbench.summaries.tables import markdown_table
from cgbench.tasks import TASKS

PROFILES = tuple(p for p in reversed(RECORD_PROFILES) if p != "smoke")  # most thorough first


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
        return [run_dir_of(r) for r in runs]

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
        floors = [
            r
            for r in self.records
            if r["task"] == task
            and r.get("reference") == "floor"
            and metric in r["scores"]
            and name in (None, r["model"])
        ]
        floors.sort(key=lambda r: r["scores"][metric], reverse=higher)
        return floors[:1]

    def ceiling(self, task: str) -> list[dict]:
        """The real-data reference's record (``ref_real``), as a list."""
        return self.runs(task, "ref_real")

    def better(self, a: list[dict], b: list[dict], metric: str, higher: bool = True) -> bool:
        """Whether ``a`` beats ``b`` on ``metric`` significantly (see `significantly_better`)."""
        a_row, b_row = (
            sample(runs, metric) | {"reference": runs[0].get("reference") if runs else None}
            for runs in (a, b)
        )  # a reference row is one fixed run: seeds meet it with a one-sample test
        return significantly_better(a_row, b_row, higher, metric)

    def problems(
        self,
        task: str,
        groups: dict[str, list[dict]],
        metric: str,
        higher: bool = True,
        floor: str | None = None,
    ) -> list[str]:
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
                reasons.append(
                    f"under-trained: {', '.join(low)} not above the "
                    f"{floor[0]['model']} floor on {metric}"
                )
        return reasons


MIN_SEEDS = 3  # fewer seeds make no verdict


def decide(reasons: list[str], holds: bool, fails: bool) -> str:
    """``holds`` / ``does not hold`` when the evidence allows it, else ``inconclusive (why)``."""
    if not reasons and not (holds or fails):
        reasons = ["not significant"]
    if reasons:
        return f"inconclusive ({'; '.join(dict.fromkeys(reasons))})"
    return "holds" if holds else "does not hold"


def label(runs: list[dict]) -> str:
    """``cvae (quick, 3 seeds)``: a group of runs, named."""
    return f"{runs[0]['model']} ({runs[0]['profile']}, {len(runs)} seed{'s' * (len(runs) > 1)})"


def stat_line(ev: Evidence, groups: dict[str, list[dict]], metric: str) -> str:
    """``metric: cvae (quick, 3 seeds) 0.8 ± 0.1, ...``: each group's mean ± sd."""
    return f"{metric}: " + ", ".join(
        f"{label(g)} {ev.stat(g, metric)}" for g in groups.values() if g
    )


EVIDENCE = (
    " Every verdict needs 3 seeds of every run it uses, each significantly above the task's best"
    " floor reference (one-sample t-test of the seeds against it); otherwise it is"
    " inconclusive, with the reason. Comparisons use Welch's one-sided t-test over seeds at 5%,"
    " under the profile's budgets; where both sides kept their per-row values (`items.pt`), the"
    " paired two-level bootstrap over seeds and test rows must agree too (the larger p)."
    " Power with 3 seeds a side (the t-test's, an upper bound): "
    f"{power_at_1sd(3, 3):.2f} at a one-SD difference, {power_at_1sd(3, 3, 2):.2f} at two"
    f" (against a floor: {power_at_1sd(3, 1):.2f}, {power_at_1sd(3, 1, 2):.2f}), so"
    " `inconclusive (not significant)` is not `equal`."
)


def findings(
    claims: list[Claim], results_dir: Path = Path("results"), records: list[dict] | None = None
) -> tuple[list[Evidence], list[tuple]]:
    """Each profile's evidence and, per claim of ``claims``, ``(claim, [finding per profile])``.

    ``records`` (default: read from ``results_dir``) lets a caller that has them skip a re-read.
    """
    records = collect(Path(results_dir)) if records is None else records
    views = [Evidence(records, profile, results_dir) for profile in PROFILES]
    return views, [(claim, [claim.check(ev) for ev in views]) for claim in claims]


def published_profiles() -> str:
    """``celeba standard, mnist quick, ...``: each published task's trusted profile."""
    shown = []
    for name, task in sorted(TASKS.items()):
        profile = published(name)["profile"]
        if not task.synthetic:
            shown.append(f"{name} `{profile}`" if profile else f"{name} not published")
    return ", ".join(shown)


def _short(verdict: str) -> str:
    """A verdict without the floor's name and metric (the main table gives them)."""
    return re.sub(r" not above the \w+ floor on \w+", "", verdict)


def along_the_budget(claims: list[Claim], records: list[dict], results_dir: Path) -> list[str]:
    """Per campaign profile, a table of every claim's verdict at each FLOP milestone.

    The milestone records of `budgets.at_milestones` (profile ``<profile>@<tflop>``, the
    references copied to each budget) are checked like a profile of their own, so a verdict
    that changes with compute shows where.
    """
    steps = budgets.at_milestones(records)
    labels = sorted(
        {r["profile"] for r in steps}, key=lambda p: (p.split("@")[0], float(p.split("@")[1]))
    )
    lines = []
    for profile in dict.fromkeys(p.split("@")[0] for p in labels):
        mine = [p for p in labels if p.split("@")[0] == profile]
        views = [Evidence(steps, label, results_dir) for label in mine]
        cells = [[c.source, c.text, *(_short(c.check(ev).verdict) for ev in views)] for c in claims]
        header = ["source", "claim", *(f"{p.split('@')[1]} TFLOP" for p in mine)]
        lines += ["", f"### {profile}: each verdict at each training budget", ""]
        lines += markdown_table(header, cells)
    return lines


def verdict_table(rows: list[tuple]) -> list[str]:
    """The markdown table of verdicts: a row per claim, a column per profile."""
    cells = [[claim.source, claim.text, *(f.verdict for f in fs)] for claim, fs in rows]
    return markdown_table(["source", "claim", *PROFILES], cells)


def render(
    claims: list[Claim], results_dir: Path = Path("results"), records: list[dict] | None = None
) -> str:
    """The text of ``claims.md``.

    A verdict table with a column per profile, then each claim's rule and, per profile that
    measured it, its numbers and records.
    """
    records = collect(Path(results_dir)) if records is None else records
    views, rows = findings(claims, results_dir, records)
    lines = [
        "# The papers' claims under one protocol",
        "",
        "Rebuilt from the run records by `cgbench claims`. Each claim's rule",
        "(stated under it) is applied per profile; numbers are mean ± standard deviation",
        "over seeds, records are paths under `results/`. A verdict needs 3 seeds of every",
        "run it uses, each significantly above its task's floor reference, and a",
        "significant difference; otherwise it is *inconclusive* with the reason.",
        "Read each claim in its task's published profile (the `published` block of the",
        "task's YAML, what `make benchmark` runs with 3 seeds), under equal FLOP budgets: "
        + published_profiles()
        + ".",
        "",
        *verdict_table(rows),
        "",
        "## Along the budget",
        "",
        "The same rules on the scores every run had at each FLOP milestone of its profile",
        "(`budget.milestones`; the column at the profile's budget is the table above). A",
        "task whose milestones differ from another's shares only the budgets both have.",
        *along_the_budget(claims, records, results_dir),
    ]
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
