"""The source papers' claims, checked against the run records: ``results/claims.md``.

``cgbench claims`` (also run by ``make leaderboard``). Every claim is data (`Claim`: source,
text, verdict rule, check) in `CLAIMS`, and its rule is applied once per profile (``full``,
``standard``, ``quick``); the numbers give mean ± standard deviation over seeds, and the records
used are listed, so each verdict traces back to its runs. A verdict is given only when every
run it uses has 3 seeds and beats its task's floor reference significantly, and the difference
it rests on is significant; otherwise it is ``inconclusive`` with the reason.
"""

from pathlib import Path

from cgbench.records import atomic_write
from cgbench.summaries.claims import acgan, base, cgml, csvae, lc
from cgbench.summaries.claims.base import PROFILES, verdict_table  # noqa: F401 (the README block's)

CLAIMS = [*lc.CLAIMS, *acgan.CLAIMS, *cgml.CLAIMS, *csvae.CLAIMS]  # claims.md's order


def findings(results_dir: Path = Path("results"), records: list[dict] | None = None):
    """`base.findings` of every claim in `CLAIMS`."""
    return base.findings(CLAIMS, results_dir, records)


def render(results_dir: Path = Path("results"), records: list[dict] | None = None) -> str:
    """The text of ``claims.md`` (`base.render` of `CLAIMS`)."""
    return base.render(CLAIMS, results_dir, records)


def write(results_dir: Path = Path("results"), records: list[dict] | None = None) -> Path:
    """Write ``claims.md`` under ``results_dir`` atomically; return its path."""
    path = Path(results_dir) / "claims.md"
    atomic_write(path, render(results_dir, records))
    return path
