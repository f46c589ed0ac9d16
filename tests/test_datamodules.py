import os
from pathlib import Path

import pytest
import torch

import cgbench.datamodules.mnist as mnist_module
from cgbench.datamodules import DataNotFoundError, MNISTDataModule
from cgbench.tasks import TASKS

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))


@pytest.mark.parametrize("kind", ["label", "attributes"])
def test_synthetic_batches_follow_the_contract(kind, synthetic_dm):
    dm = synthetic_dm(kind)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, *dm.x_shape) and y.shape == (8, *dm.y_shape)
    assert x.min() >= -1 and x.max() <= 1
    assert dm.cond_kind == kind


def test_task_cond_kinds_match_their_datamodules(tmp_path):
    for name, task in TASKS.items():
        if task.synthetic:
            assert task.datamodule().cond_kind == task.cond_kind, name
        else:
            assert task.datamodule(data_dir=tmp_path).cond_kind == task.cond_kind, name


@pytest.mark.skipif(not (DATA_DIR / "mnist").exists(), reason="no MNIST in DATA_DIR")
def test_mnist_real_files(isolated_cache):
    dm = MNISTDataModule(data_dir=DATA_DIR, cache_dir=isolated_cache, batch_size=64)
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55000, 5000, 10000)
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (64, 1, 28, 28) and y.shape == (64, 10)
    assert x.min() == -1 and x.max() == 1
    assert y.sum(1).eq(1).all()
    # The official test set starts with a 7, 2, 1, 0, 4.
    assert y[:5].argmax(1).tolist() == [7, 2, 1, 0, 4]
    # The validation split is fixed by split_seed, whatever the global RNG state.
    torch.manual_seed(123)
    again = MNISTDataModule(data_dir=DATA_DIR, cache_dir=isolated_cache)
    again.setup()
    assert again.val_set.indices == dm.val_set.indices
    assert len(dm.data_checksum) == 64


def test_mnist_missing_offline_fails_fast_with_one_clear_message(tmp_path, monkeypatch):
    attempts = []

    def offline(url, *args, **kwargs):
        attempts.append(url)
        raise OSError("network unreachable")

    monkeypatch.setattr(mnist_module, "download_url", offline)
    dm = MNISTDataModule(data_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
    with pytest.raises(DataNotFoundError) as err:
        dm.setup()
    # fast, counted not timed: one try per mirror for the first missing file, then the error
    assert len(attempts) == len(mnist_module.MNIST.mirrors)
    message = str(err.value)
    assert "DATA_DIR" in message and "train-images-idx3-ubyte.gz" in message
    assert "network unreachable" in message


def test_mnist_corrupt_file_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in mnist_module.FILES:
        (folder / name).write_bytes(b"not mnist")
    dm = MNISTDataModule(data_dir=tmp_path, cache_dir=tmp_path / "cache", download=False)
    with pytest.raises(DataNotFoundError, match="missing or corrupt"):
        dm.setup()
