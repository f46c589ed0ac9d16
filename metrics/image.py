"""Image similarity metrics: fidelity (PSNR, SSIM, MS-SSIM, LPIPS) and diversity.

A fidelity metric compares each of the K samples ``x_hat[k]`` with the real image ``x``. The
plain key (``psnr``) is the mean over the K samples (mean-of-K); the ``_best`` key
(``psnr_best``) keeps the best of the K for each input (best-of-K, the one-to-many protocol of
image-conditioned tasks). Both are then averaged over images. With K = 1 they coincide.
"""

import hashlib
import logging
from itertools import combinations
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torchmetrics.functional.image import peak_signal_noise_ratio

from cgbench.metrics.base import (
    BenchMetric,
    ms_ssim_per_image,
    ms_ssim_settings,
    ssim_valid,
    to_unit_range,
)

log = logging.getLogger(__name__)

PSNR_CAP_DB = 100.0  # identical images have infinite PSNR; capping keeps means finite
SSIM_SETTINGS = {"gaussian_kernel": True, "sigma": 1.5, "kernel_size": 11, "data_range": 1.0}


class FidelityMetric(BenchMetric):
    """Per-image comparison of samples with the real image, reduced over K by mean or best."""

    best_of_k: ClassVar[bool] = False

    def pair_scores(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Scores of image pairs in [0, 1], ``(N, C, H, W)`` x 2 -> ``(N,)``."""
        raise NotImplementedError

    def scores(self, x_hat, x, y):
        k = x_hat.shape[0]
        target = to_unit_range(x).repeat(k, 1, 1, 1)  # (K*B, C, H, W), sample-major
        s = self.pair_scores(to_unit_range(x_hat.flatten(0, 1)), target).view(k, -1)  # (K, B)
        if not self.best_of_k:
            return s.mean(0)
        return s.max(0).values if self.higher_is_better else s.min(0).values


class PSNR(FidelityMetric):
    """Peak signal-to-noise ratio in dB on [0, 1] images, capped at 100 dB."""

    name = "psnr"
    higher_is_better = True

    @property
    def settings(self) -> dict[str, Any]:
        return {"data_range": 1.0, "cap_db": PSNR_CAP_DB}

    def pair_scores(self, a, b):
        psnr = peak_signal_noise_ratio(a, b, data_range=1.0, reduction="none", dim=(1, 2, 3))
        return psnr.clamp(max=PSNR_CAP_DB)


class SSIM(FidelityMetric):
    """Structural similarity, standard 11-pixel Gaussian window (sigma 1.5), valid region."""

    name = "ssim"
    higher_is_better = True

    @property
    def settings(self) -> dict[str, Any]:
        return dict(SSIM_SETTINGS)

    def pair_scores(self, a, b):
        return ssim_valid(a, b, SSIM_SETTINGS)


class MSSSIM(FidelityMetric):
    """Multi-scale SSIM with the settings of the image's resolution (`ms_ssim_settings`).

    Args:
        image_size: Image height; fixes the number of scales.
    """

    name = "ms_ssim"
    higher_is_better = True

    def __init__(self, image_size: int):
        super().__init__()
        self.ms_ssim = ms_ssim_settings(image_size)

    @property
    def settings(self) -> dict[str, Any]:
        return {"ms_ssim": self.ms_ssim}

    def pair_scores(self, a, b):
        return ms_ssim_per_image(a, b, self.ms_ssim)


class LPIPS(FidelityMetric):
    """Learned perceptual distance (AlexNet, v0.1) through the ``lpips`` package.

    Grey images are repeated to three channels. AlexNet's pooling needs at least 32 px inputs.

    Args:
        net: An ``lpips.LPIPS`` module (see `load_lpips`).
        info: Provenance of its weights, recorded with the result.
    """

    name = "lpips"
    higher_is_better = False

    def __init__(self, net: nn.Module, info: dict | None = None):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.info = dict(info or {})

    @property
    def settings(self) -> dict[str, Any]:
        return {"net": "alex", "version": "0.1", **self.info}

    def pair_scores(self, a, b):
        if a.shape[1] == 1:
            a, b = a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)
        return self.net(a, b, normalize=True).flatten()  # normalize: [0, 1] -> [-1, 1]


class PairwiseDiversity(FidelityMetric):
    """Mean of ``pair_scores`` over the K*(K-1)/2 pairs of samples of each input (K >= 2)."""

    def scores(self, x_hat, x, y):
        if x_hat.shape[0] < 2:
            raise ValueError(f"{self.name} needs at least 2 samples per condition (eval.k_samples)")
        x01 = to_unit_range(x_hat)
        pairs = combinations(range(x_hat.shape[0]), 2)
        return torch.stack([self.pair_scores(x01[i], x01[j]) for i, j in pairs]).mean(0)


class PairwiseMSSSIM(PairwiseDiversity, MSSSIM):
    """Mean pairwise MS-SSIM among the K samples of a condition; lower is more diverse.

    For a class label this is AC-GAN's within-class MS-SSIM.
    """

    name = "pairwise_ms_ssim"
    higher_is_better = False


class PairwiseLPIPS(PairwiseDiversity, LPIPS):
    """Mean pairwise LPIPS among the K samples of an input; higher is more diverse."""

    name = "pairwise_lpips"
    higher_is_better = True


class PairwiseMSSSIMReal(MSSSIM):
    """Reference for ``pairwise_ms_ssim``: mean MS-SSIM of pairs of real images sharing a condition.

    Within each batch, real images with identical conditions are paired in order (1st with 2nd,
    3rd with 4th, ...); each pair is one score. The generated samples are not used.
    """

    name = "pairwise_ms_ssim_real"
    higher_is_better = False

    def scores(self, x_hat, x, y):
        _, group = torch.unique(y, dim=0, return_inverse=True)  # (B,) condition id per image
        firsts, seconds = [], []
        for g in group.unique():
            idx = torch.nonzero(group == g).flatten()
            n = len(idx) // 2 * 2
            firsts.append(idx[0:n:2])
            seconds.append(idx[1:n:2])
        a, b = torch.cat(firsts), torch.cat(seconds)
        if len(a) == 0:
            return x.new_zeros(0)
        x01 = to_unit_range(x)
        return self.pair_scores(x01[a], x01[b])


def best_of_k(cls: type[FidelityMetric]) -> type[FidelityMetric]:
    """The best-of-K variant of a fidelity metric, registered as ``<key>_best``."""
    doc = f"Best of the K samples per input under ``{cls.name}``."
    attrs = {"name": f"{cls.name}_best", "best_of_k": True, "__doc__": doc}
    return type(f"{cls.__name__}BestOfK", (cls,), attrs)


HUB_ALEXNET = (
    "alexnet-owt-7be5be79.pth"  # torchvision's ImageNet AlexNet, as the lpips package loads it
)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_lpips(backbone: str | Path | None = None) -> tuple[nn.Module | None, dict]:
    """Build LPIPS (AlexNet, v0.1) with backbone weights from the first source that has them.

    Order: ``backbone`` (a state dict of ``torchvision.models.alexnet().features``, as named by
    ``CGBENCH_LPIPS_BACKBONE``), the torch hub cache, a download when online. The linear layers
    always come from the ``lpips`` wheel.

    Returns:
        ``(net, info)`` where ``info`` records the source and checksum of the backbone, or
        ``(None, {"unavailable": reason})`` when no weights can be had: the LPIPS columns of that
        run stay empty, never 0.
    """
    import lpips

    if backbone:
        path = Path(backbone)
        if not path.is_file():
            return None, {"unavailable": f"CGBENCH_LPIPS_BACKBONE={path} is not a file"}
        net = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:  # lpips names torchvision's feature index i inside slice n as "slice<n>.<i>"
            net.net.load_state_dict({k: state[k.split(".", 1)[1]] for k in net.net.state_dict()})
        except (KeyError, RuntimeError) as err:
            return None, {"unavailable": f"{path} is not an AlexNet features state dict: {err}"}
        return net, {"backbone": path.name, "backbone_sha256": sha256_file(path)}
    cached = Path(torch.hub.get_dir()) / "checkpoints" / HUB_ALEXNET
    source = "torch hub cache" if cached.exists() else "download"
    try:
        net = lpips.LPIPS(net="alex", version="0.1", verbose=False)
    except Exception as err:  # noqa: BLE001 - offline download failures come in many types
        reason = (
            f"no AlexNet weights: CGBENCH_LPIPS_BACKBONE unset, {cached} absent and the download "
            f"failed ({type(err).__name__}: {err}). Set CGBENCH_LPIPS_BACKBONE to an AlexNet "
            f"features state dict to score LPIPS offline."
        )
        log.warning("LPIPS disabled: %s", reason)
        return None, {"unavailable": reason}
    return net, {"backbone": f"{HUB_ALEXNET} ({source})", "backbone_sha256": sha256_file(cached)}
