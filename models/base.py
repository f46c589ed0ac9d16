"""The model contract: a LightningModule that generates images for a batch of conditions."""

from typing import ClassVar

import pytorch_lightning as pl
import torch


class ConditionalGenerator(pl.LightningModule):
    """Base class of every model in ``MODELS``.

    Subclasses declare the condition kinds they support in ``cond_kinds`` (a subset of
    ``{"label", "attributes", "image"}``), call ``save_hyperparameters()`` in ``__init__`` so
    checkpoints reload with ``load_from_checkpoint``, and implement `generate`, the only method
    evaluation needs. Models that can edit a real image also define
    ``edit(x, y_source, y_target) -> x_edit`` (same shapes and range), which the attribute-edit
    metrics score. Models with an encoder define ``label_free_latent(x, y) -> (B, d)``, the
    latent that should not carry y, which the leakage probe reads. Training is the method's
    own business (``training_step`` and friends).
    Models listing ``variants`` (e.g. LC's ``"prior"``: samples without the actor) switch
    `generate` by their ``variant`` attribute; the runner scores each beside the main mode.

    Args:
        x_shape: ``(C, H, W)`` of the generated images.
        y_shape: Shape of one condition, e.g. ``(10,)`` for a one-hot MNIST label.
    """

    cond_kinds: ClassVar[frozenset[str]] = frozenset()
    adapted_kinds: ClassVar[frozenset[str]] = frozenset()  # kinds the method was not made for
    variants: ClassVar[tuple[str, ...]] = ()  # extra sampling modes, scored beside generate()

    def __init__(self, x_shape: tuple[int, ...], y_shape: tuple[int, ...]):
        super().__init__()
        self.x_shape = tuple(x_shape)
        self.y_shape = tuple(y_shape)
        self.variant: str | None = None  # one of ``variants``, or None for the main mode

    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw one sample per condition.

        Args:
            y: Conditions ``(B, *y_shape)`` on the model's device.
            generator: CPU random generator; the same seed must give the same samples.

        Returns:
            Images ``(B, *x_shape)`` in [-1, 1].
        """
        raise NotImplementedError

    def manual_step(self, optimizer, loss_fn) -> torch.Tensor:
        """Manual optimisation: compute ``loss_fn()`` and update ``optimizer``'s parameters only.

        The other optimisers' parameters are frozen (``toggle_optimizer``) while the loss is
        built, so no gradient reaches them. Returns the detached loss for logging.
        """
        self.toggle_optimizer(optimizer)
        loss = loss_fn()
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        self.untoggle_optimizer(optimizer)
        return loss.detach()

    def validation_step(self, batch, batch_idx):
        """Nothing by default; defined so the validation loop runs for every model.

        The runner's shared convergence measure (``val/sample_l1``) hooks into its end.
        """

    def planned_epochs(self) -> int | None:
        """Epochs the model's own schedule needs (e.g. LC's two stages); None: the trainer's."""
        return None

    def run_info(self) -> dict:
        """Extra fields for the run record, e.g. per-stage training seconds."""
        return {}

    def randn(self, *shape: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal noise drawn on the CPU (device-independent) and moved to the model."""
        return torch.randn(*shape, generator=generator).to(self.device)
