"""CSVAE: conditional subspace VAE, with a label-free z and one small subspace w_i per label.

Paper: Klys, Snell & Zemel, "Learning Latent Subspaces in Variational Autoencoders"
(NeurIPS 2018).

q(z | x) never sees y; q(w | x, y) does; the decoder reads (z, w). Each attribute i owns a
``w_dim``-sized block w_i with a fixed prior p(w_i | y_i): y_i = 0 -> N(0, 0.1 I) (variance 0.1,
a narrow blob at the origin), y_i = 1 -> N(3, I) (centred at 3 in every coordinate). This is the
AM207 reimplementation's choice read as variances; the other reimplementation swaps the labels
and narrows both, and the paper only fixes means 0 and 3 with one narrow component. An
adversary q(y | z) (an MLP with one sigmoid per label) learns to read y from z on its own
optimiser; the VAE minimises the adversary's negative entropy, so z ends up carrying no label
information (the mutual-information term).

VAE loss per image (the adversary frozen):
``-log p(x | z, w) + beta_w * KL(q(w|x,y) || p(w|y)) + beta_z * KL(q(z|x) || N(0, I))
+ beta_adv * sum_i [p_i log p_i + (1 - p_i) log(1 - p_i)]``, with ``p = q(y | z)``.
Adversary loss: BCE of q(y | z) on a detached z.

Generation: z ~ N(0, I), w_i ~ p(w_i | y_i), decode. Attribute transfer (``edit``): z and w
from the posterior means, each changed attribute's w_i replaced by its target prior's mean.

Differences from the paper: the shared conv backbones of ``models/nets.py``; separate conv
encoders for z and w (no shared trunk, so no path from y to z exists by construction); the
likelihood of the CVAE (Bernoulli on MNIST, Gaussian otherwise) instead of the toy betas'
reductions, hence betas (1, 1, 1, 10) rather than (20, 1, 0.2, 10); no learning-rate schedule.
None of the replication's bugs: separate mu and log-variance layers, per-example KLs, the
official training split. MNIST treats the ten classes as ten binary indicators: adapted.
"""

import torch
import torch.nn.functional as F
from torch import nn

from cgbench.models.base import ConditionalGenerator
from cgbench.models.conditioning import vector_decoder
from cgbench.models.cvae import (
    check_likelihood,
    gaussian_kl,
    output_mean,
    reconstruction_nll,
    sample,
)
from cgbench.models.nets import ConvEncoder

PRIOR_MEAN = (0.0, 3.0)  # p(w_i | y_i = 0), p(w_i | y_i = 1)
PRIOR_LOGVAR = (float(torch.tensor(0.1).log()), 0.0)  # variances 0.1 and 1


class CSVAE(ConditionalGenerator):
    """Conditional subspace VAE for label (as binary indicators) and attribute conditions.

    Args:
        x_shape: ``(C, H, W)`` of the images.
        y_shape: ``(A,)`` binary labels.
        z_dim: Size of the label-free latent z.
        w_dim: Size of each label's subspace w_i.
        width: Channels of the first convolution of every shared backbone.
        adversary_hidden: Width of the adversary's two hidden layers.
        beta_w: Weight of KL(q(w|x,y) || p(w|y)).
        beta_z: Weight of KL(q(z|x) || N(0, I)).
        beta_adv: Weight of the adversary's negative entropy in the VAE loss.
        adversary_steps: Adversary updates per VAE update, each on a fresh z sample of the
            batch (cheap: z's encoder runs once). More keep the adversary near its best
            response, so the VAE cannot fool a stale one while z still carries y.
        lr: Adam learning rate of both optimisers.
        likelihood: ``"bernoulli"`` or ``"gaussian"``.
        sigma_x: Standard deviation of the Gaussian likelihood on [-1, 1] pixels.
        y_injection: How w (where y lives) enters the decoder: ``"input"`` (concatenated to z,
            the paper's) or ``"film"`` (also at every layer, `cgbench.models.conditioning`).
    """

    cond_kinds = frozenset({"label", "attributes"})
    adapted_kinds = frozenset({"label"})

    def __init__(
        self,
        x_shape: tuple[int, int, int],
        y_shape: tuple[int],
        z_dim: int = 16,
        w_dim: int = 2,
        width: int = 32,
        adversary_hidden: int = 64,
        beta_w: float = 1.0,
        beta_z: float = 1.0,
        beta_adv: float = 10.0,
        adversary_steps: int = 1,
        lr: float = 1e-3,
        likelihood: str = "bernoulli",
        sigma_x: float = 0.1,
        y_injection: str = "input",
    ):
        super().__init__(x_shape, y_shape)
        check_likelihood(likelihood)
        if adversary_steps < 1:
            raise ValueError(
                f"adversary_steps must be at least 1, got {adversary_steps}; "
                "set models.csvae.adversary_steps=1 or more"
            )
        self.save_hyperparameters()
        self.automatic_optimization = False
        channels, size, _ = x_shape
        n_attr = y_shape[0]
        self.z_encoder = ConvEncoder(channels, size, 2 * z_dim, width)  # q(z | x): no y
        self.w_encoder = ConvEncoder(channels + n_attr, size, 2 * n_attr * w_dim, width)
        w_size = n_attr * w_dim  # the decoder's condition is w (where y lives), film: every layer
        self.decoder = vector_decoder(z_dim + w_size, x_shape, width, w_size, y_injection)
        self.adversary = nn.Sequential(  # q(y | z), logits
            nn.Linear(z_dim, adversary_hidden), nn.ReLU(),
            nn.Linear(adversary_hidden, adversary_hidden), nn.ReLU(),
            nn.Linear(adversary_hidden, n_attr),
        )  # fmt: skip

    # -- the latent structure ---------------------------------------------------------------
    def posterior_z(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of q(z | x), each ``(B, z_dim)``."""
        return self.z_encoder(x).chunk(2, dim=1)

    def posterior_w(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of q(w | x, y), each ``(B, A * w_dim)``."""
        maps = y[:, :, None, None].expand(-1, -1, *self.x_shape[1:])
        return self.w_encoder(torch.cat([x, maps], dim=1)).chunk(2, dim=1)

    def prior_w(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of p(w | y), each ``(B, A * w_dim)``: label i's block repeated."""
        y = y.repeat_interleave(self.hparams.w_dim, dim=1)
        mean = PRIOR_MEAN[0] + y * (PRIOR_MEAN[1] - PRIOR_MEAN[0])
        logvar = PRIOR_LOGVAR[0] + y * (PRIOR_LOGVAR[1] - PRIOR_LOGVAR[0])
        return mean, logvar

    def logits(self, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, w], dim=1))

    def decode(self, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Decoder mean in [-1, 1], ``(B, C, H, W)``."""
        return output_mean(self.logits(z, w), self.hparams.likelihood)

    def label_free_latent(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The posterior mean of z, ``(B, z_dim)``: what the leakage probe reads."""
        return self.posterior_z(x)[0]

    # -- training ---------------------------------------------------------------------------
    def vae_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch-mean terms of the VAE loss (the adversary's weights are only read)."""
        mu_z, logvar_z = self.posterior_z(x)
        mu_w, logvar_w = self.posterior_w(x, y)
        z, w = sample(mu_z, logvar_z), sample(mu_w, logvar_w)
        p = torch.sigmoid(self.adversary(z))
        eps = 1e-6
        terms = {
            "recon": reconstruction_nll(
                self.logits(z, w), x, self.hparams.likelihood, self.hparams.sigma_x
            ),
            "kl_w": gaussian_kl(mu_w, logvar_w, *self.prior_w(y)),
            "kl_z": gaussian_kl(mu_z, logvar_z, torch.zeros_like(mu_z), torch.zeros_like(mu_z)),
            "neg_entropy": (p * (p + eps).log() + (1 - p) * (1 - p + eps).log()).sum(),
        }
        terms = {k: v / len(x) for k, v in terms.items()}
        h = self.hparams
        terms["loss"] = (
            terms["recon"]
            + h.beta_w * terms["kl_w"]
            + h.beta_z * terms["kl_z"]
            + h.beta_adv * terms["neg_entropy"]
        )
        return terms

    def detached_posterior_z(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of q(z | x) without a graph: the adversary's input, no path back."""
        with torch.no_grad():
            return self.posterior_z(x)

    def adversary_loss(self, posterior_z, y: torch.Tensor) -> torch.Tensor:
        """BCE of q(y | z) on a fresh sample of a ``(mu, logvar)`` of q(z | x)."""
        return F.binary_cross_entropy_with_logits(self.adversary(sample(*posterior_z)), y)

    def training_step(self, batch, batch_idx):
        x, y = batch
        vae_opt, adversary_opt = self.optimizers()
        posterior = self.detached_posterior_z(x)  # (mu, logvar), each (B, z_dim); once for k steps
        for _ in range(self.hparams.adversary_steps):
            adv_loss = self.manual_step(adversary_opt, lambda: self.adversary_loss(posterior, y))
        terms = {}  # the VAE loss's terms, kept for the log

        def vae_loss() -> torch.Tensor:  # built while the adversary is frozen
            terms.update(self.vae_losses(x, y))
            return terms["loss"]

        self.manual_step(vae_opt, vae_loss)
        logs = {f"train/{k}": v.detach() for k, v in terms.items()}
        self.log_dict(logs | {"train/adv_loss": adv_loss}, prog_bar=True)

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.vae_losses(*batch)["loss"], prog_bar=True)

    def vae_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the adversary's."""
        adversary = {id(p) for p in self.adversary.parameters()}
        return [p for p in self.parameters() if id(p) not in adversary]

    def configure_optimizers(self):
        lr = self.hparams.lr
        return (
            torch.optim.Adam(self.vae_parameters(), lr=lr),
            torch.optim.Adam(self.adversary.parameters(), lr=lr),
        )

    # -- inference --------------------------------------------------------------------------
    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``z ~ N(0, I)`` and ``w ~ p(w | y)``; ``(B, C, H, W)`` in [-1, 1]."""
        z = self.randn(len(y), self.hparams.z_dim, generator=generator)
        mean, logvar = self.prior_w(y)
        w = mean + self.randn(*mean.shape, generator=generator) * (0.5 * logvar).exp()
        return self.decode(z, w)

    @torch.no_grad()
    def edit(self, x: torch.Tensor, y_source: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        """Attribute transfer: each changed label's w_i moves to its target prior's mean.

        Shapes: ``(B, C, H, W)``, ``(B, A)``, ``(B, A)`` -> ``(B, C, H, W)`` in [-1, 1].
        """
        z, _ = self.posterior_z(x)
        w, _ = self.posterior_w(x, y_source)
        changed = (y_source != y_target).repeat_interleave(self.hparams.w_dim, dim=1)
        w = torch.where(changed, self.prior_w(y_target)[0], w)
        return self.decode(z, w)
