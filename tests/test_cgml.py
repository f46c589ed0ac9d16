"""cGML: inference replays the Z network only; training moves both H/G and Z."""

import torch

from cgbench.models import CGML
from cgbench.models.cgml import uniformity


def model(dm, **kwargs) -> CGML:
    args = dict(z_dim=4, width=8, z_hidden=16, inner_steps=2)
    return CGML(dm.x_shape, dm.y_shape, **(args | kwargs))


def test_inference_never_evaluates_the_task_loss(synthetic_dm, monkeypatch):
    dm = synthetic_dm("image")
    m = model(dm).eval()

    def oracle(*args):
        raise AssertionError("generate must not read a target")

    monkeypatch.setattr(m, "task_loss", oracle)
    y = next(iter(dm.test_dataloader()))[1]
    assert m.generate(y, torch.Generator().manual_seed(0)).shape == (len(y), *dm.x_shape)


def test_no_rho_variant_replays_a_different_path(synthetic_dm):
    dm = synthetic_dm("image")
    m = model(dm).eval()
    y = next(iter(dm.test_dataloader()))[1]
    main = m.generate(y, torch.Generator().manual_seed(0))
    m.variant = "no_rho"
    assert not torch.equal(main, m.generate(y, torch.Generator().manual_seed(0)))
    assert m.run_info() == {"inference_iterations": 2}


def test_training_updates_the_unet_and_the_z_network(synthetic_dm, fast_trainer):
    dm = synthetic_dm("image")
    m = model(dm)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    fast_trainer().fit(m, dm)
    changed = {n.split(".")[0] for n, p in m.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"unet", "z_net"}


def test_uniformity_prefers_spread_colours():
    spread = torch.linspace(-0.9, 0.9, 64).view(1, 1, 8, 8).expand(1, 2, 8, 8)
    flat = torch.zeros(1, 2, 8, 8)
    # Two channels: 0 for a perfectly uniform histogram, up to 2 log 16 for a single bin.
    assert uniformity(spread).item() < 0.25
    assert uniformity(flat).item() > 2.0


def test_z_replay_moves_toward_lower_loss_after_training(synthetic_dm):
    from cgbench.studies.speed import without_trainer  # the model's own steps, no Trainer

    torch.manual_seed(0)
    dm = synthetic_dm("image")
    m = model(dm, inner_steps=3, inner_lr=0.05)
    without_trainer(m)
    x, y = next(iter(dm.train_dataloader()))  # one fixed toy batch
    for i in range(200):
        m.training_step((x, y), i)
    m.eval()
    with torch.no_grad():
        features = m.unet.encode(y)
        z = m.uniform(len(y))
        before = m.task_loss(m.unet.decode(features, z), x)
        for _ in range(5):
            z = m.replay_step(features[-1], z)
        after = m.task_loss(m.unet.decode(features, z), x)
    assert after.mean() < 0.99 * before.mean(), (before.mean(), after.mean())
