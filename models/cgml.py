"""cGML: conditional generation by modelling the latent space, for image conditions.

Paper: Ramasinghe, Ranasinghe, Khan, Barnes & Gould, "Conditional Generative Modeling via
Learning the Latent Space" (ICLR 2021). No official code exists; this follows the paper's
training procedure, summarised below.

H encodes the condition, G decodes (H's features, z) into the output, and a Z network learns
how z moves while it is fitted to a target. Per training batch: z0 ~ U(-1, 1)^d; T inner steps
of gradient descent on z against the task loss with H and G frozen, Z regressing each
``z_t -> z_t+1`` (and its step length rho) with a small smoothness penalty; then one update of
H and G at the final z, with a noise-perturbation penalty at the bottleneck standing in for
the Lipschitz constraint. Task loss: L1 summed over pixels (per image), plus for colorization
a uniformity term, the KL of a soft histogram of the predicted a and b channels to uniform.

Inference never sees the target: z0 ~ U(-1, 1)^d, then N steps of Eq. 4,
``z += rho * (Z(z) - z) / |Z(z) - z|``; each z0 gives one sample. The ``no_rho`` variant
replays ``z = Z(z)`` instead (the ablation without momentum).

Differences from the paper: the shared U-Net of ``models/nets.py`` (H = its downsampling path,
G = its upsampling path with concatenated, not additive, skips; plain BatchNorm, no dropout);
fewer inner steps on CPU budgets (``inner_steps``); per-image summed losses, so the inner
learning rate is per example (the reference's batch-mean loss divides it by the batch size);
rho is a second head of Z with alpha = 1 (the paper leaves alpha unstated). No ground-truth
("oracle") search at test time.
"""

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from cgbench.color import rgb_to_lab
from cgbench.models.base import ConditionalGenerator
from cgbench.models.nets import UNet, feature_sizes


def uniformity(ab: torch.Tensor, bins: int = 16, bandwidth: float = 0.1) -> torch.Tensor:
    """KL(soft histogram || uniform) per channel, summed, per image: ``(B, 2, H, W) -> (B,)``.

    ``ab`` holds a and b scaled to [-1, 1]; each pixel is spread over ``bins`` Gaussian bins.
    """
    centres = torch.linspace(-1, 1, bins, device=ab.device)
    weights = torch.exp(-(((ab.flatten(2)[..., None] - centres) / bandwidth) ** 2))  # B,2,P,K
    hist = (weights / weights.sum(-1, keepdim=True)).mean(2)  # (B, 2, K)
    return (hist * (hist * bins + 1e-8).log()).sum((1, 2))


class CGML(ConditionalGenerator):
    """cGML for image conditions (colorization, completion).

    Args:
        x_shape: ``(C, H, W)`` of the outputs.
        y_shape: ``(C', H, W)`` of the condition images.
        z_dim: Size of z (10 in the reference).
        width: Channels of the U-Net's first convolution.
        z_hidden: Width of the Z network's two hidden layers.
        inner_steps: T, gradient steps on z per training batch (20 in the reference).
        inner_lr: Step size of those steps on the per-image loss.
        inference_steps: N, Z-network steps at test time (default T).
        lr: Adam learning rate of H, G and Z.
        smoothness: Weight of the perturbation penalties of Z and G (0.1 in the reference).
        perturbation: Standard deviation of those perturbations.
        uniformity_weight: Weight of the colour-uniformity term (colorization; 0 disables).
    """

    cond_kinds = frozenset({"image"})
    variants = ("no_rho",)

    def __init__(
        self,
        x_shape: tuple[int, int, int],
        y_shape: tuple[int, int, int],
        z_dim: int = 10,
        width: int = 32,
        z_hidden: int = 512,
        inner_steps: int = 5,
        inner_lr: float = 1e-3,
        inference_steps: int | None = None,
        lr: float = 5e-4,
        smoothness: float = 0.1,
        perturbation: float = 1e-3,
        uniformity_weight: float = 0.0,
    ):
        super().__init__(x_shape, y_shape)
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.unet = UNet(y_shape[0], x_shape[0], x_shape[1], z_dim, width)  # H and G
        bottom = feature_sizes(x_shape[1])
        h_size = width * 2 ** (len(bottom) - 2) * bottom[-1] ** 2  # flattened bottleneck of H
        self.z_net = nn.Sequential(  # Z(h, z_t) -> (next z, step length rho)
            nn.Linear(h_size + z_dim, z_hidden), nn.LeakyReLU(0.2),
            nn.Linear(z_hidden, z_hidden), nn.LeakyReLU(0.2),
            nn.Linear(z_hidden, z_dim + 1),
        )  # fmt: skip

    # -- pieces -----------------------------------------------------------------------------
    def task_loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-image loss ``(B,)``: L1 summed over pixels (+ uniformity of predicted ab)."""
        loss = (out.tanh() - x).abs().flatten(1).sum(1)
        if self.hparams.uniformity_weight:
            ab = rgb_to_lab((out.tanh() + 1) / 2)[:, 1:] / 110  # about [-1, 1]
            loss = loss + self.hparams.uniformity_weight * uniformity(ab)
        return loss

    def z_step(self, h: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Z's next z ``(B, z_dim)`` in [-1, 1] and step length rho ``(B,)``."""
        out = self.z_net(torch.cat([h.flatten(1), z], dim=1))
        return out[:, :-1].tanh(), F.softplus(out[:, -1])

    def uniform(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return (torch.rand(n, self.hparams.z_dim, generator=generator) * 2 - 1).to(self.device)

    # -- training ---------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        x, y = batch  # x: target image, y: condition image
        hg_opt, z_opt = self.optimizers()
        h = self.hparams
        with torch.no_grad():
            features = self.unet.encode(y)
        z = self.uniform(len(x))
        z_losses = []
        for _ in range(h.inner_steps):  # fit z with H and G frozen; Z learns each move
            with torch.enable_grad():
                z_leaf = z.clone().requires_grad_(True)
                fit = self.task_loss(self.unet.decode(features, z_leaf), x).sum()
                (grad,) = torch.autograd.grad(fit, z_leaf)
            z_next = (z - h.inner_lr * grad).clamp(-1, 1)
            z_losses.append(self.manual_step(z_opt, partial(self.z_loss, features[-1], z, z_next)))
            z = z_next
        hg_loss = self.manual_step(hg_opt, lambda: self.hg_loss(y, x, z))
        self.log_dict({"train/loss": hg_loss, "train/z_loss": torch.stack(z_losses).mean()},
                      prog_bar=True)  # fmt: skip

    def z_loss(self, h: torch.Tensor, z: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        """L1 to the next z, MSE of rho to the step length, and Z's smoothness penalty."""
        e = self.hparams.perturbation
        z_hat, rho = self.z_step(h, z)
        z_shaken, _ = self.z_step(h + e * torch.randn_like(h), z + e * torch.randn_like(z))
        return (
            (z_hat - z_next).abs().sum(1).mean()
            + F.mse_loss(rho, (z_next - z).norm(dim=1))
            + self.hparams.smoothness * (z_hat - z_shaken).abs().sum(1).mean()
        )

    def hg_loss(self, y: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Task loss of H and G at the fitted z, plus the bottleneck-perturbation penalty."""
        features = self.unet.encode(y)
        out = self.unet.decode(features, z)
        shaken = self.unet.decode(features, z, noise=self.hparams.perturbation)
        penalty = (out.tanh() - shaken.tanh()).abs().flatten(1).sum(1)
        return (self.task_loss(out, x) + self.hparams.smoothness * penalty).mean()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self.generate(y, torch.Generator().manual_seed(batch_idx))
        self.log("val/l1", (out - x).abs().mean(), prog_bar=True)

    def configure_optimizers(self):
        lr = self.hparams.lr
        return (
            torch.optim.Adam(self.unet.parameters(), lr=lr),
            torch.optim.Adam(self.z_net.parameters(), lr=lr),
        )

    def run_info(self) -> dict:
        """The inference iterations per sample (a cost column)."""
        return {"inference_iterations": self.n_inference_steps()}

    def n_inference_steps(self) -> int:
        return self.hparams.inference_steps or self.hparams.inner_steps

    # -- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Replay the learnt latent moves from ``z0 ~ U(-1, 1)`` (Eq. 4), then decode.

        ``(B, C', H, W)`` conditions -> ``(B, C, H, W)`` in [-1, 1]. The ``no_rho`` variant
        jumps to Z's prediction at every step.
        """
        features = self.unet.encode(y)
        z = self.uniform(len(y), generator)
        for _ in range(self.n_inference_steps()):
            z = self.replay_step(features[-1], z)
        return self.unet.decode(features, z).tanh()

    def replay_step(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """One inference move of ``z`` ``(B, z_dim)``: length rho toward Z's prediction (Eq. 4).

        The ``no_rho`` variant jumps to the prediction instead.
        """
        z_hat, rho = self.z_step(h, z)
        if self.variant == "no_rho":
            return z_hat.clamp(-1, 1)
        move = z_hat - z
        return (z + rho[:, None] * move / move.norm(dim=1, keepdim=True).clamp(min=1e-6)).clamp(
            -1, 1
        )
