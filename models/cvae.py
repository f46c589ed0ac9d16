"""CVAE: conditional variational autoencoder, for label, attribute and image conditions.

Papers: Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional
Generative Models" (NeurIPS 2015); Kingma, Rezende, Mohamed & Welling, "Semi-Supervised Learning
with Deep Generative Models" (arXiv:1406.5298, the supervised core of M2).

A recognition network q(z | x, y) gives a diagonal Gaussian over z; a generation network
p(x | z, y) reconstructs x. Training minimises -E_q[log p(x | z, y)] + beta * KL(q || prior)
with one reparameterised sample. Label/attribute conditions (M2 core): the prior is N(0, I), y
enters the encoder as constant feature maps and the decoder concatenated to z. Image conditions
(Sohn's CGM): a prior network p(z | y), a U-Net generator with z tiled at its bottleneck, and
Sohn's hybrid objective alpha * L_CVAE + (1 - alpha) * L_GSNN, where the GSNN term reconstructs
from a prior sample so that test-time sampling (z ~ p(z | y)) is trained too. Generation draws
z from the prior and returns the decoder's mean.

Differences from the papers: the shared conv backbones of ``models/nets.py`` instead of MLPs; no
M2 classifier term (the benchmark is fully labelled); no Sohn baseline network or input-omission
noise; a Bernoulli likelihood for MNIST labels and a fixed-variance Gaussian otherwise.
"""

import torch
import torch.nn.functional as F

from cgbench.models.base import ConditionalGenerator
from cgbench.models.conditioning import vector_decoder
from cgbench.models.nets import ConvEncoder, UNet


def gaussian_kl(mu, logvar, mu_p, logvar_p) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(mu_p, e^logvar_p)), summed over the latent and the batch."""
    return 0.5 * (logvar_p - logvar + (logvar.exp() + (mu - mu_p) ** 2) / logvar_p.exp() - 1).sum()


def sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """One reparameterised draw from N(mu, e^logvar)."""
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


def output_mean(out: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Decoder mean in [-1, 1] from its unbounded output."""
    return torch.sigmoid(out) * 2 - 1 if likelihood == "bernoulli" else out.tanh()


def reconstruction_nll(out: torch.Tensor, x: torch.Tensor, likelihood: str, sigma_x: float):
    """-log p(x | decoder output), summed over pixels and the batch (up to a constant).

    ``bernoulli`` reads [-1, 1] pixels as probabilities; ``gaussian`` has a fixed ``sigma_x``.
    """
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(out, (x + 1) / 2, reduction="sum")
    return ((out.tanh() - x) ** 2).sum() / (2 * sigma_x**2)


def check_likelihood(likelihood: str) -> None:
    """Refuse an unknown likelihood name with the valid ones."""
    if likelihood not in ("bernoulli", "gaussian"):
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")


class CVAE(ConditionalGenerator):
    """Conditional VAE; the architecture follows the condition's shape.

    Args:
        x_shape: ``(C, H, W)`` of the images.
        y_shape: ``(A,)`` for one-hot/multi-hot conditions, ``(C', H, W)`` for image conditions.
        latent_dim: Size of z.
        width: Channels of the first convolution of every shared backbone.
        beta: Weight of the KL term (1 is the standard bound).
        alpha: Sohn's hybrid weight of the CVAE bound against the GSNN term (image conditions;
            1 disables GSNN).
        lr: Adam learning rate.
        likelihood: ``"bernoulli"`` (pixels as probabilities) or ``"gaussian"``.
        sigma_x: Standard deviation of the Gaussian likelihood on [-1, 1] pixels.
        y_injection: How the condition enters the decoder: ``"input"`` (concatenated to z, the
            paper's) or ``"film"`` (also at every layer, `cgbench.models.conditioning`).
    """

    cond_kinds = frozenset({"label", "attributes", "image"})

    def __init__(
        self,
        x_shape: tuple[int, int, int],
        y_shape: tuple[int, ...],
        latent_dim: int = 16,
        width: int = 32,
        beta: float = 1.0,
        alpha: float = 0.5,
        lr: float = 1e-3,
        likelihood: str = "bernoulli",
        sigma_x: float = 0.1,
        y_injection: str = "input",
    ):
        super().__init__(x_shape, y_shape)
        check_likelihood(likelihood)
        self.save_hyperparameters()
        channels, size, _ = x_shape
        self.image_cond = len(y_shape) == 3
        n_cond = y_shape[0]  # condition channels (image) or condition maps (label/attributes)
        self.encoder = ConvEncoder(channels + n_cond, size, 2 * latent_dim, width)  # q(z | x, y)
        if self.image_cond:
            self.prior_net = ConvEncoder(n_cond, size, 2 * latent_dim, width)  # p(z | y)
            self.decoder = UNet(n_cond, channels, size, latent_dim, width)  # p(x | z, y)
        else:
            self.prior_net = None
            self.decoder = vector_decoder(latent_dim + n_cond, x_shape, width, n_cond, y_injection)

    def cond_maps(self, y: torch.Tensor) -> torch.Tensor:
        """The condition as feature maps ``(B, C', H, W)``: images as they are, vectors tiled."""
        return y if self.image_cond else y[:, :, None, None].expand(-1, -1, *self.x_shape[1:])

    def posterior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of q(z | x, y), each ``(B, latent_dim)``."""
        return self.encoder(torch.cat([x, self.cond_maps(y)], dim=1)).chunk(2, dim=1)

    def prior(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of p(z | y): the prior network, or N(0, I) for vector conditions."""
        if self.prior_net is None:
            zeros = y.new_zeros(len(y), self.hparams.latent_dim)
            return zeros, zeros
        return self.prior_net(y).chunk(2, dim=1)

    def logits(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Unbounded decoder output ``(B, C, H, W)``."""
        return self.decoder(y, z) if self.image_cond else self.decoder(torch.cat([z, y], dim=1))

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Decoder mean in [-1, 1], ``(B, C, H, W)``."""
        return output_mean(self.logits(z, y), self.hparams.likelihood)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x | z, y), summed over pixels and the batch."""
        return reconstruction_nll(out, x, self.hparams.likelihood, self.hparams.sigma_x)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch-mean terms: ``recon``, ``kl``, ``gsnn`` (image conditions) and ``loss``."""
        mu, logvar = self.posterior(x, y)
        mu_p, logvar_p = self.prior(y)
        z = sample(mu, logvar)
        terms = {
            "recon": self.nll(self.logits(z, y), x),
            "kl": gaussian_kl(mu, logvar, mu_p, logvar_p),
        }
        terms = {k: v / len(x) for k, v in terms.items()}
        terms["loss"] = terms["recon"] + self.hparams.beta * terms["kl"]
        if self.image_cond and self.hparams.alpha < 1:
            terms["gsnn"] = self.nll(self.logits(sample(mu_p, logvar_p), y), x) / len(x)
            terms["loss"] = (
                self.hparams.alpha * terms["loss"] + (1 - self.hparams.alpha) * terms["gsnn"]
            )
        return terms

    def training_step(self, batch, batch_idx):
        terms = self.losses(*batch)
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, prog_bar=True)
        return terms["loss"]

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.losses(*batch)["loss"], prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``z ~ p(z | y)``; returns ``(B, C, H, W)`` in [-1, 1]."""
        mu_p, logvar_p = self.prior(y)
        eps = self.randn(len(y), self.hparams.latent_dim, generator=generator)
        return self.decode(mu_p + eps * (0.5 * logvar_p).exp(), y)

    def label_free_latent(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The posterior mean of z, ``(B, latent_dim)``, which the decoder reads beside y."""
        return self.posterior(x, y)[0]

    @torch.no_grad()
    def edit(self, x: torch.Tensor, y_source: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        """Attribute transfer: decode the posterior mean of ``x`` under the target condition.

        Shapes: ``(B, C, H, W)``, ``(B, A)``, ``(B, A)`` -> ``(B, C, H, W)`` in [-1, 1].
        """
        mu, _ = self.posterior(x, y_source)
        return self.decode(mu, y_target)
