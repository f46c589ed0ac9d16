"""LC: Latent Constraints, conditional generation from an unconditional VAE.

Paper: Engel, Hoffman & Roberts, "Latent Constraints: Learning to Generate Conditionally from
Unconditional Generative Models" (ICLR 2018, arXiv:1711.05772).

Stage 1 trains an unconditional VAE with a small output scale (sharp reconstructions, poor
prior samples). Stage 2 freezes it and learns, in its latent space, an actor G(z, y) (a gated
residual, so it starts near the identity) and a critic D(z, y). D separates real posterior
latents with their own labels (c = 1) from actor outputs or raw prior samples and from real
latents paired with another image's labels (c = 0), plus a gradient penalty on real-fake
interpolates. G fools D while staying close to its input (``L_dist`` scaled by the posterior's
mean sigma per dimension), on prior latents and, as in the reference code, on real latents.
The VAE being frozen, each training image is encoded once (`encode_once`), not every epoch.
An attribute critic D_attr(z) is trained on posterior latents for optimisation-based edits.

Generation: z ~ N(0, I) -> G(z, y) -> decoder. ``variants = ("prior",)`` also scores the raw
prior samples (no actor), so the actor's effect is visible. Editing: gradient steps on z from
the encoding of a real image towards D and D_attr's verdict for the target, held near the start
by ``L_dist``.

Stage 1 depends on the images only, so its weights are cached in ``stage_cache``, a file the
runner names from `stage_one_key` (the VAE's settings), the images, the split and the seed: a
new attribute set trains only stage 2. ``run_info()`` reports both stages' seconds.

Differences from the paper: the shared conv backbones of ``models/nets.py`` (not the 4-conv
1024-latent reference); smaller MLPs; G is updated once per ``n_critic`` D steps on the sum of
its prior-latent and real-latent losses (one step instead of two); mismatched pairs whose labels
happen to agree are left out of D's loss; edits run a fixed number of steps (no per-example
thresholds); Adam 1e-3 and one D step per G step (the reference: 1e-4 and ten, over 200k
steps). Epochs: ``vae_epochs`` then ``latent_epochs``; the runner gives the trainer their sum
(`planned_epochs`) and the model stops training after ``latent_epochs`` of stage 2, so a
cached stage 1 shortens the run without the model rewriting the trainer's loop.
"""

import hashlib
import io
import time
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cgbench.models.base import ConditionalGenerator
from cgbench.models.cvae import CVAE
from cgbench.records import atomic_write

VAE_VERSION = 1  # bump when stage 1's code changes, so cached weights are not reused


class LatentMLP(nn.Module):
    """``(z, y) -> (B, out_features)``: y through a linear embedding, concatenated with z.

    Args:
        latent_dim: Size of z.
        y_dim: Size of y (0 for an unconditional net).
        out_features: Output width.
        hidden: Width of the hidden layers (and of y's embedding).
        n_layers: Hidden ``Linear + ReLU`` layers.
    """

    def __init__(self, latent_dim: int, y_dim: int, out_features: int, hidden: int, n_layers: int):
        super().__init__()
        self.embed = nn.Linear(y_dim, hidden) if y_dim else None
        layers: list[nn.Module] = []
        width = latent_dim + (hidden if y_dim else 0)
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, out_features))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = z if self.embed is None else torch.cat([z, self.embed(y)], dim=1)
        return self.net(h)


class LC(ConditionalGenerator):
    """Latent Constraints for label and attribute conditions.

    Args:
        x_shape: ``(C, H, W)`` of the images.
        y_shape: ``(A,)``, one-hot classes or multi-hot attributes.
        latent_dim: Size of the VAE's z.
        width: Channels of the first convolution of the VAE's backbones.
        sigma_x: Output scale of the Gaussian likelihood on [-1, 1] pixels (0.2 here is the
            paper's 0.1 on [0, 1] pixels).
        beta: KL weight of the VAE (1 in the paper).
        lr: Adam learning rate of the VAE.
        vae_epochs: Epochs of stage 1.
        latent_epochs: Epochs of stage 2 (one D step per batch).
        hidden: Width of the actor, critic and attribute-critic MLPs.
        n_layers: Hidden layers of those MLPs.
        latent_lr: Adam learning rate of stage 2 (betas (0, 0.9) as in the reference).
        n_critic: D steps per G step.
        lambda_gp: Gradient-penalty weight.
        lambda_dist: Per-dimension weight of ``L_dist`` in G's loss (the reference's 0.1 averaged
            over 1024 dimensions is 1e-4 per dimension). Averaging over our 32 dimensions
            instead holds the actor within about 0.1 of its input: it never reaches the class.
        prior_fraction: Share of D's fake latents that are raw prior samples instead of G's.
        edit_steps: Adam steps on z per edit.
        edit_lr: Their learning rate.
        edit_realism: Weight of D's realism term in the edit objective.
        edit_dist: Weight of ``L_dist`` to the source encoding in the edit objective (1e-3
            kept MNIST edits within reach of only 45% of their target classes).
        stage_cache: File of this run's cached stage-1 weights, named by the runner from
            `stage_one_key`, the data and the seed; None disables the cache.
    """

    cond_kinds = frozenset({"label", "attributes"})
    adapted_kinds = frozenset({"label"})
    variants = ("prior",)

    def __init__(
        self,
        x_shape: tuple[int, int, int],
        y_shape: tuple[int],
        latent_dim: int = 32,
        width: int = 32,
        sigma_x: float = 0.2,
        beta: float = 1.0,
        lr: float = 1e-3,
        vae_epochs: int = 10,
        latent_epochs: int = 10,
        hidden: int = 512,
        n_layers: int = 4,
        latent_lr: float = 1e-3,
        n_critic: int = 1,
        lambda_gp: float = 10.0,
        lambda_dist: float = 1e-4,
        prior_fraction: float = 0.1,
        edit_steps: int = 200,
        edit_lr: float = 0.05,
        edit_realism: float = 0.1,
        edit_dist: float = 1e-4,
        stage_cache: str | None = None,
    ):
        super().__init__(x_shape, y_shape)
        self.save_hyperparameters(ignore=["stage_cache"])
        self.automatic_optimization = False
        self.stage_cache = Path(stage_cache) if stage_cache else None
        n_attr = y_shape[0]
        # Stage 1: a CVAE without a condition is a plain VAE (condition width 0).
        self.vae = CVAE(x_shape, (0,), latent_dim, width, beta, lr=lr, likelihood="gaussian",
                        sigma_x=sigma_x)  # fmt: skip
        self.actor = LatentMLP(latent_dim, n_attr, 2 * latent_dim, hidden, n_layers)
        self.critic = LatentMLP(latent_dim, n_attr, 1, hidden, n_layers)
        self.attr_critic = LatentMLP(latent_dim, 0, n_attr, hidden, n_layers)
        # Running mean of the posterior's sigma per dimension over stage-2 batches (sigma_bar_z).
        self.register_buffer("sigma_sum", torch.zeros(latent_dim))
        self.register_buffer("sigma_batches", torch.zeros(()))
        self.register_buffer("vae_done", torch.zeros((), dtype=torch.bool))
        self.register_buffer("latent_epochs_done", torch.zeros((), dtype=torch.long))
        self.stage_seconds = {"stage1_vae": 0.0, "stage2_latent": 0.0}
        self.vae_from_cache = False
        self.posteriors: dict[bytes, torch.Tensor] = {}  # stage 2: image digest -> (2, latent)

    # -- the latent space -------------------------------------------------------------------
    def no_cond(self, n: int) -> torch.Tensor:
        return torch.zeros(n, 0, device=self.device)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior ``(mu, sigma)`` of the frozen VAE, each ``(B, latent_dim)``."""
        mu, logvar = self.vae.posterior(x, self.no_cond(len(x)))
        return mu, (0.5 * logvar).exp()

    def encode_once(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`encode` through a cache keyed by each image's bytes: the VAE is frozen in stage 2.

        Each training image goes through the encoder once (the first stage-2 epoch, or the
        first after a resume, which empties the cache); later epochs read its posterior. The
        FLOP meter measures each epoch's first batch, so it charges the encoding to the epoch
        that did it and never again. An augmented image (a flip) is another image.
        """
        keys = [hashlib.blake2b(row.numpy().tobytes(), digest_size=16).digest()
                for row in x.detach().cpu()]  # fmt: skip
        missing = [i for i, k in enumerate(keys) if k not in self.posteriors]
        if missing:
            mu, sigma = self.encode(x[missing])
            for i, m, s in zip(missing, mu, sigma, strict=True):
                self.posteriors[keys[i]] = torch.stack([m, s])
        both = torch.stack([self.posteriors[k] for k in keys]).to(x.device)  # (B, 2, latent)
        return both[:, 0], both[:, 1]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z, self.no_cond(len(z)))

    def label_free_latent(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The VAE's posterior mean, ``(B, latent_dim)``: unconditional, so not label-free."""
        return self.encode(x)[0]

    def transform(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The actor's gated residual ``z' = (1 - g) z + g dz``, ``(B, latent_dim)``."""
        dz, gate = self.actor(z, y).chunk(2, dim=1)
        gate = torch.sigmoid(gate)
        return (1 - gate) * z + gate * dz

    def sigma_bar(self) -> torch.Tensor:
        return self.sigma_sum / self.sigma_batches.clamp(min=1) + 1e-3

    def l_dist(self, z_new: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``sum_d log(1 + (z' - z)^2) / sigma_bar_d^2``, batch mean: a robust pull to the input.

        Summed over dimensions (the reference averages over its 1024), so ``lambda_dist`` is a
        per-dimension weight whatever the latent size: 0.1 / 1024 reproduces the reference.
        """
        return (torch.log1p((z_new - z) ** 2) / self.sigma_bar() ** 2).sum(1).mean()

    # -- training ---------------------------------------------------------------------------
    def in_stage_one(self) -> bool:
        return not bool(self.vae_done)

    @staticmethod
    def stage_one_key(hparams: Mapping, x_shape) -> dict:
        """What shapes stage 1 besides the data and the seed; the runner hashes it into a path."""
        vae_keys = ("latent_dim", "width", "sigma_x", "beta", "lr", "vae_epochs")
        return {k: hparams[k] for k in vae_keys} | {"version": VAE_VERSION, "x_shape": x_shape}

    def planned_epochs(self) -> int:
        """Both stages' epochs; with a cached stage 1 training stops ``vae_epochs`` sooner."""
        return self.hparams.vae_epochs + self.hparams.latent_epochs

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["lc"] = {"stage_seconds": self.stage_seconds,
                            "vae_from_cache": self.vae_from_cache}  # fmt: skip

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get("lc") or {}  # a resumed run keeps its timings; the stage plan
        self.stage_seconds = dict(saved.get("stage_seconds", self.stage_seconds))  # is buffers
        self.vae_from_cache = saved.get("vae_from_cache", False)

    def on_fit_start(self):
        if self.hparams.vae_epochs == 0:  # an untrained VAE: only for tests of stage 2
            self.vae_done.fill_(True)
        path = self.stage_cache
        if not bool(self.vae_done) and path is not None and path.exists():
            try:
                saved = torch.load(path, map_location=self.device, weights_only=True)
                self.vae.load_state_dict(saved["state_dict"])
            except (RuntimeError, EOFError, KeyError, OSError) as err:  # corrupt or stale file
                raise RuntimeError(
                    f"LC: cached stage-1 VAE {path} is unreadable ({err}). Fix: delete it; "
                    "the next run trains stage 1 again."
                ) from err
            self.vae_done.fill_(True)
            self.stage_seconds["stage1_vae"] = float(saved["seconds"])
            self.vae_from_cache = True

    def on_train_epoch_start(self):
        if not self.in_stage_one():
            self.vae.eval()  # frozen: BatchNorm uses its running statistics
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self):
        stage_one = self.in_stage_one()
        key = "stage1_vae" if stage_one else "stage2_latent"
        self.stage_seconds[key] += time.perf_counter() - self._epoch_start
        if stage_one and self.current_epoch + 1 >= self.hparams.vae_epochs:
            self.vae_done.fill_(True)
            self.save_stage_one()
        elif not stage_one:
            self.latent_epochs_done += 1
        if bool(self.vae_done) and int(self.latent_epochs_done) >= self.hparams.latent_epochs:
            self.trainer.should_stop = True  # Lightning's own early stop: the plan is done

    def save_stage_one(self) -> None:
        path = self.stage_cache
        if path is None or self.trainer.fast_dev_run:
            return
        buffer = io.BytesIO()
        torch.save({"state_dict": self.vae.state_dict(),
                    "seconds": self.stage_seconds["stage1_vae"]}, buffer)  # fmt: skip
        atomic_write(path, buffer.getvalue())

    def training_step(self, batch, batch_idx):
        x, y = batch
        vae_opt, actor_opt, critic_opt, attr_opt = self.optimizers()
        if self.in_stage_one():
            terms = self.vae.losses(x, self.no_cond(len(x)))  # only the VAE's weights in it
            self.manual_step(vae_opt, lambda: terms["loss"])
            self.log_dict({f"train/vae_{k}": v for k, v in terms.items()}, prog_bar=True)
            return
        with torch.no_grad():
            mu, sigma = self.encode_once(x)
            z_real = mu + sigma * torch.randn_like(mu)
            self.sigma_sum += sigma.mean(0)
            self.sigma_batches += 1
        d_loss = self.manual_step(critic_opt, lambda: self.critic_loss(z_real, y))
        a_loss = self.manual_step(
            attr_opt, lambda: F.binary_cross_entropy_with_logits(self.attr_critic(z_real), y)
        )
        logs = {"train/d_loss": d_loss, "train/attr_loss": a_loss}
        if batch_idx % self.hparams.n_critic == 0:
            logs["train/g_loss"] = self.manual_step(actor_opt, lambda: self.actor_loss(z_real, y))
        self.log_dict(logs, prog_bar=True)

    def critic_loss(self, z_real: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """BCE over real pairs (c=1), fake latents and mismatched labels (c=0), plus the GP."""
        b = len(z_real)
        z_prior = torch.randn_like(z_real)
        with torch.no_grad():
            z_fake = self.transform(z_prior, y)
        raw = torch.rand(b, 1, device=self.device) < self.hparams.prior_fraction
        z_fake = torch.where(raw, z_prior, z_fake)
        y_other = y[torch.randperm(b, device=self.device)]
        mismatched = (y_other != y).any(dim=1)  # identical label vectors are not a violation
        logits = self.critic(torch.cat([z_real, z_fake, z_real[mismatched]]),
                             torch.cat([y, y, y_other[mismatched]])).squeeze(1)  # fmt: skip
        target = torch.zeros_like(logits)
        target[:b] = 1
        alpha = torch.rand(b, 1, device=self.device)
        between = (alpha * z_real + (1 - alpha) * z_fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(between, y).sum(), between, create_graph=True)
        penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
        return F.binary_cross_entropy_with_logits(logits, target) + self.hparams.lambda_gp * penalty

    def actor_loss(self, z_real: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Non-saturating loss of G on prior and on real latents, each plus ``L_dist``."""
        z = torch.cat([torch.randn_like(z_real), z_real])
        yy = torch.cat([y, y])
        z_new = self.transform(z, yy)
        realism = F.binary_cross_entropy_with_logits(
            self.critic(z_new, yy), torch.ones(len(z), 1, device=self.device)
        )
        return realism + self.hparams.lambda_dist * self.l_dist(z_new, z)

    def validation_step(self, batch, batch_idx):
        x, _ = batch
        self.log("val/vae_loss", self.vae.losses(x, self.no_cond(len(x)))["loss"], prog_bar=True)

    def configure_optimizers(self):
        betas = (0.0, 0.9)
        lr = self.hparams.latent_lr
        return (
            torch.optim.Adam(self.vae.parameters(), lr=self.hparams.lr),
            torch.optim.Adam(self.actor.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(self.attr_critic.parameters(), lr=lr, betas=betas),
        )

    def run_info(self) -> dict:
        """Per-stage training seconds (``stage1_vae`` is the cached run's when reused)."""
        seconds = {k: round(v, 1) for k, v in self.stage_seconds.items()}
        return {"stage_seconds": seconds, "vae_from_cache": self.vae_from_cache}

    # -- inference --------------------------------------------------------------------------
    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``dec(G(z, y))`` for ``z ~ N(0, I)`` (``dec(z)`` for the ``prior`` variant)."""
        z = self.randn(len(y), self.hparams.latent_dim, generator=generator)
        return self.decode(z if self.variant == "prior" else self.transform(z, y))

    def edit_latent(self, x: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        """Latent search from the posterior mean ``z0`` of ``x``: ``(B, latent_dim)``.

        Minimises ``edit_realism * BCE(D(z, y_t), 1) + BCE(D_attr(z), y_t) + edit_dist *
        L_dist(z, z0)`` with Adam for ``edit_steps`` steps.
        """
        with torch.no_grad():
            z0, _ = self.encode(x)
        z = z0.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=self.hparams.edit_lr)
        ones = torch.ones(len(z), 1, device=self.device)
        with torch.enable_grad():
            for _ in range(self.hparams.edit_steps):
                loss = (
                    self.hparams.edit_realism
                    * F.binary_cross_entropy_with_logits(self.critic(z, y_target), ones)
                    + F.binary_cross_entropy_with_logits(self.attr_critic(z), y_target)
                    + self.hparams.edit_dist * self.l_dist(z, z0)
                )
                (z.grad,) = torch.autograd.grad(loss, z)  # no gradient reaches the networks
                optimizer.step()
        return z.detach()

    @torch.no_grad()
    def edit(self, x: torch.Tensor, y_source: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        """Identity-preserving transformation (the paper's Sec. 5): decode `edit_latent`.

        ``(B, C, H, W)`` in [-1, 1] in and out; ``y_source`` is unused (the encoder is
        unconditional).
        """
        return self.decode(self.edit_latent(x, y_target))
