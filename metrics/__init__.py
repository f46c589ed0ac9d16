"""Metrics shared by every model: ``METRICS`` maps each metric's key to its class."""

from metrics.attribute import AttributeAccuracy, Diversity, DiversityReal
from metrics.base import BenchMetric, ms_ssim_settings, to_unit_range

METRICS: dict[str, type[BenchMetric]] = {
    "attr_acc": AttributeAccuracy,
    "diversity": Diversity,
    "diversity_real": DiversityReal,
}

__all__ = ["METRICS", "BenchMetric", "ms_ssim_settings", "to_unit_range"]
