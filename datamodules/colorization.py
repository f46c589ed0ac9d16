"""Colorization: ``y`` the CIELAB lightness (B, 1, H, W), ``x`` the colour image (B, 3, H, W).

Both in [-1, 1] (L / 50 - 1 for lightness). Metrics compare colour images in RGB. Models that
predict the ab channels can rebuild RGB with `cgbench.color.lab_to_rgb`.
"""

import torch
from torch.utils.data import TensorDataset

from cgbench.color import rgb_to_lab
from cgbench.datamodules.image_source import ImageTaskDataModule


def lightness(x: torch.Tensor) -> torch.Tensor:
    """Lightness of [-1, 1] RGB images, scaled to [-1, 1]: ``(B, 3, H, W)`` -> ``(B, 1, H, W)``."""
    return rgb_to_lab((x + 1) / 2)[:, :1] / 50 - 1


class ColorizationDataModule(ImageTaskDataModule):
    """Colorization of a colour base dataset (CelebA 64x64 by default).

    Args:
        **kwargs: ``base``, ``base_args``, paths and loader settings of `ImageTaskDataModule`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.x_shape[0] != 3:
            raise ValueError("colorization needs a colour base dataset (e.g. base: celeba)")
        self.y_shape = (1, *self.x_shape[1:])

    def make(self, split, x):
        y = torch.cat([lightness(chunk) for chunk in x.split(1024)])
        return TensorDataset(x, y)
