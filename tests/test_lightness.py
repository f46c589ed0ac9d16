"""Colorization keeps the input's lightness: what is scored is the sample's chroma on it."""

import torch

from cgbench.color import rgb_to_lab
from cgbench.datamodules.colorization import lightness
from cgbench.scoring.lightness import KeepLightness, with_lightness


def images(n=4, seed=0):
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_real_image_on_its_own_lightness_is_itself():
    x = images()
    assert torch.allclose(with_lightness(x, lightness(x)), x, atol=1e-4)


def test_any_sample_takes_the_inputs_lightness_and_keeps_its_chroma():
    x, sample = images(seed=0), images(seed=1)
    kept = with_lightness(sample[None].expand(3, -1, -1, -1, -1), lightness(x))  # K = 3
    for k in range(3):
        lab, want = rgb_to_lab((kept[k] + 1) / 2), rgb_to_lab((x + 1) / 2)
        inside = (kept[k] > -0.999).all(1) & (kept[k] < 0.999).all(1)  # gamut clipping aside
        assert (lab[:, 0] - want[:, 0]).abs()[inside].max() < 0.05  # L units (0-100)


def test_the_wrapper_composites_draws_and_forwards_everything_else():
    class Grey(torch.nn.Module):
        variant = None

        def generate(self, y, generator=None):
            return torch.zeros(len(y), 3, *y.shape[-2:])

    x = images()
    model = KeepLightness(Grey())
    model.variant = "prior"  # written through: the scoring loops set variants on the model
    assert model.generator.variant == "prior" and model.training is True
    drawn = model.generate(lightness(x))
    assert torch.allclose(lightness(drawn), lightness(x), atol=1e-3)  # grey on the input's L
