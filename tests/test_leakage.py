"""The leakage probe: a latent that is y reads as full leakage, noise as none."""

import torch

from cgbench.datamodules import SyntheticDataModule
from cgbench.metrics.leakage import label_leakage


class Latent(torch.nn.Module):
    """A stand-in encoder whose latent is y itself (leaky) or pure noise (label-free)."""

    def __init__(self, leaky: bool):
        super().__init__()
        self.leaky = leaky
        self.device = torch.device("cpu")

    def label_free_latent(self, x, y):
        return y + 0.01 * torch.randn_like(y) if self.leaky else torch.randn(len(x), 8)


def test_probe_separates_leaky_from_label_free_latents():
    dm = SyntheticDataModule(cond_kind="attributes", n_samples=512)
    dm.setup()
    leaky = label_leakage(Latent(True), dm, "attributes", epochs=20)
    free = label_leakage(Latent(False), dm, "attributes", epochs=20)
    assert leaky["leakage"] > 0.3 and min(d["probe"] for d in leaky["details"].values()) > 0.95
    assert abs(free["leakage"]) < 0.1


def test_label_probe_reports_one_class_score():
    dm = SyntheticDataModule(cond_kind="label", n_samples=512)
    dm.setup()
    result = label_leakage(Latent(True), dm, "label", epochs=20)
    assert list(result["details"]) == ["class"] and result["details"]["class"]["probe"] > 0.95
