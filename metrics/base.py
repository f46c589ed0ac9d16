"""The metric contract: a torchmetrics ``Metric`` that averages per-image scores.

Every metric receives ``update(x_hat, x, y)`` with ``x_hat`` of shape ``(K, B, C, H, W)``: K samples
for each of the B conditions. Scores are summed per image into ``total`` and counted in ``count``,
so ``compute()`` is the mean of per-image scores and does not depend on the batch size.
"""

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.functional.image import structural_similarity_index_measure

# Standard MS-SSIM scale weights (Wang et al. 2003). Small images cannot take all five scales.
STANDARD_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Map images from the suite's [-1, 1] range to [0, 1], the range every metric scores in."""
    return ((x + 1) / 2).clamp(0, 1)


def ms_ssim_settings(size: int) -> dict[str, Any]:
    """MS-SSIM settings valid at ``size`` pixels, fixed once per resolution.

    The window is the standard Gaussian with sigma 1.5. torchmetrics always builds it 11 pixels
    wide (``2 * int(3.5 * sigma + 0.5) + 1``) whatever ``kernel_size`` says, so we declare 11 and
    keep the scales for which an 11-pixel window still fits the coarsest image: torchmetrics'
    rule ``size // (scales - 1) ** 2 > 10`` gives 2 scales at 28 px, 3 at 64 px and the standard
    5 from 176 px. The standard betas of those scales are renormalised to sum to one. Values are
    only comparable between results with the same settings, so they go into every record.
    """
    kernel_size = 11
    scales = 1
    while scales < len(STANDARD_BETAS) and size // scales**2 > kernel_size - 1:
        scales += 1
    betas = STANDARD_BETAS[:scales]
    total = sum(betas)
    return {
        "betas": tuple(round(b / total, 6) for b in betas),
        "kernel_size": kernel_size,
        "sigma": 1.5,
        "normalize": "relu",
        "data_range": 1.0,
    }


def ssim_valid(a: torch.Tensor, b: torch.Tensor, settings: dict[str, Any]) -> torch.Tensor:
    """Per-image SSIM over the valid region, ``(N, C, H, W)`` x 2 -> ``(N,)``.

    torchmetrics averages the SSIM map of reflect-padded images; Wang et al.'s reference code
    and scikit-image average only where the window fits inside the image. We crop the map to
    that valid region, so our SSIM equals scikit-image's (``gaussian_weights=True``,
    ``use_sample_covariance=False``).
    """
    _, full = structural_similarity_index_measure(
        a, b, reduction="none", return_full_image=True, **settings
    )
    pad = int(3.5 * settings["sigma"] + 0.5)  # half-width of torchmetrics' Gaussian window
    return full[..., pad:-pad, pad:-pad].mean(dim=(1, 2, 3))


def ms_ssim_per_image(a: torch.Tensor, b: torch.Tensor, settings: dict[str, Any]) -> torch.Tensor:
    """Per-image MS-SSIM (Wang et al. 2003) of two [0, 1] batches ``(N, C, H, W)`` -> ``(N,)``.

    Contrast-structure terms at the finer scales and the full SSIM at the coarsest, each
    averaged over the valid region (as in `ssim_valid`; torchmetrics' own MS-SSIM pads the
    coarsest scale instead), clipped at 0 (``normalize="relu"``) and weighted by ``betas``.
    """
    ssim_args = {k: settings[k] for k in ("sigma", "kernel_size", "data_range")}
    ssim_args["gaussian_kernel"] = True
    betas = settings["betas"]
    total = torch.ones(a.shape[0], dtype=a.dtype, device=a.device)
    for beta in betas[:-1]:
        _, cs = structural_similarity_index_measure(
            a, b, reduction="none", return_contrast_sensitivity=True, **ssim_args
        )
        total = total * cs.relu() ** beta
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return total * ssim_valid(a, b, ssim_args).relu() ** betas[-1]


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
