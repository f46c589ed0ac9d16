"""CSVAE's structure: who sees y, which optimiser owns which parameters, the fixed priors."""

import torch

from cgbench.models import CSVAE


def model(dm) -> CSVAE:
    return CSVAE(dm.x_shape, dm.y_shape, z_dim=4, w_dim=2, width=8, adversary_hidden=16)


def test_optimisers_hold_disjoint_parameters(synthetic_dm):
    m = model(synthetic_dm("attributes"))
    vae_opt, adversary_opt = m.configure_optimizers()
    vae = {id(p) for g in vae_opt.param_groups for p in g["params"]}
    adversary = {id(p) for g in adversary_opt.param_groups for p in g["params"]}
    assert adversary == {id(p) for p in m.adversary.parameters()}
    assert not vae & adversary
    assert vae | adversary == {id(p) for p in m.parameters()}


def test_z_encoder_has_no_path_from_y(synthetic_dm):
    dm = synthetic_dm("attributes")
    m = model(dm).eval()
    x, y = next(iter(dm.train_dataloader()))
    y = y.clone().requires_grad_(True)
    z = m.label_free_latent(x, y)
    (grad,) = torch.autograd.grad(z.sum(), y, allow_unused=True)
    assert grad is None  # no graph edge from y to z at all
    w_mu, _ = m.posterior_w(x, y)
    (grad,) = torch.autograd.grad(w_mu.sum(), y)
    assert grad.abs().sum() > 0  # whereas w does see y


def test_adversary_step_leaves_the_vae_alone(synthetic_dm):
    dm = synthetic_dm("attributes")
    m = model(dm)
    x, y = next(iter(dm.train_dataloader()))
    m.adversary_loss(m.detached_posterior_z(x), y).backward()
    assert all(p.grad is None for p in m.vae_parameters())
    assert all(p.grad is not None for p in m.adversary.parameters())


def test_prior_separates_the_two_label_values(synthetic_dm):
    m = model(synthetic_dm("attributes"))
    mean, logvar = m.prior_w(torch.tensor([[0.0, 1.0, 0.0]]))
    assert mean.tolist() == [[0, 0, 3, 3, 0, 0]]
    assert torch.allclose(logvar.exp(), torch.tensor([[0.1, 0.1, 1, 1, 0.1, 0.1]]))


def test_edit_moves_only_the_changed_subspace(synthetic_dm):
    dm = synthetic_dm("attributes")
    m = model(dm).eval()
    x, y = next(iter(dm.test_dataloader()))
    target = y.clone()
    target[:, 0] = 1 - target[:, 0]
    with torch.no_grad():
        assert torch.equal(m.edit(x, y, y), m.decode(m.posterior_z(x)[0], m.posterior_w(x, y)[0]))
        assert not torch.equal(m.edit(x, y, target), m.edit(x, y, y))


def test_adversary_takes_its_steps_per_vae_step(synthetic_dm):
    from cgbench.studies.speed import without_trainer  # the model's own step, no Trainer

    dm = synthetic_dm("attributes")
    m = CSVAE(dm.x_shape, dm.y_shape, z_dim=4, w_dim=2, width=8, adversary_steps=3)
    vae_opt, adversary_opt = without_trainer(m)
    m.training_step(next(iter(dm.train_dataloader())), 0)

    def steps(optimizer):  # Adam counts its updates per parameter
        return {
            int(optimizer.state[p]["step"]) for g in optimizer.param_groups for p in g["params"]
        }

    assert steps(vae_opt) == {1}
    assert steps(adversary_opt) == {3}
