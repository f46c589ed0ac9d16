"""Throughput: the suite's training step against a plain PyTorch loop, and metric throughput.

``python -m cgbench.speed`` (``make speed``) writes ``results/speed.csv``. For every model on
its first task (MNIST for label models, MNIST completion for image models), in one process:

- *suite*: the runner's own Trainer (`cgbench.run.make_trainer`: the config's trainer block,
  CSV logger, the runner's callbacks) fitting the quick profile's model and DataModule;
- *plain*: a hand loop over the same DataLoader calling the same ``training_step`` with the
  same optimisers, no Trainer: ``zero_grad``, ``backward``, ``step`` (manual-optimisation models
  get plain ``optimizers``/``manual_backward``/``toggle_optimizer`` stand-ins).

Steps after a warm-up are timed; suite and plain alternate, ``--repeats`` times, and the
medians give ``ratio = suite / plain``. Metric rows time each image metric on real CelebA
pairs (`benchmark.metric_speed`). Hardware and library versions go into every row.
"""

import argparse
import datetime as dt
import logging
import platform
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch

from cgbench import config as C
from cgbench import metric_speed
from cgbench.datamodules import DataNotFoundError
from cgbench.models import MODELS
from cgbench.run import device_name, make_model, make_trainer
from cgbench.tasks import TASKS

SPEED_TASKS = ("mnist", "completion_mnist")


class StepTimer(pl.Callback):
    """Wall time of the training steps after ``warmup`` (batch fetches between them included)."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.steps = warmup, None, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()
        self.steps += batch_idx >= self.warmup

    def seconds_per_step(self) -> float:
        return (self.end - self.start) / self.steps


def as_list(optimizers) -> list[torch.optim.Optimizer]:
    """``configure_optimizers()`` output as a list of optimisers (schedulers dropped)."""
    if isinstance(optimizers, dict):
        return [optimizers["optimizer"]]
    if isinstance(optimizers, torch.optim.Optimizer):
        return [optimizers]
    if isinstance(optimizers, tuple) and optimizers and isinstance(optimizers[0], list):
        return list(optimizers[0])  # ([optimisers], [schedulers])
    return [o["optimizer"] if isinstance(o, dict) else o for o in optimizers]


def without_trainer(model: pl.LightningModule) -> list[torch.optim.Optimizer]:
    """Give ``model`` plain stand-ins for what its steps ask of a Trainer; return its optimisers."""
    optimizers = as_list(model.configure_optimizers())
    frozen: dict[torch.nn.Parameter, bool] = {}

    def toggle(optimizer):  # what toggle_optimizer does: only this optimiser's parameters learn
        own = {id(p) for g in optimizer.param_groups for p in g["params"]}
        for other in optimizers:
            for group in other.param_groups:
                for p in group["params"]:
                    if id(p) not in own:
                        frozen.setdefault(p, p.requires_grad)
                        p.requires_grad_(False)

    def untoggle(optimizer):
        for p, state in frozen.items():
            p.requires_grad_(state)
        frozen.clear()

    model.optimizers = lambda use_pl_optimizer=True: (
        optimizers[0] if len(optimizers) == 1 else optimizers
    )
    model.manual_backward = lambda loss, *args, **kwargs: loss.backward(*args, **kwargs)
    model.toggle_optimizer, model.untoggle_optimizer = toggle, untoggle
    model.log = model.log_dict = lambda *args, **kwargs: None
    return optimizers


def time_plain(model, loader, warmup: int, steps: int) -> float:
    """Seconds per step of the plain loop over ``loader`` (steps after ``warmup``)."""
    optimizers = without_trainer(model)
    model.train()
    start = None
    for i, batch in enumerate(loader):
        if i == warmup:
            start = time.perf_counter()
        if i == warmup + steps:
            break
        loss = model.training_step(batch, i)
        if model.automatic_optimization:
            loss = loss["loss"] if isinstance(loss, dict) else loss
            optimizers[0].zero_grad()
            loss.backward()
            optimizers[0].step()
    return (time.perf_counter() - start) / steps


def time_suite(cfg, dm, warmup: int, steps: int, log_dir: Path) -> float:
    """Seconds per step of the runner's Trainer (steps after ``warmup``)."""
    model = make_model(cfg, dm, stage_cache=False)
    timer = StepTimer(warmup)
    logger = pl.loggers.CSVLogger(log_dir, name="logs", version="")
    trainer = make_trainer(cfg, log_dir, logger, dm.cond_kind, callbacks=[timer],
                           limit_train_batches=warmup + steps, max_epochs=1, limit_val_batches=0,
                           num_sanity_val_steps=0, enable_progress_bar=False,
                           enable_model_summary=False, enable_checkpointing=False)  # fmt: skip
    trainer.fit(model, dm)
    return timer.seconds_per_step()  # batches, not optimiser steps (GANs take two a batch)


def measure_models(models: list[str], repeats: int, warmup: int, steps: int) -> list[dict]:
    """One row per model: median suite and plain step times and their ratio."""
    rows = []
    for name in models:
        task = next(t for t in SPEED_TASKS if TASKS[t].cond_kind in MODELS[name].cond_kinds)
        cfg = C.run_config(task, name, 0, "quick")
        dm = TASKS[task].datamodule(data_dir=C.data_dir(), cache_dir=C.cache_dir(), **cfg["data"])
        dm.setup("fit")
        suite, plain = [], []
        with tempfile.TemporaryDirectory() as log_dir:
            for r in range(repeats):  # alternate the order so drift hits both alike
                pl.seed_everything(r, verbose=False)
                for which in ("suite", "plain") if r % 2 == 0 else ("plain", "suite"):
                    if which == "suite":
                        suite.append(time_suite(cfg, dm, warmup, steps, Path(log_dir)))
                    else:
                        model = make_model(cfg, dm, stage_cache=False)
                        plain.append(time_plain(model, dm.train_dataloader(), warmup, steps))
        s, p = statistics.median(suite), statistics.median(plain)
        rows.append({"kind": "train step", "name": name, "task": task,
                     "batch_size": dm.batch_size, "suite_ms": round(1000 * s, 2),
                     "plain_ms": round(1000 * p, 2), "ratio": round(s / p, 3),
                     "repeats": repeats, "steps": steps})  # fmt: skip
        print(f"{name:6s} on {task}: suite {1000 * s:.1f} ms/step, plain {1000 * p:.1f} "
              f"ms/step, ratio {s / p:.3f}", flush=True)  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    """Measure and write ``results/speed.csv``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--metric-pairs", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("results/speed.csv"))
    args = parser.parse_args(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    try:
        rows = measure_models(args.models, args.repeats, args.warmup, args.steps)
        metric_rows = metric_speed.measure(args.metric_pairs, batch_size=250)
    except DataNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    for row in metric_rows:
        rows.append({"kind": "metric", "name": row["metric"], "task": "celeba 64x64 pairs",
                     "images_per_second": row.get("pairs_per_second"),
                     "note": row.get("note")})  # fmt: skip
    table = pd.DataFrame(rows)
    table["device"], table["threads"] = device_name(), torch.get_num_threads()
    table["cpu"], table["python"] = (
        platform.processor() or platform.machine(),
        platform.python_version(),
    )
    table["torch"], table["lightning"] = torch.__version__, pl.__version__
    table["created"] = dt.date.today().isoformat()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.drop(columns=["cpu", "python", "created"]).to_string(index=False))


if __name__ == "__main__":
    main()
