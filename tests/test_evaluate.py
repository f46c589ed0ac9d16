"""The shared evaluation loops on stub generators, without a Trainer."""

import torch
from torch import nn

from cgbench.metrics.attribute import AttributeAccuracy, EditSuccess
from cgbench.metrics.image import PSNR, PairwiseMSSSIM
from cgbench.scoring.evaluate import edit_targets, evaluate, evaluate_edits, sample_grid


class StubGenerator(nn.Module):
    """Draws the class template (row c bright for class c) plus seeded noise."""

    device = torch.device("cpu")

    def __init__(self, noise: float = 0.1):
        super().__init__()
        self.noise = noise

    def generate(self, y, generator=None):
        x = -torch.ones(len(y), 1, 28, 28)
        x[torch.arange(len(y)), 0, y.argmax(1)] = 1.0
        return (x + self.noise * torch.randn(x.shape, generator=generator)).clamp(-1, 1)

    def edit(self, x, y_source, y_target):
        return self.generate(y_target)


class RowClassifier(nn.Module):
    def forward(self, x):
        return x.mean(dim=(1, 3))[:, :10]


def loader(n=40, batch=16):
    y = torch.nn.functional.one_hot(torch.arange(n) % 10, 10).float()
    x = StubGenerator(0).generate(y)
    return torch.utils.data.DataLoader(list(zip(x, y, strict=True)), batch_size=batch)


def test_evaluate_scores_a_perfect_conditional_generator():
    metrics = {
        "attr_acc": AttributeAccuracy(RowClassifier()),
        "pairwise_ms_ssim": PairwiseMSSSIM(28),
    }
    scores, per_second = evaluate(StubGenerator(), loader(), metrics, k_samples=3, seed=0)
    assert scores["attr_acc"] == 1.0
    assert 0 < scores["pairwise_ms_ssim"] < 1 and per_second > 0
    again, _ = evaluate(StubGenerator(), loader(), metrics, k_samples=3, seed=0)
    assert again == scores  # metrics are reset and sampling is seeded
    other, _ = evaluate(StubGenerator(), loader(), metrics, k_samples=3, seed=1)
    assert other["pairwise_ms_ssim"] != scores["pairwise_ms_ssim"]


def test_max_batches_limits_the_work():
    metrics = {"psnr": PSNR()}
    evaluate(StubGenerator(), loader(), metrics, k_samples=2, max_batches=1)
    assert metrics["psnr"].count.item() == 16


def test_edit_targets_change_the_condition():
    g = torch.Generator().manual_seed(0)
    labels = torch.nn.functional.one_hot(torch.arange(20) % 10, 10).float()
    assert (edit_targets(labels, "label", g).argmax(1) != labels.argmax(1)).all()
    attrs = (torch.rand(20, 5, generator=g) > 0.5).float()
    assert ((edit_targets(attrs, "attributes", g) != attrs).sum(1) == 1).all()


def test_evaluate_edits_uses_the_target_condition():
    metrics = {"edit_success": EditSuccess(RowClassifier(), "label")}
    scores, _ = evaluate_edits(StubGenerator(0), loader(), metrics, "label", seed=0)
    assert scores["edit_success"] == 1.0


def test_sample_grid_has_one_row_per_condition():
    x, y = next(iter(loader()))
    grid = sample_grid(StubGenerator(), x, y, n_rows=10, n_cols=4)
    assert grid.shape == (3, 2 + 10 * 30, 2 + 4 * 30)  # 28 px tiles, 2 px padding
