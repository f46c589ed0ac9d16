"""CelebA, colorization and completion DataModules: real files, tiny layouts, bad input."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab
from torchvision.io import write_jpeg

from cgbench.cells.pipeline import score_on_validation
from cgbench.color import lab_to_rgb, rgb_to_lab
from cgbench.datamodules import (
    CelebADataModule,
    ColorizationDataModule,
    CompletionDataModule,
    DataNotFoundError,
    MultimodalCompletionDataModule,
)
from cgbench.datamodules.image_source import tensors_of
from cgbench.metrics.multimodal import mode_coverage

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
needs_celeba = pytest.mark.skipif(
    not (DATA_DIR / "celeba" / "list_attr_celeba.txt").exists(), reason="no CelebA in DATA_DIR"
)
needs_mnist = pytest.mark.skipif(not (DATA_DIR / "mnist").exists(), reason="no MNIST in DATA_DIR")
NAMES = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bald", "Male", "Smiling", "Young"]


def tiny_celeba(root: Path, n_images=12, n_rows=20, partition=None, broken=None):
    """A CelebA-style layout: n_images JPEGs, n_rows attribute rows, CRLF, wrong count line."""
    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    for i in range(1, n_images + 1):
        image = (torch.rand(3, 27, 22, generator=g) * 255).to(torch.uint8)
        write_jpeg(image, str(folder / f"{i:06d}.jpg"))
    if broken:
        (folder / broken).write_bytes(b"not a jpeg")
    rows = [
        f"{i:06d}.jpg " + " ".join("1" if (i + j) % 3 == 0 else "-1" for j in range(len(NAMES)))
        for i in range(1, n_rows + 1)
    ]
    (root / "celeba" / "list_attr_celeba.txt").write_bytes(
        "\r\n".join(["202599", " ".join(NAMES), *rows]).encode()
    )
    partition = partition or (lambda i: 0)
    lines = [f"{i:06d}.jpg {partition(i)}" for i in range(1, n_rows + 1)]
    (root / "celeba" / "list_eval_partition.txt").write_text("\r\n".join(lines) + "\r\n")


def celeba(root, **kwargs):
    return CelebADataModule(data_dir=root, cache_dir=root / "cache", image_size=16, **kwargs)


def test_subset_with_missing_images_and_no_val_test_splits_by_id(tmp_path):
    tiny_celeba(tmp_path)
    dm = celeba(tmp_path, attributes=["Bald", "Smiling"])
    dm.setup()
    sizes = [len(s) for s in (dm.train_set, dm.val_set, dm.test_set)]
    assert sizes == [9, 2, 1]  # ids 10 -> test; 1 and 11 -> val; 8 attribute rows had no image
    assert "image id" in dm.split_info["method"]
    x, y = dm.test_set[0]
    assert x.shape == (3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert y.tolist() == [float((10 + 3) % 3 == 0), float((10 + 5) % 3 == 0)]
    assert dm.y_shape == (2,)


def test_official_partition_is_used_when_it_has_val_and_test(tmp_path):
    tiny_celeba(tmp_path, partition=lambda i: 2 if i > 10 else 1 if i > 8 else 0)
    dm = celeba(tmp_path, attributes=["Male"])
    dm.setup()
    assert [len(s) for s in (dm.train_set, dm.val_set, dm.test_set)] == [8, 2, 2]
    assert dm.split_info["method"].startswith("official")


def test_decoded_images_are_cached(tmp_path):
    tiny_celeba(tmp_path)
    celeba(tmp_path, attributes=["Male"]).setup()
    assert list((tmp_path / "cache" / "celeba").glob("images-*.pt"))
    for jpg in (tmp_path / "celeba" / "img_align_celeba").glob("*.jpg"):
        jpg.write_bytes(b"")  # a second setup must not decode again
    celeba(tmp_path, attributes=["Male"]).setup()


def test_unknown_attribute_lists_the_valid_names(tmp_path):
    tiny_celeba(tmp_path)
    with pytest.raises(ValueError, match="Smiling") as err:
        celeba(tmp_path, attributes=["Smilling"]).setup()
    assert "Smilling" in str(err.value)


def test_unreadable_image_is_named(tmp_path):
    tiny_celeba(tmp_path, broken="000003.jpg")
    with pytest.raises(DataNotFoundError, match="000003.jpg"):
        celeba(tmp_path, attributes=["Male"]).setup()


def test_missing_celeba_names_the_files_and_the_source(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        celeba(tmp_path).setup()
    assert "list_attr_celeba.txt" in str(err.value) and "mmlab" in str(err.value)
    assert "DATA_DIR" in str(err.value)


@needs_celeba
def test_celeba_real_files(isolated_cache):
    dm = CelebADataModule(data_dir=DATA_DIR, cache_dir=isolated_cache, batch_size=32)
    dm.setup()
    assert [len(s) for s in (dm.train_set, dm.val_set, dm.test_set)] == [7600, 950, 950]
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (32, 3, 64, 64) and y.shape == (32, 10)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert dm.attributes[0] == "Bald" and len(dm.data_checksum) == 64


def test_lab_round_trip_matches_scikit_image():
    rgb = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours = rgb_to_lab(rgb)
    ref = np.stack([rgb2lab(i.permute(1, 2, 0).numpy()).transpose(2, 0, 1) for i in rgb])
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-3)
    back = lab_to_rgb(torch.from_numpy(ref))
    ref_back = np.stack([lab2rgb(i.transpose(1, 2, 0)).transpose(2, 0, 1) for i in ref])
    np.testing.assert_allclose(back.numpy(), ref_back, atol=1e-3)
    np.testing.assert_allclose(back.numpy(), rgb.numpy(), atol=1e-3)


def test_colorization_condition_is_the_lightness(tmp_path):
    tiny_celeba(tmp_path)
    dm = ColorizationDataModule(
        data_dir=tmp_path,
        cache_dir=tmp_path / "cache",
        base_args={"image_size": 16, "attributes": ["Male"]},
    )
    dm.setup()
    x, y = dm.test_set[0]
    assert y.shape == (1, 16, 16)
    expected = rgb_to_lab((x[None] + 1) / 2)[0, 0] / 50 - 1
    assert torch.allclose(y[0], expected, atol=1e-5)


def completion(tmp_path, **kwargs):
    tiny_celeba(tmp_path)
    base_args = {"image_size": 16, "attributes": ["Male"]}
    dm = CompletionDataModule(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", base_args=base_args, **kwargs
    )
    dm.setup()
    return dm


def test_completion_eval_masks_are_frozen_and_grouped(tmp_path):
    first = completion(tmp_path / "a")
    second = completion(tmp_path / "b")
    sha = first.split_info["eval_masks_sha256"]
    assert sha == second.split_info["eval_masks_sha256"]
    assert torch.equal(first.test_set.tensors[1], second.test_set.tensors[1])
    x, y = first.test_set[0]
    assert y.shape == (4, 16, 16)
    mask = y[3]
    assert torch.equal(y[:3], x * (1 - mask)) and 0 < mask.mean() < 1
    groups = first.test_groups()
    assert list(groups) == ["mask10", "mask25", "mask40"]
    assert sum(len(g) for g in groups.values()) == len(first.test_set)
    x, y = next(iter(first.train_dataloader()))
    assert y.shape[1] == 4  # training masks are drawn on the fly


def test_mask_larger_than_the_image_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not fit"):
        completion(tmp_path, eval_areas=(0.1, 1.5))


@needs_mnist
def test_multimodal_mnist_records_both_modes(isolated_cache):
    kw = {"data_dir": DATA_DIR, "cache_dir": isolated_cache}
    dm = MultimodalCompletionDataModule(**kw)
    dm.setup()
    modes = dm.test_modes
    assert modes.shape == (10000, 3)
    assert 0.17 < modes[:, 2].float().mean() < 0.23  # about 20% overlaid
    x, y = dm.test_set.tensors
    assert torch.all(y[:, 1, :10] == 1) and torch.all(y[:, 1, 14:] == 0)  # top rows hidden only
    own = dm.mode_targets[:, 0]
    overlaid = modes[:, 2].bool()
    assert torch.equal(dm.mode_targets[overlaid, 1], x[overlaid])  # the target is one mode
    assert torch.equal(dm.mode_targets[~overlaid, 0], x[~overlaid])
    assert torch.equal(own[:, :, 14:], x[:, :, 14:])  # modes differ only in the top half
    again = MultimodalCompletionDataModule(**kw)
    again.setup()
    assert torch.equal(again.test_modes, modes) and again.data_checksum == dm.data_checksum
    with pytest.raises(ValueError, match="top half"):
        MultimodalCompletionDataModule(mask_rows=(10, 20), **kw)

    # Mode coverage: a model that always draws one mode covers none; alternating covers all.
    class Oracle:
        device = torch.device("cpu")

        def __init__(self, alternate: bool):
            self.alternate, self.calls = alternate, 0
            self.index = {y[i].numpy().tobytes(): i for i in range(64)}

        def eval(self):
            return self

        def generate(self, conds, generator=None):
            rows = [self.index[c.numpy().tobytes()] for c in conds]
            mode = self.calls % 2 if self.alternate else 0
            self.calls += 1
            return dm.mode_targets[rows, mode]

    rows = list(range(64))
    same = mode_coverage(Oracle(False), dm, k_samples=4, rows=rows)
    assert same["mode_coverage"] == 0 and same["details"]["plain_hit"] == 1
    # always plain: the overlaid share of samples is 0, so the gap is the data's share
    true = float(dm.test_modes[:64, 2].float().mean())
    assert same["details"]["overlaid_share"] == 0 and same["mode_share_gap"] == pytest.approx(true)
    assert same["details"]["plain_share"] == 1 and same["details"]["neither_share"] == 0
    assert same["details"]["ideal_coverage"] == pytest.approx(1 - true**4 - (1 - true) ** 4)
    both = mode_coverage(Oracle(True), dm, k_samples=2, rows=rows)
    assert both["mode_coverage"] == 1 and both["details"]["overlaid_share"] == 0.5

    class Blank(Oracle):  # the hidden top left empty: no valid answer, so never "plain"
        def generate(self, conds, generator=None):
            out = super().generate(conds).clone()
            out[:, :, :14] = -1
            return out

    blank = mode_coverage(Blank(False), dm, k_samples=2, rows=rows)["details"]
    assert blank["neither_share"] > 0.9 and blank["plain_share"] < 0.1, blank


@needs_mnist
def test_tuning_scores_multimodal_mnist_on_validation_rows_with_their_own_modes(isolated_cache):
    dm = MultimodalCompletionDataModule(data_dir=DATA_DIR, cache_dir=isolated_cache)
    dm.setup()
    test_x = dm.test_set.tensors[0]
    val_x = tensors_of(dm.base.val_set)[0]
    score_on_validation(dm)
    x, _ = dm.test_set.tensors
    n = len(dm.val_set)
    assert len(x) == n == len(dm.test_modes) == len(dm.mode_targets) < len(test_x)
    groups = dm.test_groups()  # subsets of the validation rows: no index past them
    assert sum(len(g) for g in groups.values()) == n and len(groups["overlaid"][0]) == 2
    overlaid = dm.test_modes[:, 2].bool()
    assert torch.equal(dm.mode_targets[overlaid, 1], x[overlaid])
    assert torch.equal(dm.mode_targets[~overlaid, 0], x[~overlaid])
    assert torch.equal(dm.mode_targets[:, 0], val_x)  # the plain modes: validation digits
