"""Time to quality: a task's ranking metric against training seconds and FLOPs, per model.

``python -m cgbench.studies.time_to_quality --task mnist [--models ...] [--points 10 20 40 80]
[--set models.cvae.lr=3e-3 --label lr3e-3]`` trains each model once under a profile's config
(``standard`` by default, ``--set`` overrides on top) and, whenever its
training clock passes a point, pauses the clock and scores the primary metric on a fixed
sample of validation rows (`scoring.evaluate.eval_rows`, ``--eval-rows``), then stops after
the last point. Schedules and batch sizes are chosen from these curves, so they score
validation rows (``split: val`` in the file), never test rows (protocol v3). Rows go to
``results/time_to_quality/<task>.csv``: training seconds (scoring excluded),
optimiser batches, images seen, training FLOPs (torch's FLOP counter over one step, times the
batches) and the value, one curve per (model, label); a rerun replaces only its own curves, so
settings tried one after another collect in one file. The report draws them. Schedules of the
profiles are set from these curves (the training-speed issue), so run it on a quiet machine.
"""

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Subset

from cgbench.cells.pipeline import as_scored, load_evaluator, make_datamodule
from cgbench.cells.train import make_model, make_trainer
from cgbench.config import (
    EVAL_DEFAULTS,
    PROFILES,
    ConfigError,
    UnknownNameError,
    lookup,
    lpips_backbone,
    run_config,
)
from cgbench.datamodules import DataNotFoundError
from cgbench.metrics import METRICS, load_lpips
from cgbench.models import MODELS
from cgbench.provenance import device_name
from cgbench.records import atomic_write
from cgbench.scoring.evaluate import build_metrics, eval_rows, evaluate
from cgbench.studies.speed import step_flops
from cgbench.tasks import TASKS


class QualityClock(pl.Callback):
    """Score ``score()`` each time the training clock (scoring excluded) passes a point.

    ``reached(value)`` true stops training early (the curve has hit its target).
    """

    def __init__(self, points: list[float], score, reached=lambda value: False):
        self.points, self.score, self.rows = sorted(points), score, []
        self.reached = reached
        self.train_seconds, self.batches, self._last = 0.0, 0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._last = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_seconds += time.perf_counter() - self._last
        self.batches += 1
        if self.points and self.train_seconds >= self.points[0]:
            self.points.pop(0)
            value = self.score(pl_module)
            pl_module.train()
            self.rows.append(
                {
                    "train_seconds": self.train_seconds,  # unrounded: tables round
                    "batches": self.batches,
                    "value": value,
                }
            )
            print(f"  {self.train_seconds:7.1f} s, {self.batches} batches: {value:.4f}", flush=True)
            trainer.should_stop = not self.points or self.reached(value)


def curve(
    task_name: str,
    model_name: str,
    points,
    profile: str,
    eval_rows_n: int,
    seed: int = 0,
    overrides=(),
    stop_at: float | None = None,
):
    """Rows of one model's curve (see the module docstring); ``stop_at`` ends it at that value."""
    cfg = run_config(task_name, model_name, seed, profile, tuple(overrides))
    cfg["trainer"] = cfg["trainer"] | {"max_epochs": 10_000}  # the clock stops it
    cfg["eval"] = cfg["eval"] | {"split": "val"}  # choices are made here: never on test rows
    task, dm = make_datamodule(task_name, cfg)  # its test_set is now the validation split
    classifier, _ = load_evaluator(task, dm, cfg)
    net, info = load_lpips(lpips_backbone()) if "lpips" in task.primary else (None, {})
    names = getattr(dm, "attributes", None)
    context = {
        "image_size": dm.x_shape[1],
        "classifier": classifier,
        "net": net,
        "info": info,
        "cond_kind": dm.cond_kind,
        "attribute_names": names,
    }
    metrics = build_metrics([task.primary], context, {})
    rows = eval_rows(len(dm.test_set), eval_rows_n)
    loader = DataLoader(Subset(dm.test_set, rows), batch_size=dm.eval_batch_size)
    k = (EVAL_DEFAULTS | cfg["eval"])["k_samples"]

    def score(model) -> float:
        scored = as_scored(model, task)  # colorization: on the input's lightness
        return evaluate(scored, loader, metrics, k, seed, composite=task.paste_back)[0][
            task.primary
        ]

    pl.seed_everything(seed, verbose=False)
    model = make_model(cfg, dm, stage_cache=False)
    flops = step_flops(make_model(cfg, dm, stage_cache=False), next(iter(dm.train_dataloader())))
    better = METRICS[task.primary].higher_is_better

    def reached(value: float) -> bool:
        return stop_at is not None and (value >= stop_at if better else value <= stop_at)

    clock = QualityClock(list(points), score, reached)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = make_trainer(
            cfg,
            Path(run_dir),
            False,
            dm.cond_kind,
            callbacks=[clock],
            enable_checkpointing=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
        )
        trainer.fit(model, dm)
    return [
        row
        | {
            "task": task_name,
            "model": model_name,
            "metric": task.primary,
            "profile": profile,
            "seed": seed,
            "split": "val",
            "batch_size": dm.batch_size,
            "images_seen": row["batches"] * dm.batch_size,
            "train_flops": row["batches"] * flops,
        }
        for row in clock.rows
    ]


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Measure every model's curve on one task; write ``results/time_to_quality/<task>.csv``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="mnist")
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--points", nargs="*", type=float, default=[5, 10, 20, 40, 80, 160])
    parser.add_argument("--profile", default="standard", choices=PROFILES)
    parser.add_argument("--eval-rows", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--label", default="", help="names the --set variant in the file")
    parser.add_argument("--stop-at", type=float, default=None, help="end a curve at this value")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from cgbench.workflows.matrix import pairs as matrix

    try:  # a bad task, --set or model argument: one line, not a traceback
        models = args.models or [
            m for _, m in matrix([lookup(TASKS, args.task, "task")], list(MODELS))
        ]
        for name in models:  # every config before any training
            run_config(args.task, name, args.seed, args.profile, tuple(args.set))
        rows = []
        for name in models:
            print(f"{args.task} x {name}", flush=True)
            rows += curve(
                args.task,
                name,
                args.points,
                args.profile,
                args.eval_rows,
                args.seed,
                args.set,
                args.stop_at,
            )
    except (ConfigError, UnknownNameError, DataNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    table = pd.DataFrame(rows)
    table["label"], table["overrides"] = args.label, " ".join(args.set)
    table["device"], table["threads"] = device_name(), torch.get_num_threads()
    table["created"] = dt.date.today().isoformat()
    out = args.out or Path("results/time_to_quality") / f"{args.task}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # keep the other curves; this run's (model, label) pairs are replaced
        old = pd.read_csv(out, keep_default_na=False)
        old["label"] = old.get("label", "")
        ours = set(zip(table["model"], table["label"], strict=True))
        keep = [(m, lab) not in ours for m, lab in zip(old["model"], old["label"], strict=True)]
        table = pd.concat([old[keep], table], ignore_index=True)
    atomic_write(out, table.to_csv(index=False))
    return table


if __name__ == "__main__":
    main()
