"""The runner's Lightning callbacks: divergence, reseeding, convergence, budget, milestones.

Every run gets them from `cgbench.cells.train.make_trainer`, whatever the model.
"""

import math
import random
import time
from collections import Counter

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader
from torch.utils.flop_counter import flop_registry

from cgbench.errors import ConfigError


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
    Ops with no formula (elementwise ops, norms, and anything a plugin might hide work in:
    decompositions, FFTs, sorts) are counted by name in ``uncounted`` (calls), with the tensor
    elements they read and write in ``uncounted_elements``: a lower bound on their work, close
    to it for elementwise ops. Views (outputs aliasing an input) cost nothing and are skipped.
    """

    def __init__(self):
        super().__init__()
        self.total = 0
        self.uncounted: Counter = Counter()
        self.uncounted_elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        elif not _is_view(func):
            self.uncounted[func._overloadpacket.__name__] += 1
            tensors = [*args, *kwargs.values(), *(out if isinstance(out, tuple | list) else [out])]
            self.uncounted_elements += sum(t.numel() for t in tensors if isinstance(t, Tensor))
        return out


def _is_view(func) -> bool:
    """Whether an aten op returns a view of an input (``t``, ``view``, ``detach``): no work."""
    returns = func._schema.returns
    return bool(returns) and all(
        r.alias_info is not None and not r.alias_info.is_write for r in returns
    )


class BudgetError(ConfigError):
    """A budgeted run whose meter cannot end it (its batches count next to no FLOPs)."""


MIN_FLOPS_PER_IMAGE = 1e3  # a learned layer over a 28x28 image costs more (fwd + bwd: ~5 kFLOP)
BUDGET_MAX_EPOCHS = 100  # under a budget, the epoch cap unless budget.max_epochs says


class FlopBudget(pl.Callback):
    """Count training FLOPs, and stop the fit once ``limit`` is spent (the task's budget).

    The FLOPs of one training batch (forward, backward, every optimiser step a model takes in
    it: GAN players, cGML's inner steps) are counted (`FlopCount`) on the first
    batch of every epoch, as FLOPs per image, since a model's step can change between epochs
    (LC's two stages); every batch then adds that rate times its images. Consecutive epochs at
    one rate form a *phase* (LC: its VAE, then its latent stage; every other model: one), with
    its batches, images, FLOPs and batch seconds (``phases``). The count survives a resume
    (callback state in the checkpoint). Overshoot: at most one batch.

    Under a limit, a batch counting under ``MIN_FLOPS_PER_IMAGE`` stops the fit with a
    `BudgetError`: the budget would never be spent (a model whose work the meter cannot see),
    unless the config caps the epochs itself (``budget.max_epochs``): then that cap ends it.

    Args:
        limit: Training FLOPs after which the fit stops; None only counts.
        model_name: The model's key, for the error message.
        capped: Whether the config sets ``budget.max_epochs`` (the run ends without the meter).
    """

    def __init__(
        self, limit: float | None = None, model_name: str = "the model", capped: bool = False
    ):
        self.limit, self.spent, self.per_image = limit, 0.0, None
        self.model_name, self.capped = model_name, capped
        self.phases: list[dict] = []
        self.uncounted: Counter = Counter()  # calls of unmetered ops in the measured batches
        self.uncounted_elements, self.counted_flops = 0, 0  # over the measured batches
        self._counter, self._epoch, self._batch_start = None, None, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._epoch != trainer.current_epoch:  # measure this epoch's step
            self._epoch = trainer.current_epoch
            self._counter = FlopCount()
            self._counter.__enter__()
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        seconds = time.perf_counter() - self._batch_start
        images = len(batch[0])
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self._measured(self._counter, images, trainer.current_epoch)
            self._counter = None
        self.spent += self.per_image * images
        phase = self.phases[-1]
        phase["batches"] += 1
        phase["images"] += images
        phase["tflop"] += self.per_image * images / 1e12
        phase["seconds"] += seconds
        if self.limit is not None and self.spent >= self.limit:
            trainer.should_stop = True

    def _measured(self, counter: FlopCount, images: int, epoch: int) -> None:
        """Take one batch's count: the rate, the unmetered ops, a new phase if the rate moved."""
        self.per_image = counter.total / images
        self.counted_flops += counter.total
        self.uncounted.update(counter.uncounted)
        self.uncounted_elements += counter.uncounted_elements
        if self.limit is not None and not self.capped and self.per_image < MIN_FLOPS_PER_IMAGE:
            raise BudgetError(
                f"{self.model_name}: its training step counts {self.per_image:.3g} FLOPs an image "
                f"(under {MIN_FLOPS_PER_IMAGE:.0e}), so budget.train_tflop would never be spent. "
                "Fix: train with ops the meter counts (matmuls, convolutions), or cap the run "
                "with --set budget.max_epochs=N (it is then marked off budget)"
            )
        last = self.phases[-1] if self.phases else None
        if last is None or not math.isclose(
            last["mflop_per_image"], self.per_image / 1e6, rel_tol=1e-6
        ):
            self.phases.append(
                {
                    "from_epoch": epoch,
                    "mflop_per_image": self.per_image / 1e6,
                    "batches": 0,
                    "images": 0,
                    "tflop": 0.0,
                    "seconds": 0.0,
                }
            )

    def state_dict(self) -> dict:
        return {
            "spent": self.spent,
            "phases": self.phases,
            "uncounted": dict(self.uncounted),
            "uncounted_elements": self.uncounted_elements,
            "counted_flops": self.counted_flops,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.spent = state_dict["spent"]
        self.phases = [dict(p) for p in state_dict.get("phases", [])]
        self.uncounted = Counter(state_dict.get("uncounted", {}))
        self.uncounted_elements = state_dict.get("uncounted_elements", 0)
        self.counted_flops = state_dict.get("counted_flops", 0)

    def record_fields(self) -> dict:
        """The record's meter fields: FLOPs spent, phases, and what the meter could not count."""
        share = self.uncounted_elements / self.counted_flops if self.counted_flops else None
        return {
            "train_tflop": float(f"{self.spent / 1e12:.4g}"),
            "train_phases": self.phases,
            "flops_uncounted_ops": dict(self.uncounted.most_common()),
            "flops_uncounted_share": share and float(f"{share:.3g}"),
        }


class Milestones(pl.Callback):
    """Score the model each time the FLOP meter passes a milestone (anytime scoring).

    ``milestones`` are training TFLOP under the run's budget. After the batch that passes one,
    ``score(model)`` runs on the same rows and metrics as the final score; its result goes to
    ``scored[str(milestone)]`` with the FLOPs and training seconds spent so far (scoring time
    excluded). The training state is left as it was: every module's train/eval mode and every
    RNG are restored, so a run with milestones trains exactly as one without, and, the
    learning rate being constant, a milestone's score is the score of a shorter run stopped
    there. Must come after `FlopBudget` in the callback list (it reads ``spent``).

    Args:
        milestones: TFLOP values, each below the budget.
        score: ``score(model, tflop) -> dict`` (what the record keeps for that milestone).
    """

    def __init__(self, milestones, score):
        self.pending = sorted(float(m) for m in milestones)
        self.score = score
        self.scored: dict[str, dict] = {}
        self.scoring_seconds = 0.0
        self._fit_start = None

    def on_train_start(self, trainer, pl_module):
        self._fit_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        meter = next(c for c in trainer.callbacks if isinstance(c, FlopBudget))
        while self.pending and meter.spent >= self.pending[0] * 1e12:
            milestone = self.pending.pop(0)
            if str(milestone) in self.scored:  # scored before a resume
                continue
            start = time.perf_counter()
            with kept_training_state(pl_module):
                entry = self.score(pl_module, milestone)
            self.scored[str(milestone)] = entry | {
                "train_tflop": float(f"{meter.spent / 1e12:.4g}"),
                "train_seconds": start - self._fit_start - self.scoring_seconds,
                "global_steps": trainer.global_step,
            }
            self.scoring_seconds += time.perf_counter() - start

    def state_dict(self) -> dict:
        return {"scored": self.scored}

    def load_state_dict(self, state_dict: dict) -> None:
        self.scored = dict(state_dict.get("scored", {}))


class kept_training_state:  # noqa: N801 (a context manager read as a phrase)
    """Within: the module in eval mode; after: each submodule's mode and every RNG restored."""

    def __init__(self, module: torch.nn.Module):
        self.module = module

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.module.modules()]
        self.rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy": np.random.get_state(),
            "python": random.getstate(),
        }
        self.module.eval()
        return self.module

    def __exit__(self, *exc):
        for m, training in self.modes:
            m.train(training)
        torch.set_rng_state(self.rng["torch"])
        if self.rng["cuda"] is not None:
            torch.cuda.set_rng_state_all(self.rng["cuda"])
        np.random.set_state(self.rng["numpy"])
        random.setstate(self.rng["python"])
        return False
