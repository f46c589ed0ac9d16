"""Image-conditioned tasks built on a base dataset (CelebA 64x64 or MNIST 28x28).

`ImageTaskDataModule` loads the base DataModule's three splits as image tensors and lets the
task turn each split into ``(x, y)`` pairs, where ``y`` is itself an image (``cond_kind="image"``).
"""

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from cgbench.datamodules.base import SPLITS, ConditionalDataModule
from cgbench.datamodules.celeba import CelebADataModule
from cgbench.datamodules.mnist import MNISTDataModule

BASES = {"celeba": CelebADataModule, "mnist": MNISTDataModule}


def tensors_of(dataset: Dataset) -> tuple[torch.Tensor, ...]:
    """The tensors behind a ``TensorDataset`` or a ``Subset`` of one."""
    if isinstance(dataset, Subset):
        return tuple(t[torch.as_tensor(dataset.indices)] for t in tensors_of(dataset.dataset))
    if isinstance(dataset, TensorDataset):
        return dataset.tensors
    raise TypeError(f"expected a TensorDataset or a Subset of one, got {type(dataset).__name__}")


class ImageTaskDataModule(ConditionalDataModule):
    """Base of image-conditioned tasks: subclasses implement ``make(split, x) -> Dataset``.

    Args:
        base: ``"celeba"`` or ``"mnist"``.
        base_args: Extra arguments of the base DataModule (e.g. CelebA's ``image_size``).
        **kwargs: Paths and loader settings of `ConditionalDataModule`.
    """

    cond_kind = "image"

    def __init__(self, base: str = "celeba", base_args: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if base not in BASES:
            raise ValueError(f"unknown base dataset {base!r}; choose from {', '.join(BASES)}")
        paths = {
            "data_dir": self.data_dir,
            "cache_dir": self.cache_dir,
            "split_seed": self.split_seed,
        }
        self.base = BASES[base](**paths, **(base_args or {}))
        self.x_shape = tuple(self.base.x_shape)
        self.split_info: dict = {"base": base}

    def prepare_data(self) -> None:
        """Check (or download) the base dataset's files."""
        self.base.prepare_data()

    def make(self, split: str, x: torch.Tensor) -> Dataset:
        """Pairs ``(x, y)`` of one split from its images ``x`` ``(N, C, H, W)`` in [-1, 1]."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        """Load the base splits and build the task's pairs."""
        if self.test_set is not None:
            return
        self.base.setup()
        self.split_info |= getattr(self.base, "split_info", {})
        for split in SPLITS:
            x = tensors_of(getattr(self.base, f"{split}_set"))[0]
            setattr(self, f"{split}_set", self.make(split, x))
        self.data_checksum = self.checksum()

    def checksum(self) -> str:
        """Checksum of the data a result depends on; subclasses add their frozen inputs."""
        return self.base.data_checksum
