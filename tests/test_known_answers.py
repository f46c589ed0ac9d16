"""Known answers for the distribution metrics: the conventions, not only parity with a package."""

import torch

from cgbench.metrics.distribution import kernel_distance, prdc


def gaussian(n: int, sd: float, seed: int) -> torch.Tensor:
    return torch.randn(n, 16, generator=torch.Generator().manual_seed(seed)) * sd


def test_precision_and_recall_follow_torch_fidelitys_convention():
    # torch-fidelity's scenario: samples from a narrow N(0, 0.1^2) inside a wide real N(0, 3^2)
    # are all realistic (precision high) but cover little of the real data (recall low)
    real, narrow = gaussian(200, 3.0, seed=0), gaussian(200, 0.1, seed=1)
    found = prdc(real, narrow)
    assert found["precision"] > 0.8 and found["recall"] < 0.3
    swapped = prdc(narrow, real)  # wide samples around a narrow real set: the other way round
    assert swapped["precision"] < 0.3 and swapped["recall"] > 0.8


def test_kid_of_one_distribution_is_within_two_spreads_of_zero():
    # 1,500 samples a side, so the 1,000-sample subsets differ (with fewer, every subset is the
    # whole set and the spread is 0: no band at all)
    for seed in range(3):
        mean, spread, size = kernel_distance(
            gaussian(1500, 1.0, seed), gaussian(1500, 1.0, seed + 9)
        )
        assert size == 1000 and abs(mean) <= 2 * spread, (seed, mean, spread)
    shifted = kernel_distance(gaussian(1500, 1.0, 0), gaussian(1500, 1.0, 1) + 0.5)
    assert shifted[0] > 2 * shifted[1]  # a real difference is outside that band


def test_kid_spread_is_zero_when_a_subset_is_the_whole_sample():
    # at small scored sets a side's subset is all of it: that side adds nothing to the spread
    _, spread, size = kernel_distance(gaussian(400, 1.0, 0), gaussian(400, 1.0, 1))
    assert size == 400 and spread < 1e-12
