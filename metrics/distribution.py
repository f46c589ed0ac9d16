"""Distribution metrics: how far the samples' feature distribution is from real test images'.

Samples are every one of the K samples of every scored condition (pasted back for completion),
real images the scored test rows' images, both through one `FeatureSpace`:

- ``fid``: Fréchet distance between Gaussians fitted to the two feature sets (Heusel et al.
  2017), ``|mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^1/2)``; biased upward at small N, so
  only values with the same N (recorded) compare.
- ``kid``: unbiased squared MMD with the cubic kernel ``(a.b / d + 1)^3`` (Bińkowski et al.
  2018), mean over 100 random subsets of ``min(1000, N_gen / 2, N_real / 2)`` per side:
  adapting the subset size lets a small evaluation still get a value, and at most half of
  each side keeps the subsets apart, so their spread (``details.kid.std``) says something (a
  subset of every image, as ``min(1000, N)`` gave at N <= 1000, has no spread at all).
- ``intra_fid``: FID within each class (labels) or each attribute's "on" group, averaged over
  those with at least `MIN_PER_CLASS` samples and real images on each side (Miyato & Koyama
  2018); the per-class values go to ``details``.
- ``precision`` / ``recall`` (Kynkäänniemi et al. 2019) and ``density`` / ``coverage`` (Naeem
  et al. 2020) from k = 5 nearest-neighbour balls: the share of samples inside real balls, of
  real images inside sample balls, the mean number of real balls covering a sample over k, and
  the share of real balls holding a sample.

Each exists on two feature spaces: Inception (``fid`` ..., comparable with published numbers
at equal N and resolution) and the task's frozen evaluator (``fid_eval`` ...).
"""

import operator
from typing import ClassVar

import torch

from cgbench.metrics.base import BenchMetric
from cgbench.metrics.features import FeatureSpace

NEAREST_K = 5
KID_SUBSET, KID_SUBSETS = 1000, 100
MIN_PER_CLASS = 25
KERNEL_CACHE = 4096**2  # entries (128 MiB in float64) up to which KID keeps whole kernels


def _psd_root(s: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(s)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID of two feature sets ``(N, D)``, ``(M, D)``, in float64.

    ``tr (S_r S_g)^1/2`` is taken as the sum of the square roots of the eigenvalues of the
    symmetric ``S_r^1/2 S_g S_r^1/2``, which has the same spectrum and stays real, so no
    complex ``sqrtm`` clean-up is needed.
    """
    real, fake = real.double(), fake.double()
    s_r, s_g = torch.cov(real.T), torch.cov(fake.T)
    root = _psd_root(s_r)
    tr_mean = torch.linalg.eigvalsh(root @ s_g @ root).clamp(min=0).sqrt().sum()
    gap = (real.mean(0) - fake.mean(0)).square().sum()
    return float(gap + s_r.trace() + s_g.trace() - 2 * tr_mean)


def _cubic_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1) ** 3


def kernel_distance(
    real: torch.Tensor, fake: torch.Tensor, subset: int = KID_SUBSET, subsets: int = KID_SUBSETS,
    seed: int = 0,
) -> tuple[float, float, int]:  # fmt: skip
    """KID: ``(mean, std over subsets, subset size)``; the size is ``min(subset, N/2, M/2)``.

    Up to `KERNEL_CACHE` entries per kernel matrix the three kernels are computed once and
    each subset reads its block (the same numbers as computing every subset's own).
    """
    real, fake = real.double(), fake.double()
    m = max(2, min(subset, len(real) // 2, len(fake) // 2))  # 2: the least an MMD needs
    whole = max(len(real), len(fake)) ** 2 <= KERNEL_CACHE
    if whole:
        k_rr, k_ff, k_rf = (
            _cubic_kernel(a, b) for a, b in ((real, real), (fake, fake), (real, fake))
        )
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        i = torch.randperm(len(real), generator=generator)[:m]
        j = torch.randperm(len(fake), generator=generator)[:m]
        if whole:
            k_xx, k_yy, k_xy = k_rr[i][:, i], k_ff[j][:, j], k_rf[i][:, j]
        else:
            x, y = real[i], fake[j]
            k_xx, k_yy, k_xy = _cubic_kernel(x, x), _cubic_kernel(y, y), _cubic_kernel(x, y)
        off_diagonal = (k_xx.sum() - k_xx.trace() + k_yy.sum() - k_yy.trace()) / (m * (m - 1))
        values.append(off_diagonal - 2 * k_xy.mean())
    values = torch.stack(values)
    return float(values.mean()), float(values.std(correction=0)), m  # std as torch-fidelity


def _kth_neighbour(f: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row ``(N,)`` (the row itself is first)."""
    return torch.cdist(f, f).kthvalue(k + 1, dim=1).values


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = NEAREST_K) -> dict[str, float]:
    """Precision, recall, density, coverage of ``fake`` ``(M, D)`` against ``real`` ``(N, D)``."""
    real, fake = real.double(), fake.double()
    real_radius, fake_radius = _kth_neighbour(real, k), _kth_neighbour(fake, k)
    dist = torch.cdist(real, fake)  # (N, M)
    in_real = dist < real_radius[:, None]
    return {
        "precision": float(in_real.any(0).double().mean()),
        "recall": float((dist < fake_radius[None]).any(1).double().mean()),
        "density": float(in_real.sum(0).double().mean() / k),
        "coverage": float((dist.min(1).values < real_radius).double().mean()),
    }


class DistributionMetric(BenchMetric):
    """Base: keeps every batch's sample features; the value compares them with the real ones.

    Per-batch items are ``(features (K*B, D), conditions (K*B, ...))``; they are kept across
    `reset` (one per test group), so a group's value uses that group's items and the pooled
    value all of them (``pools_kept_items``).
    """

    space_name: ClassVar[str]
    mean_of_items = False
    pools_kept_items = True

    def __init__(self, features: dict[str, FeatureSpace], **kwargs):
        super().__init__(**kwargs)
        self.space = features[self.space_name]
        self._start = 0

    def reset(self) -> None:
        super().reset()
        self._start = len(self.items)

    def update(self, x_hat: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
        k, b = x_hat.shape[:2]
        feats = self.space(x_hat)  # (K*B, D), extracted once for every metric of the space
        self.items.append((feats, y[None].expand(k, *y.shape).flatten(0, 1).cpu()))
        self.count += k * b

    def compute(self) -> torch.Tensor:
        return torch.tensor(self.value_of(self.items[self._start :]))

    def value_of(self, items: list) -> float:
        if not items:
            return float("nan")
        self._scored = items
        fake, fake_y = (torch.cat(t) for t in zip(*items, strict=True))
        return self.distance(self.space.real, fake, self.space.real_y, fake_y)

    def distance(self, real, fake, real_y, fake_y) -> float:
        """The metric on real and sample features ``(N, D)``, ``(M, D)`` and their conditions."""
        raise NotImplementedError

    @property
    def settings(self) -> dict:
        n_fake = sum(len(f) for f, _ in self.items)
        return {"features": self.space.name, "extractor": self.space.digest[:12],
                "n_samples": n_fake, "n_real": len(self.space.real)}  # fmt: skip


class FID(DistributionMetric):
    """Fréchet distance of the feature Gaussians (`frechet_distance`)."""

    name, higher_is_better, space_name = "fid", False, "inception"

    def distance(self, real, fake, real_y, fake_y) -> float:
        return frechet_distance(real, fake)


class KID(DistributionMetric):
    """Kernel distance (`kernel_distance`); its spread over subsets goes to ``details``."""

    name, higher_is_better, space_name = "kid", False, "inception"

    def distance(self, real, fake, real_y, fake_y) -> float:
        mean, self._std, self._subset = kernel_distance(real, fake)
        return mean

    def details(self) -> dict[str, float]:
        return {"std": self._std, "subset_size": self._subset} if hasattr(self, "_std") else {}


class IntraFID(DistributionMetric):
    """Mean FID within classes or attributes' "on" groups; per-class values in ``details``."""

    name, higher_is_better, space_name = "intra_fid", False, "inception"

    def __init__(self, features, attribute_names=None, **kwargs):
        super().__init__(features, **kwargs)
        self.names, self._per_class = attribute_names, {}

    def distance(self, real, fake, real_y, fake_y) -> float:
        if real_y.dim() == 2 and real_y.sum(1).eq(1).all():  # one-hot labels: class members
            real_on, fake_on = real_y.bool(), fake_y.bool()
        else:  # attribute vectors: the "on" group of each attribute
            real_on, fake_on = real_y > 0.5, fake_y > 0.5
        self._per_class = {}
        for c in range(real_y.shape[1]):
            r, f = real[real_on[:, c]], fake[fake_on[:, c]]
            if min(len(r), len(f)) >= MIN_PER_CLASS:
                name = self.names[c] if self.names else str(c)
                self._per_class[name] = round(frechet_distance(r, f), 6)
        values = list(self._per_class.values())
        return sum(values) / len(values) if values else float("nan")

    def details(self) -> dict[str, float]:
        return dict(self._per_class)


def _prdc_metric(key: str, doc: str) -> type[DistributionMetric]:
    def distance(self, real, fake, real_y, fake_y) -> float:
        # the four metrics share one computation per sample set (the same feature tensors)
        kept = [f for f, _ in self._scored]
        last = getattr(self.space, "last_prdc", None)
        if last is None or len(last[0]) != len(kept) or any(map(operator.is_not, last[0], kept)):
            self.space.last_prdc = last = (kept, prdc(real, fake))
        return last[1][key]

    return type(key.capitalize(), (DistributionMetric,), {
        "name": key, "higher_is_better": True, "space_name": "inception", "__doc__": doc,
        "distance": distance})  # fmt: skip


Precision = _prdc_metric("precision", "Share of samples inside some real k-NN ball.")
Recall = _prdc_metric("recall", "Share of real images inside some sample k-NN ball.")
Density = _prdc_metric("density", "Mean number of real k-NN balls holding a sample, over k.")
Coverage = _prdc_metric("coverage", "Share of real k-NN balls that hold at least one sample.")


def on_space(cls: type[DistributionMetric], space: str) -> type[DistributionMetric]:
    """``cls`` on another feature space, named ``<name>_eval`` for the evaluator's."""
    suffix = {"evaluator": "_eval"}[space]
    return type(cls.__name__ + "Eval", (cls,), {"name": cls.name + suffix, "space_name": space})


INCEPTION_METRICS = (FID, KID, Precision, Recall, Density, Coverage)
DISTRIBUTION = {
    **{cls.name: cls for cls in INCEPTION_METRICS},
    **{m.name: m for m in (on_space(c, "evaluator") for c in (*INCEPTION_METRICS, IntraFID))},
}
