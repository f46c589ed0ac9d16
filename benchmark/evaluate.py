"""The shared evaluation loops: every model is scored by the same code on the same inputs."""

import time
from collections.abc import Callable, Mapping

import torch
from torch.utils.data import DataLoader
from torchvision.utils import make_grid

from metrics import BenchMetric


@torch.no_grad()
def draw(model, y: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """K samples for every condition: ``(B, ...)`` -> ``(K, B, C, H, W)``."""
    return torch.stack([model.generate(y, generator=generator) for _ in range(k)])


def edit_targets(y: torch.Tensor, cond_kind: str, generator: torch.Generator) -> torch.Tensor:
    """A target condition per input: another class (labels) or one attribute flipped."""
    b, n = y.shape
    if cond_kind == "label":
        shift = torch.randint(1, n, (b,), generator=generator).to(y.device)
        return torch.nn.functional.one_hot((y.argmax(1) + shift) % n, n).to(y.dtype)
    flip = torch.nn.functional.one_hot(torch.randint(0, n, (b,), generator=generator), n)
    return (y - flip.to(y)).abs()  # (B, A): exactly one attribute toggled


@torch.no_grad()
def _score(
    model,
    loader: DataLoader,
    metrics: Mapping[str, BenchMetric],
    produce: Callable,
    seed: int,
    max_batches: int | None,
) -> tuple[dict[str, float], float]:
    """Update ``metrics`` with ``produce(x, y, generator) -> (x_hat, y_metric)`` per batch."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    for metric in metrics.values():
        metric.reset()
        metric.to(model.device)
    seconds, n_images = 0.0, 0
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x, y = x.to(model.device), y.to(model.device)
        start = time.perf_counter()
        x_hat, y_metric = produce(x, y, generator)  # x_hat: (K, B, C, H, W)
        seconds += time.perf_counter() - start
        n_images += x_hat.shape[0] * x_hat.shape[1]
        for metric in metrics.values():
            metric.update(x_hat, x, y_metric)
    scores = {name: float(metric.compute()) for name, metric in metrics.items()}
    return scores, n_images / max(seconds, 1e-9)


def evaluate(
    model,
    loader: DataLoader,
    metrics: Mapping[str, BenchMetric],
    k_samples: int = 2,
    seed: int = 0,
    max_batches: int | None = None,
) -> tuple[dict[str, float], float]:
    """Score ``model.generate`` on ``loader`` with every metric.

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

    def produce(x, y, generator):
        return draw(model, y, k_samples, generator), y

    return _score(model, loader, metrics, produce, seed, max_batches)


def evaluate_edits(
    model,
    loader: DataLoader,
    metrics: Mapping[str, BenchMetric],
    cond_kind: str,
    seed: int = 0,
    max_batches: int | None = None,
) -> tuple[dict[str, float], float]:
    """Score ``model.edit`` on real test images: one seeded target condition per image.

    Metrics receive ``x_hat = x_edit[None]``, ``x`` the source image and
    ``y = stack([y_source, y_target], 1)``; fidelity metrics therefore compare edit and source.

    Returns:
        ``({metric: value}, edits per second)``.
    """

    def produce(x, y, generator):
        target = edit_targets(y, cond_kind, generator)
        return model.edit(x, y, target)[None], torch.stack([y, target], dim=1)

    return _score(model, loader, metrics, produce, seed, max_batches)


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
