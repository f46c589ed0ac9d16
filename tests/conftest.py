import pytest
import pytorch_lightning as pl
import torch

from datamodules import SyntheticDataModule

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own cache (decoded data, evaluator classifiers)."""
    monkeypatch.setenv("CGBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


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
