"""Attribute-conditional CelebA: ``x`` (B, 3, S, S) in [-1, 1], ``y`` multi-hot (B, A) in {0, 1}.

A small reader over the standard layout, because ``torchvision.datasets.CelebA`` refuses subsets:
``<DATA_DIR>/celeba/img_align_celeba/*.jpg``, ``list_attr_celeba.txt`` and
``list_eval_partition.txt``. Rows whose image is absent are dropped, so any subset works.
"""

import hashlib
import logging
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import TensorDataset
from torchvision.io import decode_image
from torchvision.transforms.v2.functional import center_crop, resize

from cgbench.datamodules.base import SPLITS, ConditionalDataModule, DataNotFoundError

log = logging.getLogger(__name__)

CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
# The ten salient attributes of Latent Constraints (Engel et al. 2017).
LC_ATTRIBUTES = (
    "Bald", "Black_Hair", "Blond_Hair", "Brown_Hair", "Eyeglasses",
    "Male", "No_Beard", "Smiling", "Wearing_Hat", "Young",
)  # fmt: skip


def read_table(path: Path, names: list[str], skiprows: int = 0) -> pd.DataFrame:
    """Whitespace-separated CelebA list file indexed by image name (CRLF or LF, any last line)."""
    return pd.read_csv(path, sep=r"\s+", header=None, names=names, index_col=0, dtype=str,
                       skiprows=skiprows)  # fmt: skip


def read_attributes(path: Path) -> pd.DataFrame:
    """``list_attr_celeba.txt`` as 0/1 integers; line 1 (the row count) is not trusted."""
    with open(path) as f:
        f.readline()
        names = f.readline().split()
    table = read_table(path, ["image", *names], skiprows=2)
    bad = table.index[table.isna().any(axis=1) | ~table.isin(["1", "-1"]).all(axis=1)]
    if len(bad):  # a cut-off copy ends in a short row; a damaged one holds other values
        raise DataNotFoundError(
            f"CelebA: {path} is truncated or corrupt: the row of {bad[0]} does not hold "
            f"{len(names)} values of 1 or -1. Fix: copy list_attr_celeba.txt again"
        )
    return (table.astype(int) > 0).astype(int)


class CelebADataModule(ConditionalDataModule):
    """CelebA faces, centre-cropped and resized, with a configurable attribute set.

    Splits follow ``list_eval_partition.txt`` over the images present. When that leaves the
    validation or test split empty (a subset of training images, like the 9,500-image subset
    this project develops on), the split is made from the image id instead: id % 10 == 0 is
    test, == 1 is validation. That rule does not depend on which other images are present.
    ``split_info`` records which was used.

    Args:
        attributes: Attribute names (any of the 40); default the ten of Latent Constraints.
        image_size: Output side in pixels.
        crop_fraction: Side of the centre square crop, as a fraction of the image width
            (140 px of the original 178).
        **kwargs: Paths and loader settings of `ConditionalDataModule`.
    """

    cond_kind = "attributes"

    def __init__(
        self,
        attributes: tuple[str, ...] | list[str] = LC_ATTRIBUTES,
        image_size: int = 64,
        crop_fraction: float = 140 / 178,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.attributes = tuple(attributes)
        self.image_size = image_size
        self.crop_fraction = crop_fraction
        self.x_shape = (3, image_size, image_size)
        self.y_shape = (len(self.attributes),)
        self.folder = self.data_dir / "celeba"
        self.split_info: dict = {}

    def _require(self, name: str) -> Path:
        path = self.folder / name
        if not path.exists():
            raise DataNotFoundError(
                f"CelebA: {path} is missing. Expected under $DATA_DIR/celeba/: img_align_celeba/"
                f"*.jpg, list_attr_celeba.txt and list_eval_partition.txt (the aligned-and-cropped "
                f"release, {CELEBA_URL}). Fix: set DATA_DIR to the folder holding celeba/ "
                f"(e.g. DATA_DIR=/path/to/data)."
            )
        return path

    def prepare_data(self) -> None:
        """Fail at once, with the fix, when any of the three CelebA inputs is missing."""
        for name in ("img_align_celeba", "list_eval_partition.txt"):
            self._require(name)
        with open(self._require("list_attr_celeba.txt")) as f:
            f.readline()
            self._check_attributes(f.readline().split())

    def _check_attributes(self, valid: list[str]) -> None:
        unknown = [a for a in self.attributes if a not in valid]
        if unknown:
            raise ValueError(
                f"unknown CelebA attribute(s) {unknown}; valid names: {', '.join(valid)}"
            )

    def table(self) -> pd.DataFrame:
        """Present images with their chosen attributes (0/1) and split name, sorted by id."""
        images = self._require("img_align_celeba")
        attrs = read_attributes(self._require("list_attr_celeba.txt"))
        self._check_attributes(list(attrs.columns))
        partition = read_table(self._require("list_eval_partition.txt"), ["image", "split"])
        present = {p.name for p in images.glob("*.jpg")}
        table = attrs.loc[sorted(present & set(attrs.index)), list(self.attributes)]
        if table.empty:
            raise DataNotFoundError(f"CelebA: no image in {images} has a row in the attribute file")
        official = (
            partition["split"].reindex(table.index).map({"0": "train", "1": "val", "2": "test"})
        )
        if official.isin(["val"]).any() and official.isin(["test"]).any():
            table["split"], method = official, "official list_eval_partition.txt"
        else:
            ids = table.index.str.extract(r"(\d+)", expand=False).astype(int) % 10
            table["split"] = ["test" if i == 0 else "val" if i == 1 else "train" for i in ids]
            method = "image id % 10: 0 -> test, 1 -> val (official partition has no val/test here)"
        sizes = table["split"].value_counts().reindex(list(SPLITS), fill_value=0)
        self.split_info = {"method": method, **{s: int(n) for s, n in sizes.items()}}
        dropped = len(attrs) - len(table)
        log.info("CelebA: %d images (%d attribute rows without an image dropped); split by %s: %s",
                 len(table), dropped, method, sizes.to_dict())  # fmt: skip
        return table

    def decode(self, names: list[str]) -> torch.Tensor:
        """Crop and resize the named images; cached as uint8 ``(N, 3, S, S)``."""
        key = hashlib.sha256(
            repr((str(self.folder.resolve()), names, self.image_size, self.crop_fraction)).encode()
        ).hexdigest()[:16]
        cache = self.cache_dir / "celeba" / f"images-{key}.pt"
        if cache.exists():
            return torch.load(cache, weights_only=True)
        log.info("CelebA: decoding %d images into %s (once)", len(names), cache)
        out = torch.empty(len(names), 3, self.image_size, self.image_size, dtype=torch.uint8)
        for i, name in enumerate(names):
            path = self.folder / "img_align_celeba" / name
            try:
                image = decode_image(str(path), mode="RGB")
            except (RuntimeError, OSError) as err:
                raise DataNotFoundError(f"CelebA: cannot read image {path}: {err}") from err
            side = round(image.shape[-1] * self.crop_fraction)
            out[i] = resize(center_crop(image, [side, side]), [self.image_size] * 2, antialias=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(out, cache)
        return out

    def setup(self, stage: str | None = None) -> None:
        """Read the lists, decode (or load) the images and build the three splits."""
        if self.test_set is not None:
            return
        table = self.table()
        images = self.decode(list(table.index))
        attrs = torch.tensor(table[list(self.attributes)].to_numpy(), dtype=torch.float32)
        digest = hashlib.sha256(images.numpy().tobytes())
        split = table["split"].str.cat().encode()
        images_only = digest.copy()
        images_only.update(split)
        self.image_checksum = images_only.hexdigest()  # the same whatever the attribute set
        digest.update(attrs.numpy().tobytes())
        digest.update(split)
        self.data_checksum = digest.hexdigest()
        for split in SPLITS:
            rows = torch.tensor((table["split"] == split).to_numpy())
            x = images[rows].float().div(127.5).sub(1.0)  # (N, 3, S, S) in [-1, 1]
            setattr(self, f"{split}_set", TensorDataset(x, attrs[rows]))
