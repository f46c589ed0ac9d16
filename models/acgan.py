"""AC-GAN: GAN whose discriminator also classifies the condition.

Paper: Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs"
(arXiv:1610.09585, ICML 2017).

G(z, c) generates an image for class c. D does not see c: a shared body feeds a source head
P(real | x) and an auxiliary head P(c | x). D minimises the source BCE plus the class loss on
real and fake images; G minimises the non-saturating source loss plus the class loss of its
fakes, so fakes must look real *and* recognisably of class c.

Differences from the paper: the shared DCGAN-style backbones of ``models/nets.py`` (not the
paper's 6-conv D and 768-unit G); no activation noise or dropout in D. Attribute conditions
(CelebA) use a multi-label sigmoid head with per-attribute BCE, an adaptation (the paper has one
softmax over classes). The auxiliary head outputs logits straight into the loss: no double
softmax (the bug of a popular PyTorch implementation).
"""

import torch
import torch.nn.functional as F
from torch import nn

from cgbench.models.base import ConditionalGenerator
from cgbench.models.conditioning import vector_decoder
from cgbench.models.nets import ConvEncoder, init_gan_weights


class ACGAN(ConditionalGenerator):
    """Auxiliary-classifier GAN for label (softmax head) or attribute (sigmoid head) conditions.

    Args:
        x_shape: ``(C, H, W)`` of the images.
        y_shape: ``(A,)``, one-hot classes or multi-hot attributes.
        z_dim: Noise size (z ~ N(0, I)).
        width: Channels of the first convolution of the shared backbones.
        hidden: Width of D's shared feature layer that both heads read.
        lambda_cls: Weight of the auxiliary class loss (1 in the paper).
        lr: Adam learning rate of both players.
        beta1: Adam beta1 (0.5 in the paper).
        multi_label: Sigmoid head with BCE (attribute conditions, set in their configs) instead
            of a softmax with cross-entropy (classes).
        y_injection: How the condition enters the generator: ``"input"`` (concatenated to z, the
            paper's) or ``"film"`` (also at every layer, `cgbench.models.conditioning`).
    """

    cond_kinds = frozenset({"label", "attributes"})
    adapted_kinds = frozenset({"attributes"})

    def __init__(
        self,
        x_shape: tuple[int, int, int],
        y_shape: tuple[int],
        z_dim: int = 64,
        width: int = 32,
        hidden: int = 256,
        lambda_cls: float = 1.0,
        lr: float = 2e-4,
        beta1: float = 0.5,
        multi_label: bool = False,
        y_injection: str = "input",
    ):
        super().__init__(x_shape, y_shape)
        self.save_hyperparameters()
        self.automatic_optimization = False
        n_cond = y_shape[0]
        self.generator = vector_decoder(z_dim + n_cond, x_shape, width, n_cond, y_injection)
        self.body = nn.Sequential(
            ConvEncoder(x_shape[0], x_shape[1], hidden, width), nn.LeakyReLU(0.2)
        )
        self.source_head = nn.Linear(hidden, 1)  # real/fake logit
        self.class_head = nn.Linear(hidden, n_cond)  # class (or attribute) logits
        init_gan_weights(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """G(z, y) in [-1, 1], ``(B, C, H, W)``."""
        return self.generator(torch.cat([z, y], dim=1)).tanh()

    def discriminate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source logits ``(B, 1)`` and class logits ``(B, A)``."""
        h = self.body(x)
        return self.source_head(h), self.class_head(h)

    def class_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.hparams.multi_label:
            return F.binary_cross_entropy_with_logits(logits, y)
        return F.cross_entropy(logits, y.argmax(1))

    def class_accuracy(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.hparams.multi_label:
            return ((logits > 0).float() == y).float().mean()
        return (logits.argmax(1) == y.argmax(1)).float().mean()

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt_g, opt_d = self.optimizers()
        y_fake = y[torch.randperm(len(y), device=y.device)]  # the empirical condition distribution
        z = torch.randn(len(x), self.hparams.z_dim, device=x.device)
        lam = self.hparams.lambda_cls

        x_fake = self(z, y_fake)  # before the toggles, so the G step can backpropagate into G
        self.toggle_optimizer(opt_d)
        s_real, c_real = self.discriminate(x)
        s_fake, c_fake = self.discriminate(x_fake.detach())
        d_loss = (
            F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real))
            + F.binary_cross_entropy_with_logits(s_fake, torch.zeros_like(s_fake))
            + lam * (self.class_loss(c_real, y) + self.class_loss(c_fake, y_fake))
        )
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        s_fake, c_fake = self.discriminate(x_fake)
        g_loss = F.binary_cross_entropy_with_logits(s_fake, torch.ones_like(s_fake))
        g_loss = g_loss + lam * self.class_loss(c_fake, y_fake)
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self.log_dict(
            {"train/d_loss": d_loss, "train/g_loss": g_loss,
             "train/aux_acc": self.class_accuracy(c_real.detach(), y)},
            prog_bar=True,
        )  # fmt: skip

    def configure_optimizers(self):
        betas = (self.hparams.beta1, 0.999)
        d_params = [*self.body.parameters(), *self.source_head.parameters(),
                    *self.class_head.parameters()]  # fmt: skip
        return (
            torch.optim.Adam(self.generator.parameters(), lr=self.hparams.lr, betas=betas),
            torch.optim.Adam(d_params, lr=self.hparams.lr, betas=betas),
        )

    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """G(z, y) for ``z ~ N(0, I)``; ``(B, C, H, W)`` in [-1, 1]."""
        return self(self.randn(len(y), self.hparams.z_dim, generator=generator), y)
