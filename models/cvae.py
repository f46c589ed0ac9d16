"""CVAE: conditional variational autoencoder with a label- or attribute-conditioned decoder.

Papers: Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional
Generative Models" (NeurIPS 2015); Kingma, Rezende, Mohamed & Welling, "Semi-Supervised Learning
with Deep Generative Models" (arXiv:1406.5298, the supervised core of M2).

An encoder q(z | x, y) gives a diagonal Gaussian over z; a decoder p(x | z, y) reconstructs x.
Both see the condition: as constant feature maps stacked on the image (encoder) and concatenated
to z (decoder). Training minimises -E_q[log p(x | z, y)] + beta * KL(q(z | x, y) || N(0, I)) with
one reparameterised sample. Generation draws z ~ N(0, I) and returns the decoder's mean.

Differences from the papers: the shared DCGAN-style conv backbones of ``models/nets.py`` instead
of MLPs; no M2 classifier term (the benchmark is fully labelled); the Bernoulli likelihood is used
for MNIST and a fixed-variance Gaussian for natural images.
"""

import torch
import torch.nn.functional as F

from models.base import ConditionalGenerator
from models.nets import ConvDecoder, ConvEncoder


class CVAE(ConditionalGenerator):
    """Label/attribute-conditioned CVAE.

    Args:
        x_shape: ``(C, H, W)`` of the images.
        y_shape: ``(A,)``, the one-hot or multi-hot condition width.
        latent_dim: Size of z.
        width: Channels of the first encoder convolution (shared backbone width).
        beta: Weight of the KL term (1 is the standard CVAE bound).
        lr: Adam learning rate.
        likelihood: ``"bernoulli"`` (pixels as probabilities) or ``"gaussian"``.
        sigma_x: Standard deviation of the Gaussian likelihood on [-1, 1] pixels.
    """

    cond_kinds = frozenset({"label", "attributes"})

    def __init__(
        self,
        x_shape: tuple[int, int, int],
        y_shape: tuple[int],
        latent_dim: int = 16,
        width: int = 32,
        beta: float = 1.0,
        lr: float = 1e-3,
        likelihood: str = "bernoulli",
        sigma_x: float = 0.1,
    ):
        super().__init__(x_shape, y_shape)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        self.save_hyperparameters()
        channels, size, _ = x_shape
        n_cond = y_shape[0]
        self.encoder = ConvEncoder(channels + n_cond, size, 2 * latent_dim, width)
        self.decoder = ConvDecoder(latent_dim + n_cond, x_shape, width)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each ``(B, latent_dim)``."""
        maps = y[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, A, H, W)
        return self.encoder(torch.cat([x, maps], dim=1)).chunk(2, dim=1)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Decoder mean in [-1, 1], ``(B, C, H, W)``."""
        out = self.decoder(torch.cat([z, y], dim=1))
        return torch.sigmoid(out) * 2 - 1 if self.hparams.likelihood == "bernoulli" else out.tanh()

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example reconstruction NLL and KL, averaged over the batch."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        out = self.decoder(torch.cat([z, y], dim=1))
        if self.hparams.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(out, (x + 1) / 2, reduction="sum")
        else:
            nll = ((out.tanh() - x) ** 2).sum() / (2 * self.hparams.sigma_x**2)
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()
        return nll / len(x), kl / len(x)

    def training_step(self, batch, batch_idx):
        recon, kl = self.losses(*batch)
        loss = recon + self.hparams.beta * kl
        self.log_dict({"train/recon": recon, "train/kl": kl, "train/loss": loss}, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        recon, kl = self.losses(*batch)
        self.log("val/loss", recon + self.hparams.beta * kl, prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``z ~ N(0, I)`` with condition ``y``; returns ``(B, C, H, W)`` in [-1, 1]."""
        z = self.randn(len(y), self.hparams.latent_dim, generator=generator)
        return self.decode(z, y)

    @torch.no_grad()
    def edit(self, x: torch.Tensor, y_source: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        """Attribute transfer: decode the posterior mean of ``x`` under the target condition.

        Shapes: ``(B, C, H, W)``, ``(B, A)``, ``(B, A)`` -> ``(B, C, H, W)`` in [-1, 1].
        """
        mu, _ = self.encode(x, y_source)
        return self.decode(mu, y_target)
