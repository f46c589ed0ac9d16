"""Metrics shared by every model: ``METRICS`` maps each metric's key to its class.

Constructors take only what the metric needs (``image_size``, ``classifier``, ``cond_kind``,
``net``, ``info``, ``features``, ``attribute_names``); the runner passes those by name.
"""

from cgbench.metrics.attribute import (
    AttributeAccuracy,
    AttributeBalanced,
    AttributeTNR,
    AttributeTPR,
    EditPreservation,
    EditSuccess,
    YFlip,
)
from cgbench.metrics.base import BenchMetric, to_unit_range
from cgbench.metrics.distribution import DISTRIBUTION
from cgbench.metrics.image import (
    LPIPS,
    MSSSIM,
    PSNR,
    SSIM,
    HoleL1,
    HolePSNR,
    LightnessL1,
    PairwiseLPIPS,
    PairwiseMSSSIM,
    PairwiseMSSSIMReal,
    best_of_k,
    load_lpips,
)
from cgbench.metrics.ssim import ms_ssim_settings

METRICS: dict[str, type[BenchMetric]] = {
    "psnr": PSNR,
    "psnr_best": best_of_k(PSNR),
    "ssim": SSIM,
    "ssim_best": best_of_k(SSIM),
    "ms_ssim": MSSSIM,
    "ms_ssim_best": best_of_k(MSSSIM),
    "lpips": LPIPS,
    "lpips_best": best_of_k(LPIPS),
    "attr_acc": AttributeAccuracy,
    "attr_tpr": AttributeTPR,
    "attr_tnr": AttributeTNR,
    "attr_balanced": AttributeBalanced,
    "psnr_hole": HolePSNR,
    "l1_hole": HoleL1,
    "lightness_l1": LightnessL1,
    "pairwise_ms_ssim": PairwiseMSSSIM,
    "pairwise_ms_ssim_real": PairwiseMSSSIMReal,
    "pairwise_lpips": PairwiseLPIPS,
    "edit_success": EditSuccess,
    "edit_preservation": EditPreservation,
    "y_flip": YFlip,
    **DISTRIBUTION,  # fid, kid, precision, recall, density, coverage; *_eval and intra_fid_eval
}

__all__ = ["METRICS", "BenchMetric", "load_lpips", "ms_ssim_settings", "to_unit_range"]
