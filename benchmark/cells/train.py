"""Run one (task, model, seed): fit with Lightning, score with the shared loop, write the record.

A run's directory is ``results/runs/<task>/<model>/<profile>/seed<k>/`` with ``config.yaml``,
``metrics.json`` and ``samples.png``. Files are written atomically; a rerun with the same
config finds the record and skips the work. While a run trains, ``checkpoints/<config_sha>/
last.ckpt`` is saved every epoch; a run killed part-way resumes from it and draws the same
batches and noise as an uninterrupted run (every RNG is reseeded from (seed, epoch) at each
epoch start). The checkpoints are deleted once the record is written.
"""

import hashlib
import inspect
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml

from cgbench import config
from cgbench.cells.callbacks import (
    BUDGET_MAX_EPOCHS,
    DivergedError,
    DivergenceGuard,
    EpochSeed,
    FlopBudget,
    Milestones,
    ValidationSampleL1,
)
from cgbench.cells.loggers import finish_logger, make_logger
from cgbench.cells.pipeline import milestone_scores, prepare, score_cell
from cgbench.errors import build
from cgbench.models import MODELS
from cgbench.provenance import auto_precision, is_current, record_fields
from cgbench.records import atomic_write, read_run, run_path, write_run
from cgbench.tasks import TASKS


def stage_cache_file(model_cls, model_args: dict, dm, seed: int, cache_dir: Path) -> str | None:
    """Where a staged model's first stage is cached: a hash of everything that shapes it.

    The model names its own settings that matter (``stage_one_key``); the runner adds what it
    owns: the images (not the conditions, so another attribute set reuses stage 1), the split,
    the batch size and the seed. None for models without stages.
    """
    if not hasattr(model_cls, "stage_one_key"):
        return None
    key = model_cls.stage_one_key(model_args, dm.x_shape) | {
        "images": dm.image_checksum or dm.data_checksum,
        "split": dict(getattr(dm, "split_info", {})),
        "batch_size": dm.batch_size,
        "seed": seed,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return str(Path(cache_dir) / "stages" / f"{model_cls.__name__.lower()}-stage1-{digest}.pt")


def make_model(cfg: dict, dm, stage_cache: bool = True):
    """The run's model, built from ``cfg["model_args"]`` for ``dm``'s shapes.

    ``stage_cache`` passes the runner-owned stage-1 cache file (outside the config hash) to
    models that take one (LC's VAE).
    """
    model_cls = MODELS[cfg["model"]]
    extra = {}
    if stage_cache and "stage_cache" in inspect.signature(model_cls).parameters:
        extra["stage_cache"] = stage_cache_file(
            model_cls, cfg["model_args"], dm, cfg["seed"], config.cache_dir()
        )
    return build(
        model_cls,
        f"{cfg['task']}.yaml models.{cfg['model']}",
        x_shape=dm.x_shape,
        y_shape=dm.y_shape,
        **cfg["model_args"],
        **extra,
    )


def make_trainer(
    cfg: dict, run_dir: Path, logger, cond_kind: str, ckpt_dir: Path | None = None, **extra
) -> pl.Trainer:
    """The suite's Trainer for one run: the config's ``trainer`` block and the runner's callbacks.

    Args:
        cfg: A `run_config`.
        run_dir: The run's folder (``logs/`` goes under it).
        logger: A Lightning logger, or False.
        cond_kind: The task's condition kind (image tasks log ``val/sample_l1``).
        ckpt_dir: Where ``last.ckpt`` is saved every epoch; None saves nothing.
        **extra: Trainer arguments over the config's (``callbacks`` are added to the suite's).
    """
    budget = cfg.get("budget") or {}
    limit = budget.get("train_tflop")
    callbacks = [
        DivergenceGuard(),
        EpochSeed(cfg["seed"]),
        FlopBudget(limit and limit * 1e12, cfg["model"], "max_epochs" in budget),
        *extra.pop("callbacks", []),
    ]
    if cond_kind == "image":
        callbacks.append(ValidationSampleL1())
    if ckpt_dir is not None and cfg["trainer"].get("enable_checkpointing", True):
        # One file, overwritten at each epoch's end, never mid-epoch (EpochSeed resumes from
        # epoch boundaries). save_last with save_top_k=0 would write only at fit end.
        callbacks.append(
            pl.callbacks.ModelCheckpoint(
                ckpt_dir,
                filename="last",
                enable_version_counter=False,
                save_on_train_epoch_end=True,
            )
        )
    args = {"enable_progress_bar": sys.stdout.isatty()} | cfg["trainer"] | extra  # no bars in logs
    if limit and args.get("max_steps", -1) == -1:
        # The budget ends the run; the cap ends one whose FLOPs the meter under-counts: the
        # default where the epochs are unbounded (-1), budget.max_epochs wherever it is set.
        epochs = args.get("max_epochs")
        unbounded = epochs in (-1, None)
        if unbounded or "max_epochs" in budget:
            cap = budget_max_epochs(cfg)
            args["max_epochs"] = cap if unbounded else min(epochs, cap)
    if args.get("precision") == "auto":  # bf16 where this host runs it faster; in the record
        args["precision"] = auto_precision()
    return build(
        pl.Trainer,
        f"{cfg['task']}.yaml trainer",
        default_root_dir=run_dir / "logs",
        logger=logger,
        callbacks=callbacks,
        **args,
    )


def run_one(
    task_name: str,
    model_name: str,
    seed: int,
    profile: str = "quick",
    overrides: tuple[str, ...] = (),
    results_dir: Path = Path("results"),
    logger: str = "csv",
    force: bool = False,
    cfg: dict | None = None,
) -> dict:
    """Train and score one model on one task with one seed; return its ``metrics.json`` record.

    Args:
        task_name: Key of ``TASKS``.
        model_name: Key of ``MODELS``.
        seed: Training seed (evaluation sampling uses it too, through its own generator).
        profile: ``smoke``, ``quick``, ``standard`` or ``full``.
        overrides: ``key.path=value`` strings applied after the profile.
        results_dir: Root of ``runs/``.
        logger: ``csv``, ``wandb`` or ``none``.
        force: Rerun even when a record with the same config exists.
        cfg: The run's resolved config when the caller has it (`cgbench run` resolves every
            run's before starting); resolved here otherwise.
    """
    config.lookup(TASKS, task_name, "task")
    config.lookup(MODELS, model_name, "model")
    cfg = cfg or config.run_config(task_name, model_name, seed, profile, overrides)
    config_text, sha = yaml.safe_dump(cfg, sort_keys=True), config.config_sha(cfg)
    run_dir = run_path(results_dir, task_name, model_name, profile, seed)
    record = read_run(run_dir)
    if is_current(record, sha, force):
        return record | {"skipped": True}
    # before seeding: a cache hit (decoded data, the evaluator) must not change the run's RNG
    scoring = prepare(task_name, cfg, results_dir)
    dm = scoring.dm

    pl.seed_everything(seed, workers=True, verbose=False)
    # Under a FLOP budget a cached stage (LC's VAE) would be compute the meter never sees
    model = make_model(cfg, dm, stage_cache="budget" not in cfg)
    run_logger = make_logger(logger, run_dir, task_name, model_name, seed, cfg)
    ckpt_dir = run_dir / "checkpoints" / sha  # resume point, deleted once recorded
    for stale in (run_dir / "checkpoints").glob("*"):  # another config's: never resumed
        if stale != ckpt_dir:
            shutil.rmtree(stale, ignore_errors=True)
    planned = model.planned_epochs()  # a model with its own schedule (LC's two stages)

    def score_milestone(module, tflop: float) -> dict:
        save_weights(module, cfg, sha, milestone=tflop)  # `rescore` can score each milestone
        return milestone_scores(scoring, cfg, module)

    milestones = Milestones((cfg.get("budget") or {}).get("milestones") or (), score_milestone)
    trainer = make_trainer(
        cfg,
        run_dir,
        run_logger,
        dm.cond_kind,
        ckpt_dir,
        callbacks=[milestones] if milestones.pending else [],  # one process: ddp_spawn pickles
        **({"max_epochs": planned} if planned else {}),
    )
    base_record = record_fields(scoring.task, cfg, dm, scoring.info, sha, overrides)
    cost = {  # what every record of a trained run has, diverged or not
        "precision": str(trainer.precision),  # "32-true", or "bf16-mixed" where chosen
        "n_params": sum(p.numel() for p in model.parameters()),
        "model_class": f"{type(model).__module__}:{type(model).__qualname__}",
    }
    if milestones.pending:  # filled in place as the fit passes them
        cost["milestones"] = milestones.scored
    last = ckpt_dir / "last.ckpt"
    resume = str(last) if trainer.checkpoint_callback and last.exists() else None
    print(f"  training {run_dir} (process {os.getpid()})", flush=True)  # which one, in parallel
    if resume:
        print(f"  resuming from {resume}", flush=True)
    start = time.perf_counter()
    try:
        trainer.fit(model, dm, ckpt_path=resume)
    except DivergedError as err:
        record = (
            base_record
            | cost
            | {
                "status": "diverged",
                "diverged_at_step": err.step,
                "reason": str(err),
                "scores": {},
                "higher_is_better": {},
                "train_seconds": time.perf_counter() - start,
            }
        )
        write_run(run_dir, config_text, record)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        if logger == "wandb":
            run_logger.experiment.finish()
        return record
    train_seconds = time.perf_counter() - start
    if not trainer.is_global_zero:  # one process per rank (torchrun, SLURM): rank 0 scores
        return base_record | cost | {"rank": trainer.global_rank, "scores": {}, "status": "ok"}

    save_weights(model, cfg, sha)
    fields = (
        cost
        | {
            "status": "ok",
            "weights_sha": sha,  # the kept weights' key (`rescore` may move config_sha on)
            "epochs": trainer.current_epoch,
            "global_steps": trainer.global_step,
            "train_seconds": train_seconds,  # unrounded: tables round
        }
        | flop_fields(trainer, cfg)
        | model.run_info()
    )
    record = score_cell(scoring, cfg, model, run_dir, fields, base=base_record)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    finish_logger(run_logger, logger, record, run_dir)
    return record


def budget_max_epochs(cfg: dict) -> int:
    """The epoch cap of a budgeted run: ``budget.max_epochs``, else `BUDGET_MAX_EPOCHS`."""
    return int((cfg.get("budget") or {}).get("max_epochs") or BUDGET_MAX_EPOCHS)


def flop_fields(trainer: pl.Trainer, cfg: dict) -> dict:
    """The meter's fields (`FlopBudget.record_fields`), the budget and what stopped the fit.

    ``stopped_by``: ``budget`` (spent), ``max_epochs`` (the cap came first: the leaderboard
    marks the run off budget), ``fast_dev_run`` (smoke) or ``schedule`` (the model's own plan,
    e.g. LC's stages).
    """
    meter = next(c for c in trainer.callbacks if isinstance(c, FlopBudget))
    fields = meter.record_fields()
    if (cfg.get("budget") or {}).get("train_tflop"):
        fields["budget_tflop"] = cfg["budget"]["train_tflop"]
        fields["budget_max_epochs"] = budget_max_epochs(cfg)
        fields["stopped_by"] = (
            "budget"
            if meter.spent >= meter.limit
            else "fast_dev_run"
            if trainer.fast_dev_run  # the smoke profile: one batch
            else "max_epochs"
            if trainer.current_epoch >= (trainer.max_epochs or 0) > 0
            else "schedule"
        )
    return fields


def weights_path(cfg: dict, sha: str, milestone: float | None = None) -> Path:
    """Where a run's final weights (or a milestone's) are kept, outside git, by config hash."""
    at = "" if milestone is None else f"-at{milestone:g}tflop"
    name = f"{cfg['task']}-{cfg['model']}-{cfg['profile']}-seed{cfg['seed']}-{sha}{at}.pt"
    return config.cache_dir() / "weights" / name


def save_weights(model, cfg: dict, sha: str, milestone: float | None = None) -> None:
    """Keep the trained weights so `cgbench rescore` can score them with later metrics."""
    import io

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write(weights_path(cfg, sha, milestone), buffer.getvalue())
