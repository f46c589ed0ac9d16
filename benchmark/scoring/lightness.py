"""Colorization as the field scores it: a sample's chroma on the input's own lightness.

Colorization is L -> ab (methods.md, T3): the lightness is given, so a colorizer's output is
its ab channels on the input L, as in Zhang et al. 2016. The suite's generators draw whole
RGB images; scored as drawn, a model that reproduces L through its bottleneck (blurred) loses
to a floor that keeps L exactly (`ref_mean_chroma`, `ref_nn_chroma`), so it would be ranked on
how well it copies the input, not on its colour. `KeepLightness` composites every sample as
``lab_to_rgb(L_input, ab_sample)`` before anything scores or shows it (the colorization task's
``keep_lightness``; version 3), as completion pastes the visible pixels back.

Its own optional part of the code fingerprint (``composite``).
"""

import torch

from cgbench.color import lab_to_rgb, rgb_to_lab


def with_lightness(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x`` ``(..., 3, H, W)`` RGB in [-1, 1] with its CIELAB L replaced by ``y``'s.

    ``y`` ``(B, 1, H, W)``: the colorization condition, ``L / 50 - 1``; ``x`` may carry a
    leading K axis. Colours outside the sRGB gamut are clipped (as `lab_to_rgb`).
    """
    shape = x.shape
    flat = x.reshape(-1, *shape[-3:])
    lab = rgb_to_lab((flat.float().clamp(-1, 1) + 1) / 2)
    given = ((y.float() + 1) * 50).expand(shape[:-3].numel() // len(y), *y.shape)
    lab = torch.cat([given.reshape(-1, 1, *shape[-2:]), lab[:, 1:]], dim=1)
    return (lab_to_rgb(lab) * 2 - 1).reshape(shape).to(x.dtype)


class KeepLightness:
    """A generator whose samples (drawn or replayed) keep the input's lightness.

    Every attribute but the sampling ones reads and writes through to the wrapped generator
    (``variant``, ``eval``, ``device``, ``edit``), so the scoring loops see the same model.
    """

    def __init__(self, generator):
        object.__setattr__(self, "generator", generator)

    def __getattr__(self, name):
        return getattr(self.generator, name)

    def __setattr__(self, name, value):
        setattr(self.generator, name, value)

    def generate(self, y: torch.Tensor, **kwargs) -> torch.Tensor:
        """The wrapped generator's samples for ``y``, on ``y``'s lightness."""
        return with_lightness(self.generator.generate(y, **kwargs), y)

    def first_draws(self, rows):
        """A replayed generator's first samples of ``rows``, on their lightness."""
        first, y = self.generator.first_draws(rows)
        return with_lightness(first, y), y
