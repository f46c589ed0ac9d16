"""sRGB <-> CIELAB in torch, shared by the colorization DataModule and the models that need it.

Follows scikit-image's ``rgb2lab``/``lab2rgb`` (sRGB, D65, 2° observer) and is tested against
it. Kept outside the DataModules so a model never imports one.
"""

import torch

# sRGB (linear) -> XYZ, and the D65 white point, as in skimage.color.
XYZ_FROM_RGB = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB in [0, 1] ``(B, 3, H, W)`` to CIELAB (L in [0, 100])."""
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = torch.einsum("ij,bjhw->bihw", XYZ_FROM_RGB.to(rgb), linear)
    xyz = xyz / WHITE_D65.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp(min=1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIELAB ``(B, 3, H, W)`` -> sRGB in [0, 1], clipped like scikit-image."""
    L, a, b = lab.unbind(1)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, (fy - b / 200).clamp(min=0)], dim=1)
    xyz = torch.where(f**3 > 0.008856, f**3, (f - 16 / 116) / 7.787)
    xyz = xyz * WHITE_D65.to(lab).view(1, 3, 1, 1)
    linear = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(XYZ_FROM_RGB).to(lab), xyz)
    rgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp(min=0) ** (1 / 2.4) - 0.055, 12.92 * linear
    )
    return rgb.clamp(0, 1)
