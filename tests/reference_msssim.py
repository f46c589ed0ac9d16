"""Independent NumPy/SciPy SSIM and MS-SSIM (Wang et al. 2003/2004), for parity tests only.

Float64, valid-mode Gaussian filtering (no padding), 2x2 mean downsampling. Shares no code with
torchmetrics or with ``metrics/``.
"""

import numpy as np
from scipy.signal import convolve2d


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def ssim_maps(a: np.ndarray, b: np.ndarray, sigma: float = 1.5, data_range: float = 1.0):
    """SSIM and contrast-structure maps of two (C, H, W) images over the valid region."""
    window = gaussian_window(sigma)

    def filt(z):
        return np.stack([convolve2d(channel, window, mode="valid") for channel in z])

    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    return luminance * cs, cs


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> float:
    return float(ssim_maps(a, b, sigma)[0].mean())


def downsample(z: np.ndarray) -> np.ndarray:
    c, h, w = z.shape
    z = z[:, : h // 2 * 2, : w // 2 * 2]
    return z.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def ms_ssim(a: np.ndarray, b: np.ndarray, betas, sigma: float = 1.5) -> float:
    value = 1.0
    for i, beta in enumerate(betas):
        s, cs = ssim_maps(a, b, sigma)
        if i == len(betas) - 1:
            value *= max(s.mean(), 0.0) ** beta
        else:
            value *= max(cs.mean(), 0.0) ** beta
            a, b = downsample(a), downsample(b)
    return float(value)
