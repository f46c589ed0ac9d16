import pytest
import torch
from torch import nn

from cgbench.metrics import METRICS, ms_ssim_settings
from cgbench.metrics.attribute import (
    AttributeAccuracy,
    AttributeBalanced,
    AttributeTNR,
    AttributeTPR,
)
from cgbench.metrics.base import BenchMetric, to_unit_range
from cgbench.metrics.image import PairwiseMSSSIM, PairwiseMSSSIMReal
from cgbench.metrics.ssim import ms_ssim_per_image


class OracleLabel(nn.Module):
    """Stub evaluator: reads the class from the mean brightness of the image's rows."""

    def forward(self, x):
        return x.mean(dim=(1, 3))[:, :10]  # (N, 10) one score per row band


def label_images(labels: torch.Tensor) -> torch.Tensor:
    x = -torch.ones(len(labels), 1, 28, 28)
    x[torch.arange(len(labels)), 0, labels] = 1.0  # row c bright for class c
    return x


def test_every_metric_declares_direction_and_name():
    for key, cls in METRICS.items():
        assert issubclass(cls, BenchMetric)
        assert cls.name == key
        assert isinstance(cls.higher_is_better, bool)


def test_to_unit_range():
    assert torch.equal(
        to_unit_range(torch.tensor([-1.0, 0.0, 1.0, 2.0])), torch.tensor([0, 0.5, 1, 1])
    )


@pytest.mark.parametrize("size,scales", [(28, 2), (32, 2), (64, 3), (176, 5), (256, 5)])
def test_ms_ssim_settings_are_valid_at_small_sizes(size, scales):
    settings = ms_ssim_settings(size)
    assert len(settings["betas"]) == scales
    assert sum(settings["betas"]) == pytest.approx(1.0, abs=1e-5)
    a = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ms_ssim_per_image(a, a, settings), torch.ones(2))
    noisy = (a + 0.3 * torch.randn(a.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert (ms_ssim_per_image(a, noisy, settings) < 0.95).all()


def test_attribute_accuracy_label():
    labels = torch.arange(10)
    y = torch.nn.functional.one_hot(labels, 10).float()
    right = label_images(labels)
    wrong = label_images((labels + 1) % 10)
    metric = AttributeAccuracy(OracleLabel(), "label")
    metric.update(torch.stack([right, right, wrong]), right, y)  # K = 3: 2 of 3 correct
    assert metric.compute().item() == pytest.approx(2 / 3)


def test_attribute_accuracy_attributes_counts_each_attribute():
    class Identity(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :4]

    y = torch.tensor([[1.0, 0, 1, 0]])
    x_hat = torch.tensor([[1.0, -1, -1, -1]]).view(1, 1, 1, 1, 4)  # 3 of 4 attributes right
    metric = AttributeAccuracy(Identity(), "attributes")
    metric.update(x_hat, x_hat[0], y)
    assert metric.compute().item() == pytest.approx(0.75)


def test_attribute_rates_are_per_attribute_and_blind_to_collapse():
    class Identity(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :3]

    # Two conditions, three attributes; the samples' logits are their "seen" decisions.
    y = torch.tensor([[1.0, 0, 1], [0.0, 0, 1]])
    seen = torch.tensor([[1.0, -1, -1], [1.0, 1, 1]]).view(1, 2, 1, 1, 3)
    rates = {
        cls.name: cls(Identity(), "attributes", ["a", "b", "c"])
        for cls in (AttributeTPR, AttributeTNR, AttributeBalanced)
    }
    for metric in rates.values():
        metric.update(seen, seen[0], y)
    # a: on asked once, seen (TPR 1); off asked once, seen (TNR 0). b: never on (TPR NaN);
    # off twice, seen once (TNR 0.5). c: on twice, seen once (TPR 0.5); never off.
    assert rates["attr_tpr"].details() == pytest.approx(
        {"a": 1.0, "b": float("nan"), "c": 0.5}, nan_ok=True
    )
    assert rates["attr_tnr"].compute().item() == pytest.approx((0 + 0.5) / 2)
    assert rates["attr_balanced"].compute().item() == pytest.approx(0.5)  # only a has both
    # a constant output scores exactly 0.5 balanced, whatever it draws
    constant = AttributeBalanced(Identity(), "attributes")
    constant.update(torch.ones(1, 2, 1, 1, 3), seen[0], torch.tensor([[1.0, 0, 1], [0.0, 1, 0]]))
    assert constant.compute().item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="attribute conditions"):
        AttributeTPR(Identity(), "label")


def test_bootstrap_interval_brackets_the_value_and_matches_a_resample():
    metric = AttributeBalanced(nn.Flatten(), "attributes")
    metric.keep_items = True
    gen = torch.Generator().manual_seed(0)
    y = (torch.rand(200, 2, generator=gen) > 0.5).float()
    logits = torch.where(torch.rand(200, 2, generator=gen) < 0.8, y, 1 - y) * 2 - 1
    metric.update(logits.view(1, 200, 1, 1, 2), logits, y)
    low, high = metric.bootstrap_ci()
    assert low < metric.compute().item() < high and high - low < 0.15
    assert metric.value_of(torch.cat(metric.items)) == pytest.approx(metric.compute().item())


def test_diversity_identical_samples_is_one_and_noise_is_lower():
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = torch.eye(4)
    same = PairwiseMSSSIM(image_size=28)
    same.update(torch.stack([x, x, x]), x, y)
    assert same.compute().item() == pytest.approx(1.0, abs=1e-5)
    other = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    diverse = PairwiseMSSSIM(image_size=28)
    diverse.update(torch.stack([x, other]), x, y)
    assert diverse.compute().item() < 0.5


def test_diversity_real_pairs_random_images_sharing_a_condition_over_the_whole_set():
    gen = torch.Generator().manual_seed(0)
    distinct = torch.rand(4, 1, 28, 28, generator=gen) * 2 - 1
    x = distinct.repeat_interleave(2, 0)  # neighbours identical, as a writer-sorted file
    x = torch.cat([x, distinct[:1]])  # and a 9th image of its own class: never paired
    y = torch.nn.functional.one_hot(torch.tensor([0] * 8 + [1]), 2).float()

    def value(*batches):
        metric = PairwiseMSSSIMReal(image_size=28)
        for rows in batches:
            metric.update(x[rows][None], x[rows], y[rows])
        return metric.compute().item(), metric.count.item(), metric.details()

    whole, pairs, details = value(slice(0, 9))
    assert pairs == 4 and details["pairs"] == 4  # 8 class-0 images; class 1's one is left
    assert whole < 0.9  # random pairs, not neighbours (which would all score 1.0)
    assert details["ci_low"] <= whole <= details["ci_high"]
    assert value(slice(0, 3), slice(3, 9))[0] == pytest.approx(whole)  # batches do not matter
    same = PairwiseMSSSIMReal(image_size=28)
    same.update(x[:2][None], x[:2], y[:2])  # identical images: 1.0 whatever the pairing
    assert same.compute().item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("key", ["attr_acc", "pairwise_ms_ssim"])
def test_scores_do_not_depend_on_batch_size(key):
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (32,), generator=gen)
    y = torch.nn.functional.one_hot(labels, 10).float()
    x_hat = torch.stack([label_images(labels), torch.rand(32, 1, 28, 28, generator=gen) * 2 - 1])
    results = []
    for batch in (4, 32):
        metric = AttributeAccuracy(OracleLabel()) if key == "attr_acc" else PairwiseMSSSIM(28)
        for i in range(0, 32, batch):
            metric.update(x_hat[:, i : i + batch], x_hat[0, i : i + batch], y[i : i + batch])
        results.append(metric.compute().item())
    assert results[0] == pytest.approx(results[1], abs=1e-6)


def test_empty_metric_is_nan_not_zero():
    assert torch.isnan(PairwiseMSSSIM(28).compute())
