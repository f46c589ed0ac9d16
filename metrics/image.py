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

from cgbench.metrics.base import BenchMetric, to_unit_range
from cgbench.metrics.ssim import ms_ssim_per_image, ms_ssim_settings, ssim_valid

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


class PerClass:
    """Mixin: with one-hot label conditions, ``details()`` gives the value per class."""

    def add_per_class(self, s: torch.Tensor, y: torch.Tensor) -> None:
        """Add per-item scores ``s`` ``(M,)`` of items whose conditions are ``y`` ``(M, n)``."""
        if y.dim() != 2 or not bool(((y == 0) | (y == 1)).all() and (y.sum(1) == 1).all()):
            return  # not one-hot labels
        sums = getattr(self, "class_sums", None)
        if sums is None:
            self.class_sums = torch.zeros(2, y.shape[1], dtype=torch.float64)
        y = y.double().cpu()
        self.class_sums[0] += (y * s.double().cpu()[:, None]).sum(0)  # (n,) sum per class
        self.class_sums[1] += y.sum(0)

    def reset(self) -> None:
        super().reset()
        self.class_sums = None

    def details(self) -> dict[str, float]:
        sums = getattr(self, "class_sums", None)
        if sums is None:
            return {}
        means = sums[0] / sums[1].clamp(min=1)
        return {str(c): round(float(m), 6) for c, m in enumerate(means) if sums[1, c] > 0}


class PairwiseDiversity(PerClass, FidelityMetric):
    """Mean of ``pair_scores`` over the K*(K-1)/2 pairs of samples of each input (K >= 2).

    With label conditions ``details()`` holds the value per class (AC-GAN reports it so).
    """

    def scores(self, x_hat, x, y):
        if x_hat.shape[0] < 2:
            raise ValueError(f"{self.name} needs at least 2 samples per condition (eval.k_samples)")
        x01 = to_unit_range(x_hat)
        pairs = combinations(range(x_hat.shape[0]), 2)
        s = torch.stack([self.pair_scores(x01[i], x01[j]) for i, j in pairs]).mean(0)
        self.add_per_class(s, y)
        return s


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


class PairwiseMSSSIMReal(PerClass, MSSSIM):
    """Reference for ``pairwise_ms_ssim``: random same-condition real pairs over the scored set.

    The real images are kept until `compute`; then each condition's images are shuffled (a
    fixed seed) and paired 1st with 2nd, 3rd with 4th, ...; each pair is one score. Random
    pairs over the set, not neighbours in a batch: test files are often sorted (MNIST's by
    writer), and neighbours pair a writer with themself (0.415 on MNIST against 0.33-0.35 for
    random pairs, issue 35). ``details()`` adds the pair count and a 95% bootstrap interval
    over the pairs. The generated samples are not used.
    """

    name = "pairwise_ms_ssim_real"
    higher_is_better = False
    PAIR_SEED, CHUNK = 0, 256

    def __init__(self, image_size: int):
        super().__init__(image_size)
        self._real, self._pair_scores = [], None

    def reset(self) -> None:
        super().reset()
        self._real, self._pair_scores = [], None

    def update(self, x_hat, x, y):
        self._real.append((to_unit_range(x).cpu(), y.cpu()))

    def compute(self) -> torch.Tensor:
        if self._real:  # pair what was kept since the last reset, once
            x, y = (torch.cat(t) for t in zip(*self._real, strict=True))
            self._real = []
            a, b = self._random_pairs(y)
            chunks = [
                self.pair_scores(x[a[i : i + self.CHUNK]], x[b[i : i + self.CHUNK]])
                for i in range(0, len(a), self.CHUNK)
            ]
            s = torch.cat(chunks) if chunks else x.new_zeros(0)
            self.total += s.double().sum()
            self.count += s.numel()
            self.add_per_class(s, y[a])
            self._pair_scores = s.double()
        return super().compute()

    def _random_pairs(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices ``(P,)``, ``(P,)`` of random same-condition pairs, each image in one pair."""
        _, group = torch.unique(y.flatten(1), dim=0, return_inverse=True)  # (N,) condition id
        generator = torch.Generator().manual_seed(self.PAIR_SEED)
        order = torch.randperm(len(group), generator=generator)
        order = order[torch.argsort(group[order], stable=True)]  # shuffled within each condition
        firsts, seconds = [], []
        for g in group.unique():
            idx = order[group[order] == g]
            n = len(idx) // 2 * 2
            firsts.append(idx[0:n:2])
            seconds.append(idx[1:n:2])
        return torch.cat(firsts), torch.cat(seconds)

    def details(self) -> dict[str, float]:
        out = super().details()
        s = self._pair_scores
        if s is not None and len(s) > 1:
            generator = torch.Generator().manual_seed(self.PAIR_SEED)
            means = s[torch.randint(0, len(s), (1000, len(s)), generator=generator)].mean(1)
            low, high = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=means.dtype))
            out |= {"pairs": len(s), "ci_low": round(float(low), 6)}
            out["ci_high"] = round(float(high), 6)
        return out


class HoleMetric(BenchMetric):
    """Completion: error over the hidden pixels only, mean over the K samples of each input.

    The mask is the condition's last channel (``y = cat(x * (1 - m), m)``, 1 in the hole); the
    visible pixels are pasted back before scoring anyway, so this is where models differ.
    """

    higher_is_better = False

    def hole_error(self, abs_err: torch.Tensor, sq_err: torch.Tensor, area: torch.Tensor):
        """Per-sample score from hole sums of ``|e|`` and ``e^2`` and the hole's pixel count."""
        raise NotImplementedError

    def scores(self, x_hat, x, y):
        if y.dim() != 4:
            raise ValueError(f"{self.name} needs completion conditions (masked image + mask)")
        hole = y[:, -1:]  # (B, 1, H, W)
        err = to_unit_range(x_hat) - to_unit_range(x)[None]  # (K, B, C, H, W)
        area = hole.sum((1, 2, 3)).clamp(min=1) * x.shape[1]  # (B,) hidden values per image
        abs_err = (err.abs() * hole).sum((2, 3, 4))  # (K, B)
        sq_err = (err.square() * hole).sum((2, 3, 4))
        return self.hole_error(abs_err, sq_err, area).mean(0)


class HoleL1(HoleMetric):
    """Mean absolute error over the hidden pixels, on [0, 1] images."""

    name = "l1_hole"

    def hole_error(self, abs_err, sq_err, area):
        return abs_err / area


class HolePSNR(HoleMetric):
    """PSNR in dB over the hidden pixels, on [0, 1] images, capped at 100 dB."""

    name = "psnr_hole"
    higher_is_better = True

    def hole_error(self, abs_err, sq_err, area):
        mse = (sq_err / area).clamp(min=10 ** (-PSNR_CAP_DB / 10))
        return -10 * torch.log10(mse)


class LightnessL1(BenchMetric):
    """Colorization: does a sample keep the lightness it was given? Mean ``|L(x_hat) - L(y)|``.

    In CIELAB L units (0 to 100); 0 when the model only adds colour. Lower is better.
    """

    name = "lightness_l1"
    higher_is_better = False

    def scores(self, x_hat, x, y):
        if y.dim() != 4 or y.shape[1] != 1:
            raise ValueError("lightness_l1 needs colorization conditions (lightness images)")
        from cgbench.color import rgb_to_lab

        given = (y + 1) * 50  # (B, 1, H, W), the condition is L / 50 - 1
        drawn = rgb_to_lab(to_unit_range(x_hat.flatten(0, 1)))[:, :1]  # (K*B, 1, H, W)
        err = (drawn.view(x_hat.shape[0], *given.shape) - given[None]).abs()
        return err.mean((2, 3, 4)).mean(0)


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
