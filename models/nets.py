"""Backbones shared by every model, sized from ``x_shape``, so comparisons are fair.

Both nets halve (or double) the resolution with 4x4 stride-2 convolutions until the feature map
is 7x7 (28 px inputs) or 4x4 (64 px inputs); channels double at each step from ``width``.
"""

import torch
from torch import nn


def feature_sizes(size: int) -> list[int]:
    """Spatial sizes of the feature maps, input first: 28 -> [28, 14, 7]; 64 -> [64, ..., 4]."""
    sizes = [size]
    while sizes[-1] % 2 == 0 and sizes[-1] > 4:
        sizes.append(sizes[-1] // 2)
    return sizes


class ConvEncoder(nn.Module):
    """Images ``(N, C, H, W)`` -> features ``(N, out_features)``.

    Args:
        in_channels: Input channels (image channels plus any condition maps).
        size: Input height (= width).
        out_features: Output width.
        width: Channels after the first convolution.

    >>> ConvEncoder(11, 28, 32)(torch.zeros(2, 11, 28, 28)).shape
    torch.Size([2, 32])
    """

    def __init__(self, in_channels: int, size: int, out_features: int, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        steps = len(feature_sizes(size)) - 1
        for i in range(steps):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 4, 2, 1)]
            layers += [nn.BatchNorm2d(out)] if i > 0 else []  # DCGAN: no BN on the input layer
            layers += [nn.LeakyReLU(0.2)]
            channels = out
        final = feature_sizes(size)[-1]
        layers += [nn.Flatten(), nn.Linear(channels * final * final, out_features)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Vectors ``(N, in_features)`` -> images ``(N, C, H, W)`` as unbounded outputs.

    The model picks the output activation (tanh for [-1, 1] means, logits for Bernoulli).

    Args:
        in_features: Input width (latent plus condition).
        out_shape: ``(C, H, W)`` of the output.
        width: Channels before the last convolution (mirrors `ConvEncoder`).

    >>> ConvDecoder(26, (1, 28, 28))(torch.zeros(2, 26)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, in_features: int, out_shape: tuple[int, int, int], width: int = 32):
        super().__init__()
        sizes = feature_sizes(out_shape[1])
        steps = len(sizes) - 1
        channels = width * 2 ** (steps - 1)
        self.start = (channels, sizes[-1], sizes[-1])
        self.fc = nn.Sequential(nn.Linear(in_features, channels * sizes[-1] ** 2), nn.ReLU())
        layers: list[nn.Module] = []
        for i in reversed(range(1, steps)):
            out = width * 2 ** (i - 1)
            layers += [nn.ConvTranspose2d(channels, out, 4, 2, 1), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        layers += [nn.ConvTranspose2d(channels, out_shape[0], 4, 2, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(h).view(-1, *self.start))
