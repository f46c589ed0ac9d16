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


class UNet(nn.Module):
    """Image-to-image backbone: condition image (+ tiled noise at the bottleneck) -> image.

    A `ConvEncoder`-style downsampling path, ``z`` tiled and concatenated at the bottleneck, and
    a mirrored upsampling path with skip connections (pix2pix). Outputs are unbounded; the model
    picks the activation.

    Args:
        in_channels: Channels of the condition image.
        out_channels: Channels of the output image.
        size: Input height (= width).
        z_dim: Width of the noise/latent vector tiled at the bottleneck (0 for none).
        width: Channels after the first convolution.

    >>> UNet(2, 3, 64, z_dim=8)(torch.zeros(2, 2, 64, 64), torch.zeros(2, 8)).shape
    torch.Size([2, 3, 64, 64])
    """

    def __init__(
        self, in_channels: int, out_channels: int, size: int, z_dim: int = 0, width: int = 32
    ):
        super().__init__()
        steps = len(feature_sizes(size)) - 1
        chans = [width * 2**i for i in range(steps)]  # channels after each down step
        self.downs = nn.ModuleList()
        previous = in_channels
        for i, c in enumerate(chans):
            norm = [nn.BatchNorm2d(c)] if i > 0 else []
            self.downs.append(
                nn.Sequential(nn.Conv2d(previous, c, 4, 2, 1), *norm, nn.LeakyReLU(0.2))
            )
            previous = c
        self.bottleneck = nn.Sequential(nn.Conv2d(chans[-1] + z_dim, chans[-1], 3, 1, 1), nn.ReLU())
        self.ups = nn.ModuleList()
        for i in reversed(range(steps)):
            out = chans[i - 1] if i > 0 else out_channels
            layers: list[nn.Module] = [nn.ConvTranspose2d(2 * chans[i], out, 4, 2, 1)]
            layers += [nn.BatchNorm2d(out), nn.ReLU()] if i > 0 else []
            self.ups.append(nn.Sequential(*layers))

    def encode(self, y: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of the downsampling path, largest first; the last is the bottleneck."""
        features = []
        h = y
        for down in self.downs:
            h = down(h)
            features.append(h)
        return features

    def decode(
        self, features: list[torch.Tensor], z: torch.Tensor | None = None, noise: float = 0.0
    ) -> torch.Tensor:
        """Upsample `encode`'s features with ``z`` tiled at the bottleneck.

        ``noise`` adds N(0, noise^2) to the bottleneck input (cGML's smoothness penalty).
        """
        h = features[-1]
        if z is not None:
            h = torch.cat([h, z[:, :, None, None].expand(-1, -1, *h.shape[2:])], dim=1)
        if noise:
            h = h + noise * torch.randn_like(h)
        h = self.bottleneck(h)
        for up, skip in zip(self.ups, reversed(features), strict=True):
            h = up(torch.cat([h, skip], dim=1))
        return h

    def forward(self, y: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(y), z)


class PatchDiscriminator(nn.Module):
    """PatchGAN (pix2pix): ``(N, C, H, W)`` -> a map of real/fake logits ``(N, 1, h, w)``.

    Each logit judges one receptive-field patch; the GAN loss averages them.

    Args:
        in_channels: Channels of the input (condition and image stacked).
        size: Input height (= width).
        width: Channels after the first convolution.

    >>> PatchDiscriminator(4, 64)(torch.zeros(2, 4, 64, 64)).shape
    torch.Size([2, 1, 6, 6])
    """

    def __init__(self, in_channels: int, size: int, width: int = 32):
        super().__init__()
        steps = max(1, len(feature_sizes(size)) - 2)  # 64 px: 3 halvings; 28 px: 1
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(steps):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 4, 2, 1)]
            layers += [nn.BatchNorm2d(out)] if i > 0 else []
            layers += [nn.LeakyReLU(0.2)]
            channels = out
        layers += [nn.Conv2d(channels, channels * 2, 4, 1, 1), nn.BatchNorm2d(channels * 2)]
        layers += [nn.LeakyReLU(0.2), nn.Conv2d(channels * 2, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def init_gan_weights(module: nn.Module) -> None:
    """DCGAN initialisation, N(0, 0.02) for conv/linear weights and N(1, 0.02) for BN scales."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
