"""The batch contract every DataModule of the suite follows.

A batch is ``(x, y)``: ``x`` the target image, float ``(B, C, H, W)`` in [-1, 1]; ``y`` the
condition (one-hot ``(B, 10)``, multi-hot ``(B, A)``, or an image ``(B, C', H, W)``).
"""

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, random_split

COND_KINDS = frozenset({"label", "attributes", "image"})
SPLITS = ("train", "val", "test")


class DataNotFoundError(FileNotFoundError):
    """Raised when a dataset's files are missing or corrupt; the message names the fix."""


def sha256_files(paths: Iterable[Path]) -> str:
    """Return one SHA-256 over the given files' bytes, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class ConditionalDataModule(pl.LightningDataModule):
    """Base class: holds the three splits and serves ``(x, y)`` loaders.

    Subclasses set ``cond_kind``, ``x_shape``, ``y_shape`` and, in ``setup``, the datasets
    ``train_set``, ``val_set`` and ``test_set``. ``data_checksum`` identifies the files read;
    ``image_checksum``, when set, the images alone (CelebA under another attribute set).

    Args:
        data_dir: The ``DATA_DIR`` root that holds every dataset's folder.
        cache_dir: Where decoded or derived files go, so the data folder stays read-only.
        batch_size: Batch size of every loader.
        num_workers: Loader worker processes (0 keeps everything in the main process).
        split_seed: Seed of the train/validation split, fixed so every model sees the same split.
        val_size: Number of training images held out for validation.
    """

    cond_kind: ClassVar[str]
    x_shape: tuple[int, ...]
    y_shape: tuple[int, ...]

    def __init__(
        self,
        data_dir: str | Path = "data",
        cache_dir: str | Path = ".cache/cgbench",
        batch_size: int = 128,
        num_workers: int = 0,
        split_seed: int = 0,
        val_size: int = 0,
    ):
        super().__init__()
        self.data_dir = Path(data_dir)
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.split_seed = split_seed
        self.val_size = val_size
        self.data_checksum = ""
        self.image_checksum = ""  # set where the images are shared by several condition sets
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def split_train_val(self, dataset: Dataset) -> None:
        """Split ``dataset`` into ``train_set``/``val_set`` with the fixed ``split_seed``."""
        n_val = self.val_size
        generator = torch.Generator().manual_seed(self.split_seed)
        self.train_set, self.val_set = random_split(
            dataset, [len(dataset) - n_val, n_val], generator=generator
        )

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call setup() before asking for loaders")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),  # faster host-to-GPU copies of the batches
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)
