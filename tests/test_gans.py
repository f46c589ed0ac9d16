"""GAN-specific properties: AC-GAN's auxiliary classifier learns; divergence is recorded."""

import json
import os
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from cgbench.__main__ import main
from cgbench.datamodules import MNISTDataModule
from cgbench.models import ACGAN

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))


@pytest.mark.slow  # about 30 s on 2 cores
@pytest.mark.skipif(not (DATA_DIR / "mnist").exists(), reason="no MNIST in DATA_DIR")
def test_acgan_auxiliary_head_classifies_real_mnist_above_chance(isolated_cache):
    dm = MNISTDataModule(data_dir=DATA_DIR, cache_dir=isolated_cache, batch_size=64)
    dm.setup()
    pl.seed_everything(0)
    model = ACGAN(dm.x_shape, dm.y_shape, z_dim=16, width=16, hidden=64)
    trainer = pl.Trainer(
        max_steps=300,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(model, dm)
    x, y = next(iter(torch.utils.data.DataLoader(dm.test_set, batch_size=1000)))
    model.eval()
    with torch.no_grad():
        _, logits = model.discriminate(x)
    accuracy = (logits.argmax(1) == y.argmax(1)).float().mean().item()
    assert accuracy > 0.5, accuracy  # chance is 0.1


def test_a_diverging_run_is_recorded_and_the_matrix_goes_on(tmp_path, capsys):
    code = main(
        [
            *(
                "run --tasks synthetic_label --models cgan cvae --profile "
                "smoke --logger none --results-dir"
            ).split(),
            str(tmp_path),
            *(
                "--include-synthetic --set models.cgan.lr=1e30 --set "
                "trainer.fast_dev_run=false --set trainer.max_steps=10"
            ).split(),
        ]
    )
    assert code == 0
    assert "DIVERGED" in capsys.readouterr().out
    runs = tmp_path / "runs" / "synthetic_label"
    diverged = json.loads((runs / "cgan" / "smoke" / "seed0" / "metrics.json").read_text())
    assert diverged["status"] == "diverged" and diverged["diverged_at_step"] >= 1
    assert diverged["scores"] == {} and "nan" in diverged["reason"]
    finished = json.loads((runs / "cvae" / "smoke" / "seed0" / "metrics.json").read_text())
    assert finished["status"] == "ok" and finished["scores"]
    board = (tmp_path / "leaderboard.md").read_text()
    assert "diverged 1/1" in board
