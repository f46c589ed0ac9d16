"""A budgeted run always ends, and the meter says what it could not count."""

import json

import pandas as pd

from cgbench.__main__ import main
from cgbench.cells.callbacks import BUDGET_MAX_EPOCHS
from cgbench.cells.train import make_trainer
from cgbench.config import run_config

# Two generators of a user's own, outside the repo: one that learns nothing (the class-mean
# image: its batches count no FLOPs) and one that hides work in an op torch has no FLOP
# formula for (an FFT of every image, 64 times over).
PLUGINS = '''
import torch
from torch import nn

from cgbench.models import ConditionalGenerator


class ClassMean(ConditionalGenerator):
    """The running mean training image of each class; no learned layers."""

    cond_kinds = frozenset({"label"})

    def __init__(self, x_shape, y_shape):
        super().__init__(x_shape, y_shape)
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.register_buffer("sums", torch.zeros(y_shape[0], *x_shape))
        self.register_buffer("counts", torch.zeros(y_shape[0]))

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.sums.index_add_(0, y.argmax(1), x)
        self.counts += y.sum(0)

    def configure_optimizers(self):
        return None

    def generate(self, y, generator=None):
        means = self.sums / self.counts.clamp(min=1).view(-1, *[1] * len(self.x_shape))
        return means[y.argmax(1)]


class HiddenFFT(ConditionalGenerator):
    """A linear map from y to an image, trained on a loss the FFT of each image feeds."""

    cond_kinds = frozenset({"label"})

    def __init__(self, x_shape, y_shape):
        super().__init__(x_shape, y_shape)
        self.save_hyperparameters()
        n = 1
        for s in x_shape:
            n *= s
        self.net = nn.Linear(y_shape[0], n)

    def training_step(self, batch, batch_idx):
        x, y = batch
        spectrum = torch.fft.fft2(x.repeat(1, 64, 1, 1)).abs().mean()
        return (self.net(y).view_as(x) - x).abs().mean() + 0 * spectrum

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)

    def generate(self, y, generator=None):
        return self.net(y).view(len(y), *self.x_shape).tanh()
'''
RUN = (
    "run --tasks synthetic_label --profile quick --logger none "
    "--include-synthetic --set budget.train_tflop=1"
).split()


def record(results, model):
    path = results / "runs" / "synthetic_label" / model / "quick" / "seed0" / "metrics.json"
    return json.loads(path.read_text())


def test_a_model_the_meter_cannot_see_stops_at_once(tmp_path, capsys, plugin_module):
    plugin_module("mine", PLUGINS)
    args = [*RUN, "--model", "classmean=mine:ClassMean", "--results-dir", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    line = next(line for line in err.splitlines() if line.startswith("error:"))
    assert "classmean" in line and "budget.max_epochs" in line  # the model and the fix
    assert not list(tmp_path.glob("runs/*/*/*/*/metrics.json"))


def capped_run(tmp_path, plugin_module, spec: str) -> tuple[dict, str]:
    """Run a plugin under a budget it cannot spend, capped at one epoch: (record, status)."""
    plugin_module("mine", PLUGINS)
    args = [*RUN, "--set", "budget.max_epochs=1", "--model", spec, "--results-dir", str(tmp_path)]
    assert main(args) == 0
    board = pd.read_csv(tmp_path / "leaderboard.csv").set_index("model")
    name = spec.split("=")[0]
    return record(tmp_path, name), board.loc[name, "status"]


def test_with_an_epoch_cap_it_trains_scores_and_is_marked_off_budget(tmp_path, plugin_module):
    rec, status = capped_run(tmp_path, plugin_module, "classmean=mine:ClassMean")
    assert rec["status"] == "ok" and rec["epochs"] == 1 and rec["stopped_by"] == "max_epochs"
    assert rec["train_tflop"] == 0 and rec["budget_max_epochs"] == 1
    assert 0 <= rec["scores"]["attr_acc"] <= 1
    assert "TFLOP 0.00x budget 1/1" in status


def test_an_unmetered_op_is_named_in_the_record_and_marked(tmp_path, plugin_module):
    rec, status = capped_run(tmp_path, plugin_module, "hidden=mine:HiddenFFT")
    assert any("fft" in op for op in rec["flops_uncounted_ops"])
    assert rec["flops_uncounted_share"] > 1  # the FFT touched more elements than FLOPs counted
    assert "unmetered ops" in status


def test_the_suites_own_models_count_almost_everything(tmp_path):
    assert main([*RUN, "--models", "cvae", "cgan", "--results-dir", str(tmp_path)]) == 0
    for model in ("cvae", "cgan"):
        rec = record(tmp_path, model)
        assert rec["flops_uncounted_share"] < 0.2 and rec["stopped_by"] == "max_epochs"
        assert "unmetered" not in pd.read_csv(tmp_path / "leaderboard.csv")["status"].str.cat()


def test_an_unbounded_budgeted_run_gets_the_stated_epoch_cap(tmp_path):
    cfg = run_config(
        "synthetic_label", "cvae", 0, "quick", ("budget.train_tflop=1", "trainer.max_epochs=-1")
    )
    assert "max_epochs" not in cfg["budget"]  # the default: in the record, not the config hash
    trainer = make_trainer(cfg, tmp_path, False, "label")
    assert trainer.max_epochs == BUDGET_MAX_EPOCHS
    capped = run_config(
        "synthetic_label", "cvae", 0, "quick", ("budget.train_tflop=1", "budget.max_epochs=1")
    )
    assert capped["budget"]["max_epochs"] == 1  # set: recorded in the config (and its hash)
    assert capped["trainer"]["max_epochs"] == 2  # quick's own, under the cap where that is set
    assert make_trainer(capped, tmp_path, False, "label").max_epochs == 1
