"""The metric contract: a torchmetrics ``Metric`` that averages per-image scores.

Every metric receives ``update(x_hat, x, y)`` with ``x_hat`` of shape ``(K, B, C, H, W)``: K samples
for each of the B conditions. Scores are summed per image into ``total`` and counted in ``count``,
so ``compute()`` is the mean of per-image scores and does not depend on the batch size.
"""

from typing import Any, ClassVar

import torch
from torchmetrics import Metric


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Map images from the suite's [-1, 1] range to [0, 1], the range every metric scores in."""
    return ((x + 1) / 2).clamp(0, 1)


class BenchMetric(Metric):
    """Base class: subclasses set ``name`` and ``higher_is_better`` and implement ``scores``.

    ``settings`` is what the metric was computed with; the runner records it with every result.
    """

    name: ClassVar[str]
    higher_is_better: ClassVar[bool]
    mean_of_items: ClassVar[bool] = True  # the value is total / count, so groups pool by sums
    pools_kept_items: ClassVar[bool] = False  # the pooled value is value_of(every kept item)
    full_state_update = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        # Per-item values for `bootstrap_ci`, kept across `reset` (groups pool into one value)
        # only when the caller asks: the ranking metric of a run.
        self.keep_items, self.items = False, []

    def value_of(self, items: torch.Tensor) -> float:
        """The metric's value over a set of kept items (rows of ``cat(self.items)``)."""
        return float(items.double().mean())

    def bootstrap_ci(self, n_boot: int = 1000, seed: int = 0) -> tuple[float, float] | None:
        """95% percentile interval of the value over ``n_boot`` resamples of the kept items.

        The items are the test conditions (or samples) scored, so the interval says how much
        the value depends on which test items were drawn: the within-run uncertainty.
        """
        if not self.items:
            return None
        items = torch.cat(self.items)
        generator = torch.Generator().manual_seed(seed)
        picks = torch.randint(0, len(items), (n_boot, len(items)), generator=generator)
        values = torch.tensor([self.value_of(items[p]) for p in picks])
        low, high = torch.quantile(values, torch.tensor([0.025, 0.975], dtype=values.dtype))
        return round(float(low), 6), round(float(high), 6)

    @property
    def settings(self) -> dict[str, Any]:
        """The parameters a result depends on, recorded in ``metrics.json``."""
        return {}

    def details(self) -> dict[str, float]:
        """Optional breakdown of the value (e.g. per attribute), recorded in ``metrics.json``."""
        return {}

    def scores(self, x_hat: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return a 1-D tensor of per-item scores for this batch (items are metric-specific)."""
        raise NotImplementedError

    def update(self, x_hat: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add one batch.

        Args:
            x_hat: Generated images ``(K, B, C, H, W)`` in [-1, 1], K samples per condition.
            x: Real images ``(B, C, H, W)`` in [-1, 1] paired with the conditions.
            y: Conditions ``(B, ...)``.
        """
        s = self.scores(x_hat, x, y).detach().double()
        self.total += s.sum()
        self.count += s.numel()
        if self.keep_items:
            self.items.append(s.flatten().cpu())

    def compute(self) -> torch.Tensor:
        """Mean of all per-item scores seen so far (NaN when nothing was seen)."""
        if self.count == 0:
            return torch.tensor(float("nan"))
        return (self.total / self.count).float()
