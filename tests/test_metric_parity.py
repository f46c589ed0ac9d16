"""Parity of our image metrics with independent implementations, on real images and noise."""

import lpips
import numpy as np
import pytest
import reference_msssim as ref
import torch
from conftest import LPIPS_BACKBONE
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchvision.transforms.v2.functional import gaussian_blur

from cgbench.datamodules.completion import apply_mask, square_mask
from cgbench.metrics import METRICS, load_lpips
from cgbench.metrics.image import LPIPS, MSSSIM, PSNR, SSIM
from cgbench.metrics.ssim import ms_ssim_settings


def noisy(x, sigma, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def pairs(images):
    """Real image pairs with a range of similarities: noise, blur, and a different image."""
    x = images
    return torch.cat([x, x, x, x]), torch.cat(
        [noisy(x, 0.05), noisy(x, 0.2, seed=1), gaussian_blur(x, [5, 5], [1.5, 1.5]), x.roll(1, 0)]
    )


@pytest.fixture(params=["celeba64", "mnist28", "noise64"])
def image_pairs(request, real_images):
    if request.param == "noise64":
        g = torch.Generator().manual_seed(3)
        return pairs(torch.rand(8, 3, 64, 64, generator=g))
    return pairs(real_images[request.param])


def test_psnr_matches_skimage(image_pairs):
    a, b = image_pairs
    ours = PSNR().pair_scores(a, b)
    theirs = [
        peak_signal_noise_ratio(t.numpy(), p.numpy(), data_range=1.0)
        for p, t in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-4, rtol=0)


def test_ssim_matches_skimage(image_pairs):
    a, b = image_pairs
    ours = SSIM().pair_scores(a, b)
    theirs = [
        structural_similarity(
            p.numpy(),
            t.numpy(),
            data_range=1.0,
            channel_axis=0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for p, t in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-4, rtol=0)
    reference = [ref.ssim(p.numpy(), t.numpy()) for p, t in zip(a, b, strict=True)]
    np.testing.assert_allclose(ours.numpy(), reference, atol=1e-5, rtol=0)
    # the banded-matrix filter is exact: in float64 it agrees with SciPy to rounding
    np.testing.assert_allclose(SSIM().pair_scores(a.double(), b.double()), reference, atol=1e-12)


def test_ms_ssim_matches_numpy_reference(image_pairs):
    a, b = image_pairs
    metric = MSSSIM(image_size=a.shape[-1])
    ours = metric.pair_scores(a, b)
    betas = ms_ssim_settings(a.shape[-1])["betas"]
    theirs = [ref.ms_ssim(p.numpy(), t.numpy(), betas) for p, t in zip(a, b, strict=True)]
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5, rtol=0)
    a, b = a.double(), b.double()  # the banded-matrix filter is exact: float64 agrees to rounding
    theirs = [ref.ms_ssim(p.numpy(), t.numpy(), betas) for p, t in zip(a, b, strict=True)]
    np.testing.assert_allclose(metric.pair_scores(a, b), theirs, atol=1e-12)


@pytest.fixture(scope="module")
def lpips_pair():
    """Our LPIPS (through load_lpips) and the lpips package set up by hand with the same file."""
    if not LPIPS_BACKBONE.is_file():
        pytest.skip(f"no LPIPS backbone at {LPIPS_BACKBONE}")
    ours, info = load_lpips(LPIPS_BACKBONE)
    assert info["backbone_sha256"] and ours is not None
    reference = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    state = torch.load(LPIPS_BACKBONE, weights_only=True)
    for n in range(1, 6):
        for name, module in getattr(reference.net, f"slice{n}").named_children():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.data.copy_(state[f"{name}.weight"])
                module.bias.data.copy_(state[f"{name}.bias"])
    return LPIPS(ours, info), reference.eval()


def test_lpips_matches_the_lpips_package(lpips_pair, real_images):
    ours, reference = lpips_pair
    a, b = pairs(real_images["celeba64"])
    with torch.no_grad():
        theirs = reference(a * 2 - 1, b * 2 - 1).flatten()  # the package's own [-1, 1] input path
        mine = ours.pair_scores(a, b)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-5, rtol=0)
    assert (mine[16:32] > mine[:16]).all()  # stronger noise is further away


def test_lpips_without_weights_is_unavailable_not_zero(monkeypatch, tmp_path):
    net, info = load_lpips(tmp_path / "missing.pth")
    assert net is None and "missing.pth" in info["unavailable"]

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(lpips.pretrained_networks.tv, "alexnet", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    net, info = load_lpips(None)
    assert net is None and "CGBENCH_LPIPS_BACKBONE" in info["unavailable"]


def fidelity_metrics(size, lpips_net=None):
    metrics = [PSNR(), SSIM(), MSSSIM(image_size=size)]
    return metrics + ([LPIPS(lpips_net)] if lpips_net is not None else [])


@pytest.mark.parametrize("size", [28, 64])
def test_perfect_values_and_monotonic_degradation(size, lpips_pair):
    g = torch.Generator().manual_seed(0)
    x = gaussian_blur(torch.rand(8, 3, size, size, generator=g), [5, 5], [2.0, 2.0])
    net = lpips_pair[0].net if size >= 32 else None
    for metric in fidelity_metrics(size, net):
        perfect = metric.pair_scores(x, x)
        expected = {"psnr": 100.0, "ssim": 1.0, "ms_ssim": 1.0, "lpips": 0.0}[metric.name]
        assert torch.allclose(perfect, torch.full_like(perfect, expected), atol=1e-5), metric.name
        for degrade in (lambda s: noisy(x, s), lambda s: gaussian_blur(x, [9, 9], [s * 20] * 2)):
            values = torch.stack(
                [metric.pair_scores(x, degrade(s)).mean() for s in (0.02, 0.05, 0.1)]
            )
            steps = values.diff() if not metric.higher_is_better else -values.diff()
            assert (steps > 0).all(), (metric.name, values)


@pytest.mark.parametrize(
    "name", [n for n in METRICS if n.split("_")[0] in {"psnr", "ssim", "ms", "lpips", "l1"}]
)
def test_batch_size_does_not_change_the_score(name, lpips_pair):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(32, 3, 64, 64, generator=g) * 2 - 1
    x_hat = (x + 0.3 * torch.randn(3, *x.shape, generator=g)).clamp(-1, 1)  # K = 3
    y = apply_mask(x, torch.stack([square_mask(64, 0.25, g) for _ in range(32)]))
    cls = METRICS[name]
    kwargs = {"image_size": 64} if "ms_ssim" in name else {}
    kwargs |= {"net": lpips_pair[0].net} if "lpips" in name else {}
    results = []
    for batch in (4, 32):
        metric = cls(**kwargs)
        for i in range(0, 32, batch):
            metric.update(x_hat[:, i : i + batch], x[i : i + batch], y[i : i + batch])
        results.append(metric.compute().item())
    assert results[0] == pytest.approx(results[1], abs=1e-6)


def test_hole_metrics_equal_a_numpy_computation_over_the_hidden_pixels():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1
    x_hat = (x + 0.2 * torch.randn(2, *x.shape, generator=g)).clamp(-1, 1)
    masks = torch.stack([square_mask(32, a, g) for a in (0.1, 0.25, 0.4) * 2])
    y = apply_mask(x, masks)
    expected_l1, expected_psnr = [], []
    for i in range(6):
        hole = masks[i, 0].numpy().astype(bool)
        per_k = [(((x_hat[k, i] + 1) / 2 - (x[i] + 1) / 2).numpy()[:, hole]) for k in range(2)]
        expected_l1.append(np.mean([np.abs(e).mean() for e in per_k]))
        expected_psnr.append(np.mean([10 * np.log10(1 / np.square(e).mean()) for e in per_k]))
    for name, expected in (("l1_hole", expected_l1), ("psnr_hole", expected_psnr)):
        metric = METRICS[name]()
        metric.update(x_hat, x, y)
        assert metric.compute().item() == pytest.approx(np.mean(expected), rel=1e-5), name


def test_best_of_k_is_at_least_mean_of_k():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(4, 3, 64, 64, generator=g) * 2 - 1
    x_hat = torch.stack([x, (x + 0.5 * torch.randn(x.shape, generator=g)).clamp(-1, 1)])
    for name in ("psnr", "ssim"):
        mean, best = METRICS[name](), METRICS[f"{name}_best"]()
        mean.update(x_hat, x, None), best.update(x_hat, x, None)
        assert best.compute() > mean.compute()
        assert best.name == f"{name}_best" and best.higher_is_better == mean.higher_is_better
