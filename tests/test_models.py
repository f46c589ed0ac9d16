"""Contract tests, parametrized over every registered model and each condition kind it supports."""

import pytest
import pytorch_lightning as pl
import torch

from cgbench.config import load_config
from cgbench.datamodules import COND_KINDS
from cgbench.models import MODELS
from cgbench.tasks import TASKS

SYNTHETIC = {t.cond_kind: name for name, t in TASKS.items() if t.synthetic}
CASES = [
    pytest.param(name, kind, id=f"{name}-{kind}")
    for name, cls in MODELS.items()
    for kind in sorted(cls.cond_kinds)
    if kind in SYNTHETIC
]


def build(name: str, kind: str, synthetic_dm):
    dm = synthetic_dm(kind)
    args = load_config(SYNTHETIC[kind], "smoke")["models"].get(name, {})
    return MODELS[name](x_shape=dm.x_shape, y_shape=dm.y_shape, **args), dm


def test_every_model_is_tested():
    assert {c.values[0] for c in CASES} == set(MODELS)


@pytest.mark.parametrize("name,kind", CASES)
def test_one_training_step_changes_weights(name, kind, synthetic_dm, fast_trainer):
    model, dm = build(name, kind, synthetic_dm)
    before = [p.detach().clone() for p in model.parameters()]
    fast_trainer().fit(model, dm)
    after = list(model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("name,kind", CASES)
def test_generate_shape_range_and_seeding(name, kind, synthetic_dm):
    model, dm = build(name, kind, synthetic_dm)
    model.eval()
    y = next(iter(dm.test_dataloader()))[1]
    a = model.generate(y, generator=torch.Generator().manual_seed(1))
    b = model.generate(y, generator=torch.Generator().manual_seed(1))
    c = model.generate(y, generator=torch.Generator().manual_seed(2))
    assert a.shape == (len(y), *dm.x_shape)
    assert torch.isfinite(a).all() and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name,kind", CASES)
def test_checkpoint_round_trip(name, kind, synthetic_dm, tmp_path, fast_trainer):
    model, dm = build(name, kind, synthetic_dm)
    trainer = fast_trainer(fast_dev_run=False, max_steps=1, limit_val_batches=0)
    trainer.fit(model, dm)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    loaded = type(model).load_from_checkpoint(path)
    y = next(iter(dm.test_dataloader()))[1]
    model.eval(), loaded.eval()
    same = [m.generate(y, generator=torch.Generator().manual_seed(0)) for m in (model, loaded)]
    assert torch.equal(*same)


@pytest.mark.parametrize("name", list(MODELS))
def test_declared_condition_kinds_are_known(name):
    assert MODELS[name].cond_kinds and MODELS[name].cond_kinds <= COND_KINDS
    assert issubclass(MODELS[name], pl.LightningModule)
