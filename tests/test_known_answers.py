"""Known answers for the metrics: conventions and closed forms, not only parity with a package."""

import pytest
import torch
from skimage import data
from skimage.metrics import structural_similarity

from cgbench.metrics.distribution import kernel_distance, prdc
from cgbench.metrics.image import SSIM


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
    # subsets of half of each side (750 of 1,500) differ, so the spread is a band
    for seed in range(3):
        mean, spread, size = kernel_distance(
            gaussian(1500, 1.0, seed), gaussian(1500, 1.0, seed + 9)
        )
        assert size == 750 and abs(mean) <= 2 * spread, (seed, mean, spread)
    shifted = kernel_distance(gaussian(1500, 1.0, 0), gaussian(1500, 1.0, 1) + 0.5)
    assert shifted[0] > 2 * shifted[1]  # a real difference is outside that band


def test_kid_has_a_spread_even_on_a_small_scored_set():
    # a subset of every image (the old min(1000, N) at N <= 1000) had no spread at all
    _, spread, size = kernel_distance(gaussian(400, 1.0, 0), gaussian(400, 1.0, 1))
    assert size == 200 and spread > 0


def test_ssim_of_constant_images_is_the_luminance_formula():
    # No variance in either image: the contrast-structure term is C2 / C2 = 1 in every window,
    # so SSIM is (2ab + C1) / (a^2 + b^2 + C1) exactly, whatever the window (Wang et al. 2004)
    a, b, c1 = 0.3, 0.5, (0.01 * 1.0) ** 2
    ours = SSIM().pair_scores(torch.full((1, 1, 32, 32), a), torch.full((1, 1, 32, 32), b))
    assert float(ours) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-6)


def test_ssim_on_scikit_images_camera_photo_agrees_with_scikit_image():
    # scikit-image's bundled 512 x 512 camera image, with seeded noise and a brightness offset
    camera = torch.from_numpy(data.camera() / 255.0).float()[None, None]  # (1, 1, 512, 512)
    noise = torch.randn(camera.shape, generator=torch.Generator().manual_seed(0)) * 0.1
    for other in ((camera + noise).clamp(0, 1), (camera + 0.1).clamp(0, 1), camera):
        theirs = structural_similarity(
            camera[0, 0].double().numpy(),
            other[0, 0].double().numpy(),
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        assert float(SSIM().pair_scores(camera, other)) == pytest.approx(theirs, abs=1e-4)
    assert float(SSIM().pair_scores(camera, camera)) == pytest.approx(1.0, abs=1e-6)
