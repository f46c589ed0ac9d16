"""How a vector condition enters a generator's decoder: at its input only, or at every layer.

``input`` is each paper's own design (y concatenated to z before the first layer). ``film``
keeps that and also scales and shifts every feature map of the shared `ConvDecoder` by the
condition (FiLM: Perez et al. 2018; conditional batch norm, as in BigGAN and cGANs with
projection). A deep decoder can learn to ignore an input that enters once; the FiLM path
reaches every layer, which is what the CelebA attribute models need. The method (its losses,
its sampling) is unchanged; this is a tuned architecture lever, the same for every method.
"""

import torch
from torch import nn

from cgbench.models.nets import ConvDecoder

INJECTIONS = ("input", "film")


class FiLM(nn.Module):
    """Per-channel ``h * (1 + gamma(c)) + beta(c)``; starts as the identity (zero weights).

    Args:
        cond_features: Width of the condition vector ``c``.
        channels: Channels of the feature map it modulates.
    """

    def __init__(self, cond_features: int, channels: int):
        super().__init__()
        self.proj = nn.Linear(cond_features, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``h`` ``(B, C, H, W)``, ``c`` ``(B, cond_features)`` -> ``(B, C, H, W)``."""
        gamma, beta = self.proj(c)[:, :, None, None].chunk(2, dim=1)
        return h * (1 + gamma) + beta


class FiLMDecoder(ConvDecoder):
    """`ConvDecoder` whose start map and every batch-normed map are modulated by the condition.

    It takes the same input as `ConvDecoder`, ``(B, in_features)`` with the condition as its
    last ``cond_features`` columns (every model concatenates ``[z, y]``), so call sites do not
    change.

    >>> FiLMDecoder(26, (1, 28, 28), 32, cond_features=10)(torch.zeros(2, 26)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(
        self, in_features: int, out_shape: tuple[int, int, int], width: int, cond_features: int
    ):
        super().__init__(in_features, out_shape, width)
        self.cond_features = cond_features
        normed = [m.num_features for m in self.net if isinstance(m, nn.BatchNorm2d)]
        self.films = nn.ModuleList(FiLM(cond_features, c) for c in [self.start[0], *normed])

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        c = h[:, -self.cond_features :]
        films = iter(self.films)
        out = next(films)(self.fc(h).view(-1, *self.start), c)
        for layer in self.net:
            out = layer(out)
            if isinstance(layer, nn.BatchNorm2d):
                out = next(films)(out, c)
        return out


def vector_decoder(
    in_features: int,
    out_shape: tuple[int, int, int],
    width: int,
    cond_features: int,
    injection: str = "input",
) -> ConvDecoder:
    """The decoder of a vector-conditioned generator for ``injection`` (see `INJECTIONS`).

    Raises:
        ValueError: for an unknown ``injection``, naming the valid ones.
    """
    if injection not in INJECTIONS:
        raise ValueError(f"y_injection must be one of {', '.join(INJECTIONS)}; got {injection!r}")
    if injection == "input":
        return ConvDecoder(in_features, out_shape, width)
    return FiLMDecoder(in_features, out_shape, width, cond_features)
