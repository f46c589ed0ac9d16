"""CGAN: conditional generative adversarial network.

Paper: Mirza & Osindero, "Conditional Generative Adversarial Nets" (arXiv:1411.1784). For image
conditions, its direct descendant pix2pix: Isola et al., "Image-to-Image Translation with
Conditional Adversarial Networks" (arXiv:1611.07004).

G(z, y) maps noise and condition to an image; D(x, y) scores (image, condition) pairs as real or
fake. Both play min_G max_D E[log D(x, y)] + E[log(1 - D(G(z, y), y))], trained with the
non-saturating generator loss -log D(G(z, y), y), one D step then one G step per batch. Label
and attribute conditions: DCGAN-style G (y concatenated to z) and D (y tiled as input
channels). Image conditions (pix2pix): a U-Net G, a PatchGAN D on (condition, image) and an L1
term weighted by ``lambda_l1``.

Differences from the papers: the shared backbones of ``models/nets.py``; Adam instead of SGD with
momentum; fake conditions are the real batch's conditions, shuffled (the empirical joint
distribution); pix2pix gets an explicit z at the U-Net bottleneck (its own noise is dropout only)
so that its diversity can be measured.
"""

import torch
import torch.nn.functional as F

from cgbench.models.base import ConditionalGenerator
from cgbench.models.conditioning import vector_decoder
from cgbench.models.nets import ConvEncoder, PatchDiscriminator, UNet, init_gan_weights


class CGAN(ConditionalGenerator):
    """Conditional GAN; the architecture follows the condition's shape.

    Args:
        x_shape: ``(C, H, W)`` of the images.
        y_shape: ``(A,)`` for label/attribute conditions, ``(C', H, W)`` for image conditions.
        z_dim: Noise size (z ~ N(0, I)).
        width: Channels of the first convolution of every shared backbone.
        lr: Adam learning rate of both players.
        beta1: Adam beta1 (0.5 in DCGAN and pix2pix).
        lambda_l1: Weight of the L1 reconstruction term (image conditions; pix2pix uses 100).
        y_injection: How a vector condition enters the generator: ``"input"`` (concatenated to
            z, the paper's) or ``"film"`` (also at every layer, `cgbench.models.conditioning`).
    """

    cond_kinds = frozenset({"label", "attributes", "image"})

    def __init__(
        self,
        x_shape: tuple[int, int, int],
        y_shape: tuple[int, ...],
        z_dim: int = 64,
        width: int = 32,
        lr: float = 2e-4,
        beta1: float = 0.5,
        lambda_l1: float = 100.0,
        y_injection: str = "input",
    ):
        super().__init__(x_shape, y_shape)
        self.save_hyperparameters()
        self.automatic_optimization = False
        channels, size, _ = x_shape
        self.image_cond = len(y_shape) == 3
        if self.image_cond:
            self.generator = UNet(y_shape[0], channels, size, z_dim, width)
            self.discriminator = PatchDiscriminator(y_shape[0] + channels, size, width)
        else:
            n_cond = y_shape[0]
            self.generator = vector_decoder(z_dim + n_cond, x_shape, width, n_cond, y_injection)
            self.discriminator = ConvEncoder(channels + y_shape[0], size, 1, width)
        init_gan_weights(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """G(z, y) in [-1, 1], ``(B, C, H, W)``."""
        out = self.generator(y, z) if self.image_cond else self.generator(torch.cat([z, y], 1))
        return out.tanh()

    def critic(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """D's logits for (image, condition) pairs: ``(B, 1)`` or a patch map ``(B, 1, h, w)``."""
        maps = y if self.image_cond else y[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.discriminator(torch.cat([maps, x], dim=1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt_g, opt_d = self.optimizers()
        # Image conditions pair each fake with its own input; vector conditions draw fake
        # conditions from the batch's real ones (the joint distribution).
        y_fake = y if self.image_cond else y[torch.randperm(len(y), device=y.device)]
        z = torch.randn(len(x), self.hparams.z_dim, device=x.device)

        x_fake = self(z, y_fake)  # before the toggles, so the G step can backpropagate into G
        self.toggle_optimizer(opt_d)
        d_real, d_fake = self.critic(x, y), self.critic(x_fake.detach(), y_fake)
        d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
        d_loss = d_loss + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        d_fake = self.critic(x_fake, y_fake)
        g_loss = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))  # -log D
        logs = {"train/d_loss": d_loss, "train/g_loss": g_loss}
        if self.image_cond:
            logs["train/l1"] = (x_fake - x).abs().mean()
            g_loss = g_loss + self.hparams.lambda_l1 * logs["train/l1"]
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self.log_dict(logs, prog_bar=True)

    def configure_optimizers(self):
        betas = (self.hparams.beta1, 0.999)
        return (
            torch.optim.Adam(self.generator.parameters(), lr=self.hparams.lr, betas=betas),
            torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams.lr, betas=betas),
        )

    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """G(z, y) for ``z ~ N(0, I)``; ``(B, C, H, W)`` in [-1, 1]."""
        return self(self.randn(len(y), self.hparams.z_dim, generator=generator), y)
