"""Throughput: the suite's training step against a plain PyTorch loop, and metric throughput.

``python -m cgbench.studies.speed`` (``make speed``) writes ``results/speed.csv``.
For every model on
its first task (MNIST for label models, MNIST completion for image models), in one process:

- *suite*: the runner's own Trainer (`cgbench.cells.train.make_trainer`: the config's trainer block,
  CSV logger, the runner's callbacks) fitting the quick profile's model and DataModule;
- *plain*: a hand loop over the same DataLoader calling the same ``training_step`` with the
  same optimisers, no Trainer: ``zero_grad``, ``backward``, ``step`` (manual-optimisation models
  get plain ``optimizers``/``manual_backward``/``toggle_optimizer`` stand-ins).

Steps after a warm-up are timed; suite and plain alternate, ``--repeats`` times, and the
medians give ``ratio = suite / plain``. Each model row also has its training FLOPs per step
(torch's FLOP counter over one plain step, forward and backward), images per second, the
achieved GFLOP/s and its share of this machine's measured peak, and the plain step under bf16
autocast (``bf16_ms``: what mixed precision would buy; adopting it is a quality decision).
``peak`` rows measure that peak: the best of 7 timings of a 3x3 convolution and a square
matmul, fp32 and bf16. Metric rows time each image metric on real CelebA pairs
(`benchmark.metric_speed`). ``bf16_share_of_conv_peak``: the bf16 step against the bf16
peak. ``inception`` rows: the FID network's images/s as loaded, channels-last and under bf16
autocast, with the features' drift against the network as loaded. ``--tasks celeba ...``
times each model on those tasks instead (CelebA's larger steps are where bf16 pays). Hardware
and library versions go into every row.
"""

import argparse
import datetime as dt
import logging
import platform
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from torch.utils.flop_counter import FlopCounterMode

from cgbench.cells.train import make_model, make_trainer
from cgbench.config import cache_dir, data_dir, run_config
from cgbench.datamodules import DataNotFoundError
from cgbench.metrics.features import inception_input, load_inception
from cgbench.models import MODELS
from cgbench.provenance import device_name
from cgbench.studies import metric_speed
from cgbench.tasks import TASKS

SPEED_TASKS = ("mnist", "completion_mnist")
INCEPTION_GFLOP = 5.7  # an Inception-v3 forward pass at 299 px (2 x 2.85 G multiply-adds)
BF16_STEPS = 5


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


def _best_of(fn, repeats: int = 7) -> float:
    fn()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _peak_cases(dtype) -> list[tuple[str, object, int]]:
    x = torch.randn(64, 64, 32, 32, dtype=dtype)
    w = torch.randn(64, 64, 3, 3, dtype=dtype)
    a, b = torch.randn(1024, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
    conv_flops = 2 * 64 * 64 * 64 * 9 * 32 * 32  # 2 x N x C_out x C_in x k^2 x H x W
    return [
        ("conv2d 3x3", lambda: torch.nn.functional.conv2d(x, w, padding=1), conv_flops),
        ("matmul 1024", lambda: a @ b, 2 * 1024**3),
    ]


def measure_peak() -> list[dict]:
    """This machine's GFLOP/s on a 3x3 convolution and a square matmul, fp32 and bf16."""
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for name, fn, flops in _peak_cases(dtype):
            with torch.inference_mode():
                seconds = _best_of(fn)
            rows.append(
                {
                    "kind": "peak",
                    "name": f"{name} {str(dtype)[6:]}",
                    "gflops_per_s": round(flops / seconds / 1e9, 1),
                }
            )
    return rows


def step_flops(model, batch) -> int:
    """FLOPs of one plain training step (forward and backward) on ``batch``."""
    optimizers = without_trainer(model)
    model.train()
    with FlopCounterMode(display=False) as counter:
        loss = model.training_step(batch, 0)
        if model.automatic_optimization:
            loss = loss["loss"] if isinstance(loss, dict) else loss
            loss.backward()
    for optimizer in optimizers:
        optimizer.zero_grad()
    return counter.get_total_flops()


def time_bf16(model, loader, warmup: int, steps: int) -> float:
    """`time_plain` under bf16 autocast."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return time_plain(model, loader, warmup, steps)


def time_suite(cfg, dm, warmup: int, steps: int, log_dir: Path) -> float:
    """Seconds per step of the runner's Trainer (steps after ``warmup``)."""
    model = make_model(cfg, dm, stage_cache=False)
    timer = StepTimer(warmup)
    logger = pl.loggers.CSVLogger(log_dir, name="logs", version="")
    trainer = make_trainer(
        cfg,
        log_dir,
        logger,
        dm.cond_kind,
        callbacks=[timer],
        limit_train_batches=warmup + steps,
        max_epochs=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(model, dm)
    return timer.seconds_per_step()  # batches, not optimiser steps (GANs take two a batch)


def measure_models(
    models: list[str], repeats: int, warmup: int, steps: int, tasks: list[str] | None = None
) -> list[dict]:
    """One row per (model, task): median suite and plain step times and their ratio.

    Each model on every task of ``tasks`` it can train on; None: its first of `SPEED_TASKS`.
    """
    rows = []
    for name in models:
        fits = [t for t in tasks or SPEED_TASKS if TASKS[t].cond_kind in MODELS[name].cond_kinds]
        rows += [
            _measure(name, task, repeats, warmup, steps) for task in (fits if tasks else fits[:1])
        ]
    return rows


def measure_inception(batch: int = 16, repeats: int = 3) -> list[dict]:
    """The FID Inception network's images/s: as loaded, channels-last, channels-last bf16.

    On real-sized inputs (64 px images resized to 299), ``feature_drift``: the relative L2
    change of the 2048-d features against the network as loaded (parity for fp32 layouts;
    what bf16 would cost FID).
    """
    net, reason = load_inception()
    if net is None:
        return [{"kind": "inception", "name": "unavailable", "note": reason}]
    images = inception_input(
        torch.rand(batch, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    )
    last = images.contiguous(memory_format=torch.channels_last)
    cases = {
        "as loaded (TorchScript, fp32)": (images, torch.float32),
        "channels_last fp32": (last, torch.float32),
        "channels_last bf16 autocast": (last, torch.bfloat16),
    }
    rows, base = [], None
    with torch.inference_mode():
        for name, (x, dtype) in cases.items():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype != torch.float32):
                seconds = _best_of(lambda x=x: net(x), repeats)
                features = net(x).float()
            base = features if base is None else base
            drift = float((features - base).norm() / base.norm())
            rows.append(
                {
                    "kind": "inception",
                    "name": name,
                    "batch_size": batch,
                    "images_per_second": round(batch / seconds, 2),
                    "feature_drift": drift,
                    "gflops_per_s": round(batch * INCEPTION_GFLOP / seconds, 1),
                }
            )
    return rows


def _measure(name: str, task: str, repeats: int, warmup: int, steps: int) -> dict:
    """`measure_models`' row of one model on one task."""
    cfg = run_config(task, name, 0, "quick")
    dm = TASKS[task].datamodule(data_dir=data_dir(), cache_dir=cache_dir(), **cfg["data"])
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
    fresh = partial(make_model, cfg, dm, stage_cache=False)
    flops = step_flops(fresh(), next(iter(dm.train_dataloader())))
    # few steps: some kernels (transposed convolutions) are far slower under bf16 here
    bf16 = time_bf16(fresh(), dm.train_dataloader(), 2, BF16_STEPS)
    row = {
        "kind": "train step",
        "name": name,
        "task": task,
        "batch_size": dm.batch_size,
        "suite_ms": round(1000 * s, 2),
        "plain_ms": round(1000 * p, 2),
        "ratio": round(s / p, 3),
        "images_per_second": round(dm.batch_size / s, 1),
        "gflop_per_step": round(flops / 1e9, 3),
        "gflops_per_s": round(flops / p / 1e9, 1),
        "bf16_ms": round(1000 * bf16, 2),
        "bf16_speedup": round(p / bf16, 3),
        "bf16_gflops_per_s": round(flops / bf16 / 1e9, 1),
        "repeats": repeats,
        "steps": steps,
    }
    print(
        f"{name:6s} on {task}: suite {1000 * s:.1f} ms/step, plain {1000 * p:.1f} "
        f"ms/step, ratio {s / p:.3f}",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> None:
    """Measure and write ``results/speed.csv``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--metric-pairs", type=int, default=2000)
    parser.add_argument(
        "--tasks", nargs="*", help="time each model on each of these tasks (default: its first)"
    )
    parser.add_argument("--out", type=Path, default=Path("results/speed.csv"))
    args = parser.parse_args(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    try:
        peak = measure_peak()
        rows = peak + measure_models(args.models, args.repeats, args.warmup, args.steps, args.tasks)
        rows += measure_inception()
        metric_rows = metric_speed.measure(args.metric_pairs, batch_size=250)
    except DataNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    for row in metric_rows:
        rows.append(
            {
                "kind": "metric",
                "name": row["metric"],
                "task": "celeba 64x64 pairs",
                "images_per_second": row.get("pairs_per_second"),
                "note": row.get("note"),
            }
        )
    table = pd.DataFrame(rows)
    conv_peak = next(r["gflops_per_s"] for r in peak if r["name"] == "conv2d 3x3 float32")
    steps = table["kind"] == "train step"
    bf16_peak = next(r["gflops_per_s"] for r in peak if r["name"] == "conv2d 3x3 bfloat16")
    table.loc[steps, "share_of_conv_peak"] = (table.loc[steps, "gflops_per_s"] / conv_peak).round(3)
    table.loc[steps, "bf16_share_of_conv_peak"] = (
        table.loc[steps, "bf16_gflops_per_s"] / bf16_peak
    ).round(3)
    inception = table["kind"] == "inception"
    peaks = table["name"].str.contains("bf16").map({True: bf16_peak, False: conv_peak})
    table.loc[inception, "share_of_conv_peak"] = (
        table.loc[inception, "gflops_per_s"] / peaks[inception]
    ).round(3)  # each against the peak of its own precision
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
