"""The paired two-level bootstrap: seeds and the same test rows resampled together.

A comparison over seeds alone (`ranking.p_better`'s t-tests) treats the scored test rows as
fixed: it asks whether another training run would change the answer, not whether another
draw of test images would. Each replicate here draws the rows with replacement once, the
same draw for both sides (they were scored on the same rows, so row difficulty cancels),
then each side's seeds with replacement, and takes the difference of the two means of the
metric recomputed on the drawn rows (`resampled_values`). The one-sided p-value is the share
of replicates where the difference does not favour ``a``.

With three seeds the seed level draws from only ten distinct multisets, which understates
the seeds' spread, so this test is never used alone: `ranking.p_better` takes the larger of
its p-value and the t-test's, a verdict both must support.
"""

from pathlib import Path

import torch

from cgbench.metrics import METRICS
from cgbench.records import read_items

N_BOOT = 2000
SEED = 0  # one fixed stream: the tables come out the same on every rebuild


def items_of(runs: list[dict], metric: str) -> dict | None:
    """``{"rows", "values": [(R, D) per run]}`` when every run kept ``metric``'s items.

    None when any run has no ``items.pt`` for it (older records, variants, other metrics) or
    the runs were scored on different rows.
    """
    kept = []
    for run in runs:
        meta = run.get("items")
        if not isinstance(meta, dict) or meta.get("metric") != metric or not run.get("_dir"):
            return None
        items = read_items(str(Path(run["_dir"])))
        if items is None or items["metric"] != metric:
            return None
        kept.append(items)
    if not kept or any(not torch.equal(k["rows"], kept[0]["rows"]) for k in kept):
        return None
    return {"rows": kept[0]["rows"], "values": [k["values"].double() for k in kept]}


def resampled_values(metric: str, weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``(n_boot,)`` values of ``metric`` on row draws given as counts ``weights (n_boot, R)``.

    Mean metrics: the weighted mean of the row means ``values (R, 1)``. Attribute rates
    (``values (R, 2A)``: seen, asked): the rates from weighted sums, through the metric's own
    `rates` (called on the class: it reads only the class's ``rate``).
    """
    cls = METRICS[metric]
    if hasattr(cls, "rate"):
        seen, asked = values.chunk(2, dim=1)  # (R, A) each
        sums = [weights @ (seen * asked), weights @ asked,
                weights @ ((1 - seen) * (1 - asked)), weights @ (1 - asked)]  # fmt: skip
        return cls.rates(cls, *sums).nanmean(1)
    return (weights @ values[:, 0]) / weights.sum(1)


def p_two_level(a: dict, b: dict, metric: str, higher: bool) -> float:
    """One-sided p-value of "``a`` beats ``b``" (`items_of` of each; the same rows)."""
    generator = torch.Generator().manual_seed(SEED)
    n_rows = len(a["rows"])
    picks = torch.randint(0, n_rows, (N_BOOT, n_rows), generator=generator)
    weights = torch.zeros(N_BOOT, n_rows, dtype=torch.float64)
    weights.scatter_add_(1, picks, torch.ones_like(weights))  # (N_BOOT, R) draw counts

    def side_means(values: list[torch.Tensor]) -> torch.Tensor:  # (N_BOOT,)
        per_seed = torch.stack([resampled_values(metric, weights, v) for v in values])
        seeds = torch.randint(0, len(values), (len(values), N_BOOT), generator=generator)
        return per_seed.gather(0, seeds).mean(0)  # each replicate's seeds, with replacement

    difference = side_means(a["values"]) - side_means(b["values"])
    not_better = (difference <= 0) if higher else (difference >= 0)
    return float((1 + not_better.sum()) / (1 + N_BOOT))


def same_rows(a: dict | None, b: dict | None) -> bool:
    """Whether both sides kept items, on the same rows (then `p_two_level` applies)."""
    return a is not None and b is not None and torch.equal(a["rows"], b["rows"])
