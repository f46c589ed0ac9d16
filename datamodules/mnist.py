"""Class-conditional MNIST: ``x`` (B, 1, 28, 28) in [-1, 1], ``y`` one-hot (B, 10)."""

import logging
from pathlib import Path

import torch.nn.functional as F
from torch.utils.data import TensorDataset
from torchvision.datasets import MNIST
from torchvision.datasets.utils import check_integrity, download_url, extract_archive

from cgbench.datamodules.base import ConditionalDataModule, DataNotFoundError, sha256_files

log = logging.getLogger(__name__)

FILES = {name: md5 for name, md5 in MNIST.resources}  # the 4 original IDX .gz files and md5s


def fetch_mnist(folder: Path) -> None:
    """Download the missing MNIST files into ``folder`` from torchvision's mirrors.

    Raises:
        DataNotFoundError: when a file cannot be downloaded (offline) or fails its md5 check.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, md5 in FILES.items():
        if check_integrity(folder / name, md5):
            continue
        errors = []
        for mirror in MNIST.mirrors:
            try:
                download_url(mirror + name, folder, filename=name, md5=md5, max_redirect_hops=3)
                break
            except Exception as err:  # noqa: BLE001 - any network failure means "try the next mirror"
                errors.append(f"{mirror}: {type(err).__name__}: {err}")
        else:
            raise DataNotFoundError(missing_message(folder, name, "; ".join(errors)))


def missing_message(folder: Path, name: str, reason: str) -> str:
    """The one message shown when MNIST is unavailable: what is expected and how to get it."""
    expected = ", ".join(FILES)
    return (
        f"MNIST file {name!r} is missing or corrupt in {folder} and could not be downloaded "
        f"({reason}). Expected the 4 original files: {expected}. Fix: set DATA_DIR to a folder "
        f"whose mnist/ subfolder holds them (e.g. DATA_DIR=/path/to/data), or run once with "
        f"internet access so they download into $DATA_DIR/mnist/."
    )


class MNISTDataModule(ConditionalDataModule):
    """MNIST from ``<data_dir>/mnist/*.gz`` through ``torchvision.datasets.MNIST``.

    The 60,000 training images are split once, with a fixed seed, into training and validation;
    the official 10,000 are the test set. Missing files download when online; offline, setup stops
    with one message naming ``DATA_DIR`` and the expected files.

    Args:
        download: Whether to try torchvision's mirrors for missing files.
        val_size: Training images held out for validation.
        **kwargs: Paths and loader settings of `ConditionalDataModule`.
    """

    cond_kind = "label"
    x_shape = (1, 28, 28)
    y_shape = (10,)
    num_classes = 10

    def __init__(
        self,
        download: bool = True,
        val_size: int = 5000,
        **kwargs,
    ):
        super().__init__(val_size=val_size, **kwargs)
        self.folder = self.data_dir / "mnist"
        self.download = download

    def prepare_data(self) -> None:
        """Make sure the four files exist and pass their md5 check, downloading if allowed."""
        bad = [n for n, md5 in FILES.items() if not check_integrity(self.folder / n, md5)]
        if not bad:
            return
        if not self.download:
            raise DataNotFoundError(missing_message(self.folder, bad[0], "download disabled"))
        log.info("MNIST: %d file(s) missing in %s, downloading", len(bad), self.folder)
        fetch_mnist(self.folder)

    def setup(self, stage: str | None = None) -> None:
        """Decode the IDX files (once, into the cache) and build the three splits."""
        if self.test_set is not None:
            return
        self.prepare_data()
        raw = self.cache_dir / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if not (raw / name.removesuffix(".gz")).exists():
                extract_archive(str(self.folder / name), str(raw))
        self.data_checksum = sha256_files(self.folder / n for n in sorted(FILES))
        self.split_train_val(self._tensors(train=True))
        self.test_set = self._tensors(train=False)

    def _tensors(self, train: bool) -> TensorDataset:
        ds = MNIST(self.cache_dir, train=train, download=False)
        x = ds.data.unsqueeze(1).float().div(127.5).sub(1.0)  # (N, 1, 28, 28) in [-1, 1]
        y = F.one_hot(ds.targets, self.num_classes).float()  # (N, 10)
        return TensorDataset(x, y)
