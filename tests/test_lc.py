"""Latent Constraints: the two stages, the stage-1 cache and the edit by latent search."""

import pytorch_lightning as pl
import torch

from cgbench.cells.train import stage_cache_file
from cgbench.config import model_defaults
from cgbench.models import LC


def fit(dm, cache, **kwargs) -> LC:
    pl.seed_everything(0, verbose=False)
    args = dict(latent_dim=4, width=8, hidden=16, n_layers=2, vae_epochs=1, latent_epochs=1)
    args |= kwargs
    path = stage_cache_file(LC, model_defaults("lc") | args, dm, seed=0, cache_dir=cache)
    model = LC(dm.x_shape, dm.y_shape, stage_cache=path, **args)
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, dm)
    return model


def weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_stage_two_leaves_the_vae_frozen(synthetic_dm, tmp_path):
    dm = synthetic_dm("attributes")
    model = fit(dm, tmp_path, latent_epochs=0)
    vae, actor = weights(model.vae), weights(model.actor)
    model.hparams.latent_epochs = 1
    assert model.vae_done  # stage 1 finished at the end of its epoch
    pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(model, dm)
    assert all(torch.equal(a, b) for a, b in zip(vae, weights(model.vae), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(actor, weights(model.actor), strict=True))
    assert model.sigma_batches > 0  # sigma_bar_z comes from stage-2 posteriors


def test_new_attribute_set_reuses_the_cached_vae(synthetic_dm, tmp_path):
    first = fit(synthetic_dm("attributes"), tmp_path)
    assert not first.run_info()["vae_from_cache"]
    assert len(list(tmp_path.glob("stages/lc-stage1-*.pt"))) == 1
    # Same images, another condition set: only stage 2 trains, stage 1's seconds carry over.
    other = synthetic_dm("attributes")
    other.train_set.tensors[1].copy_(1 - other.train_set.tensors[1])
    second = fit(other, tmp_path)
    info = second.run_info()
    assert info["vae_from_cache"]
    assert info["stage_seconds"]["stage1_vae"] == first.run_info()["stage_seconds"]["stage1_vae"]
    for a, b in zip(weights(first.vae), weights(second.vae), strict=True):
        assert torch.equal(a, b)
    # Other VAE settings miss the cache and train stage 1 again.
    assert not fit(other, tmp_path, sigma_x=0.3).run_info()["vae_from_cache"]


def test_edit_moves_the_latent_towards_the_target(synthetic_dm, tmp_path):
    dm = synthetic_dm("attributes")
    model = fit(dm, tmp_path, edit_steps=20).eval()
    x, y = next(iter(dm.test_dataloader()))
    target = 1 - y
    with torch.no_grad():  # the evaluation loop calls edit without gradients
        edited = model.edit(x, y, target)
        z0, _ = model.encode(x)
        z1 = model.edit_latent(x, target)
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        assert bce(model.attr_critic(z1), target) < bce(model.attr_critic(z0), target)
    assert edited.shape == x.shape and edited.abs().max() <= 1
