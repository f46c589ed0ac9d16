"""The runner's Lightning callbacks: divergence stop, reseeding, convergence, the FLOP budget.

Every run gets them from `cgbench.run.make_trainer`, whatever the model.
"""

import pytorch_lightning as pl
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader
from torch.utils.flop_counter import flop_registry


class DivergedError(RuntimeError):
    """Training produced a non-finite loss; the run is recorded as diverged, the matrix goes on."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


class DivergenceGuard(pl.Callback):
    """Stop a run at the first non-finite ``train/*`` value the model logs.

    On a GPU the check reads the values back to the host, a sync, so it runs only every
    ``log_every_n_steps`` batches there; on the CPU it is free and runs every batch.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.device.type != "cpu" and batch_idx % trainer.log_every_n_steps:
            return
        for key, value in trainer.callback_metrics.items():
            if key.startswith("train/") and not torch.isfinite(value).all():
                step = trainer.global_step
                raise DivergedError(f"{key} became {value.item()} at step {step}", step)


class EpochSeed(pl.Callback):
    """Reseed every RNG from (seed, epoch) at each epoch start.

    A run resumed from a checkpoint then repeats the shuffles and noise of an uninterrupted one.
    Lightning draws the first epoch's shuffle before ``on_train_epoch_start``, so a resumed run
    reseeds for its first epoch while its checkpoint loads (before that draw) and not again at
    the epoch's start, as an uninterrupted run draws that shuffle after its reseed.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self.seeded_epoch = None  # the epoch a checkpoint load has already reseeded for

    def reseed(self, epoch: int) -> None:
        pl.seed_everything((self.seed << 16) + epoch, workers=True, verbose=False)

    def on_load_checkpoint(self, trainer, pl_module, checkpoint):
        self.seeded_epoch = checkpoint["epoch"] + 1  # saved at an epoch's end: the next one runs
        self.reseed(self.seeded_epoch)

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch != self.seeded_epoch:
            self.reseed(trainer.current_epoch)
        self.seeded_epoch = None


class ValidationSampleL1(pl.Callback):
    """Log ``val/sample_l1`` at every validation: one sample per input, L1 to its target.

    Each model logs its own validation loss; this one is the same for every model of an image
    task (a fixed slice of the validation set, fixed noise), so convergence curves compare.
    """

    def __init__(self, n_images: int = 256):
        self.n_images = n_images

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        x, y = next(iter(DataLoader(trainer.datamodule.val_set, batch_size=self.n_images)))
        generator = torch.Generator().manual_seed(0)
        x_hat = pl_module.generate(y.to(pl_module.device), generator=generator)  # (B, C, H, W)
        pl_module.log("val/sample_l1", (x_hat - x.to(x_hat)).abs().mean())
        # Batches trained so far: the x axis (global_step counts optimiser steps, 2-6 a batch).
        pl_module.log("val/train_batches", float(trainer.fit_loop.epoch_loop.total_batch_idx + 1))


class FlopCount(TorchDispatchMode):
    """FLOPs of the aten ops run inside (``total``), by torch's own per-op FLOP formulas.

    Only counts: torch's ``FlopCounterMode`` also tracks modules with backward hooks, which
    ``torch.autograd.grad(..., create_graph=True)`` refuses (LC's gradient penalty).
    """

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


class FlopBudget(pl.Callback):
    """Count training FLOPs, and stop the fit once ``limit`` is spent (the task's budget).

    The FLOPs of one training batch (forward, backward, every optimiser step a model takes in
    it: GAN players, cGML's inner steps) are counted (`FlopCount`) on the first
    batch of every epoch, as FLOPs per image, since a model's step can change between epochs
    (LC's two stages); every batch then adds that rate times its images. The count survives a
    resume (callback state in the checkpoint). Overshoot: at most one batch.

    Args:
        limit: Training FLOPs after which the fit stops; None only counts.
    """

    def __init__(self, limit: float | None = None):
        self.limit, self.spent, self.per_image = limit, 0.0, None
        self._counter, self._epoch = None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._epoch != trainer.current_epoch:  # measure this epoch's step
            self._epoch = trainer.current_epoch
            self._counter = FlopCount()
            self._counter.__enter__()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        images = len(batch[0])
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self.per_image = self._counter.total / images
            self._counter = None
        self.spent += self.per_image * images
        if self.limit is not None and self.spent >= self.limit:
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"spent": self.spent}

    def load_state_dict(self, state_dict: dict) -> None:
        self.spent = state_dict["spent"]
