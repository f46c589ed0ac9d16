"""The shared evaluation loop: every model is scored by the same code on the same inputs."""

import time
from collections.abc import Mapping

import torch
from torch.utils.data import DataLoader
from torchvision.utils import make_grid

from metrics import BenchMetric


@torch.no_grad()
def draw(model, y: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """K samples for every condition: ``(B, ...)`` -> ``(K, B, C, H, W)``."""
    return torch.stack([model.generate(y, generator=generator) for _ in range(k)])


@torch.no_grad()
def evaluate(
    model,
    loader: DataLoader,
    metrics: Mapping[str, BenchMetric],
    k_samples: int = 2,
    seed: int = 0,
    max_batches: int | None = None,
) -> tuple[dict[str, float], float]:
    """Score ``model`` on ``loader`` with every metric.

    Args:
        model: A ``ConditionalGenerator``; put in eval mode here.
        loader: Test loader yielding ``(x, y)``.
        metrics: Metric objects by key; reset before use.
        k_samples: Samples drawn per condition.
        seed: Seed of the sampling generator, so a checkpoint always gets the same scores.
        max_batches: Stop after this many batches (smoke runs); None scores the whole loader.

    Returns:
        ``({metric: value}, samples per second of generate)``.
    """
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    for metric in metrics.values():
        metric.reset()
        metric.to(model.device)
    seconds, n_samples = 0.0, 0
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x, y = x.to(model.device), y.to(model.device)
        start = time.perf_counter()
        x_hat = draw(model, y, k_samples, generator)  # (K, B, C, H, W)
        seconds += time.perf_counter() - start
        n_samples += x_hat.shape[0] * x_hat.shape[1]
        for metric in metrics.values():
            metric.update(x_hat, x, y)
    scores = {name: float(metric.compute()) for name, metric in metrics.items()}
    return scores, n_samples / max(seconds, 1e-9)


@torch.no_grad()
def sample_grid(model, y: torch.Tensor, n_rows: int = 10, n_cols: int = 10, seed: int = 0):
    """Image grid with one row per distinct condition in ``y`` and ``n_cols`` samples each.

    Returns:
        A ``(3, H', W')`` tensor in [0, 1] ready for ``torchvision.utils.save_image``.
    """
    model.eval()
    # Distinct conditions, largest first: for one-hot labels this is class 0, 1, 2, ...
    conds = torch.unique(y, dim=0).flip(0)[:n_rows].to(model.device)
    x_hat = draw(model, conds, n_cols, torch.Generator().manual_seed(seed))  # (cols, rows, ...)
    rows = x_hat.transpose(0, 1).flatten(0, 1)  # row-major: (rows*cols, C, H, W)
    return make_grid(rows.cpu(), nrow=n_cols, normalize=True, value_range=(-1, 1), pad_value=1)
