"""SSIM and MS-SSIM over the valid region, with the Gaussian window as two banded matrix products.

torchmetrics filters with a depthwise 11x11 convolution, which oneDNN runs at about 1% of this
CPU's peak (85% of SSIM's time went there). The window is separable, so filtering an
``(H, W)`` image over the region where it fits is ``G_H @ x @ G_W.T`` with ``G_n`` the
``(n - 10, n)`` matrix whose row ``i`` holds the 1-D window on pixels ``i .. i + 10``: two plain
GEMMs. Only the valid region is computed, which is what we average
anyway (Wang et al.'s reference code and scikit-image do the same; torchmetrics pads and the
suite used to crop its map). Parity: `tests/test_metric_parity.py` against a float64
NumPy/SciPy implementation and scikit-image.
"""

from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F

# Standard MS-SSIM scale weights (Wang et al. 2003). Small images cannot take all five scales.
STANDARD_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_settings(size: int) -> dict[str, Any]:
    """MS-SSIM settings valid at ``size`` pixels, fixed once per resolution.

    The window is the standard Gaussian with sigma 1.5, 11 pixels wide
    (``2 * int(3.5 * sigma + 0.5) + 1``, as torchmetrics and Wang et al. build it). We keep the
    scales for which that window still fits the coarsest image, ``size // (scales - 1) ** 2 > 10``:
    2 scales at 28 px, 3 at 64 px and the standard 5 from 176 px. The standard betas of those
    scales are renormalised to sum to one. Values are only comparable between results with the
    same settings, so they go into every record.
    """
    kernel_size = 11
    scales = 1
    while scales < len(STANDARD_BETAS) and size // scales**2 > kernel_size - 1:
        scales += 1
    betas = STANDARD_BETAS[:scales]
    total = sum(betas)
    return {
        "betas": tuple(round(b / total, 6) for b in betas),
        "kernel_size": kernel_size,
        "sigma": 1.5,
        "normalize": "relu",
        "data_range": 1.0,
    }


@lru_cache(maxsize=32)
def gaussian_band(size: int, sigma: float, dtype: torch.dtype, device: str) -> torch.Tensor:
    """``(size - w + 1, size)``: row ``i`` is the normalised 1-D Gaussian on pixels ``i .. i+w-1``.

    ``w = 2 * int(3.5 * sigma + 0.5) + 1`` (11 at sigma 1.5). Built in float64, then cast.
    """
    radius = int(3.5 * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    window = torch.exp(-0.5 * (offsets / sigma) ** 2)
    rows = size - 2 * radius
    if rows < 1:
        raise ValueError(f"a {2 * radius + 1}-pixel SSIM window does not fit {size} pixels")
    band = torch.zeros(rows, size, dtype=torch.float64)
    columns = torch.arange(rows)[:, None] + torch.arange(2 * radius + 1)
    band.scatter_(1, columns, (window / window.sum()).expand(rows, -1))
    return band.to(dtype=dtype, device=device)


def valid_filter(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian-filter every ``(H, W)`` plane of ``x`` where the window fits.

    ``(..., H, W) -> (..., H', W')`` with ``H' = H - 10`` at sigma 1.5: a batched product with
    the row band, then one GEMM with the column band over all planes.
    """
    h, w = x.shape[-2:]
    band_h = gaussian_band(h, sigma, x.dtype, str(x.device))
    band_w = gaussian_band(w, sigma, x.dtype, str(x.device))
    return torch.matmul(band_h, x) @ band_w.T


def ssim_and_cs(
    a: torch.Tensor, b: torch.Tensor, sigma: float = 1.5, data_range: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean SSIM and contrast-structure over the valid region, ``(N, C, H, W)`` x 2.

    Returns two ``(N,)`` tensors. Only the sum of the two local variances enters SSIM, so four
    planes are filtered, not five; the sum is clamped at 0 against rounding.
    """
    n = a.shape[0]
    planes = torch.cat([a, b, a * a + b * b, a * b])  # (4N, C, H, W)
    mu_a, mu_b, second, cross = valid_filter(planes, sigma).split(n)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_ab, mu_sq = mu_a * mu_b, mu_a * mu_a + mu_b * mu_b
    cs = (2 * (cross - mu_ab) + c2) / ((second - mu_sq).clamp(min=0) + c2)
    ssim = (2 * mu_ab + c1) / (mu_sq + c1) * cs
    return ssim.mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def ssim_valid(a: torch.Tensor, b: torch.Tensor, settings: dict[str, Any]) -> torch.Tensor:
    """Per-image SSIM over the valid region, ``(N, C, H, W)`` x 2 -> ``(N,)``.

    Equals scikit-image's ``structural_similarity(gaussian_weights=True,
    use_sample_covariance=False)``.
    """
    return ssim_and_cs(a, b, settings["sigma"], settings["data_range"])[0]


def ms_ssim_per_image(a: torch.Tensor, b: torch.Tensor, settings: dict[str, Any]) -> torch.Tensor:
    """Per-image MS-SSIM (Wang et al. 2003) of two [0, 1] batches ``(N, C, H, W)`` -> ``(N,)``.

    Contrast-structure terms at the finer scales and the full SSIM at the coarsest, each
    averaged over the valid region, clipped at 0 (``normalize="relu"``) and weighted by
    ``betas``; 2x2 mean pooling between scales.
    """
    betas = settings["betas"]
    total = torch.ones(a.shape[0], dtype=a.dtype, device=a.device)
    for i, beta in enumerate(betas):
        ssim, cs = ssim_and_cs(a, b, settings["sigma"], settings["data_range"])
        if i == len(betas) - 1:
            return total * ssim.relu() ** beta
        total = total * cs.relu() ** beta
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return total
