"""Seeded synthetic data for tests and ``make smoke``; never part of a published leaderboard.

Each class (or attribute) owns a fixed random template, so a classifier can learn the task and a
conditional generator has something real to fit, yet nothing is read from disk.
"""

import torch
from torch.utils.data import TensorDataset

from cgbench.datamodules.base import ConditionalDataModule


class SyntheticDataModule(ConditionalDataModule):
    """Template-plus-noise images with label or multi-hot attribute conditions.

    Args:
        cond_kind: ``"label"`` (one-hot y), ``"attributes"`` (multi-hot y) or ``"image"`` (y the
            channel mean of x, a colorization-like task).
        n_samples: Images per split.
        num_classes: Classes (label) or attributes (attributes).
        image_shape: ``(C, H, W)`` of x.
        seed: Seed of the templates and the noise.
        **kwargs: Paths and loader settings of `ConditionalDataModule` (paths unused).
    """

    def __init__(
        self,
        cond_kind: str = "label",
        n_samples: int = 64,
        num_classes: int = 4,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cond_kind = cond_kind
        self.n_samples = n_samples
        self.num_classes = num_classes
        self.x_shape = tuple(image_shape)
        self.y_shape = (1, *self.x_shape[1:]) if cond_kind == "image" else (num_classes,)
        self.seed = seed
        self.data_checksum = f"synthetic-{cond_kind}-{n_samples}-{num_classes}-{seed}"

    def _split(self, generator: torch.Generator, templates: torch.Tensor) -> TensorDataset:
        n, k = self.n_samples, self.num_classes
        if self.cond_kind != "attributes":
            y = torch.nn.functional.one_hot(torch.arange(n) % k, k).float()  # (N, K)
        else:
            y = (torch.rand(n, k, generator=generator) < 0.5).float()  # (N, K)
        mix = torch.einsum("nk,kchw->nchw", y, templates) / y.sum(1).clamp(min=1).view(-1, 1, 1, 1)
        noise = 0.1 * torch.randn(n, *self.x_shape, generator=generator)
        x = (mix + noise).clamp(-1, 1)
        return TensorDataset(x, x.mean(1, keepdim=True) if self.cond_kind == "image" else y)

    def setup(self, stage: str | None = None) -> None:
        """Draw the templates and the three splits from ``seed``."""
        generator = torch.Generator().manual_seed(self.seed)
        templates = torch.rand(self.num_classes, *self.x_shape, generator=generator) * 2 - 1
        self.train_set = self._split(generator, templates)
        self.val_set = self._split(generator, templates)
        self.test_set = self._split(generator, templates)
