"""Run one (task, model, seed): fit with Lightning, score with the shared loop, write the record.

A run's directory is ``results/runs/<task>/<model>/<profile>/seed<k>/`` with ``config.yaml``,
``metrics.json`` and ``samples.png``. Files are written atomically; a rerun with the same
config finds the record and skips the work. While a run trains, ``checkpoints/<config_sha>/
last.ckpt`` is saved every epoch; a run killed part-way resumes from it and draws the same
batches and noise as an uninterrupted run (every RNG is reseeded from (seed, epoch) at each
epoch start). The checkpoints are deleted once the record is written.
"""

import dataclasses
import datetime as dt
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
import yaml
from torchvision.utils import save_image

from benchmark import config as C
from benchmark.callbacks import DivergedError, DivergenceGuard, EpochSeed, ValidationSampleL1
from benchmark.evaluate import sample_grid, score_model
from benchmark.evaluators import load_or_train, write_table
from benchmark.leaderboard import read_record
from benchmark.tasks import TASKS
from metrics import load_lpips
from models import MODELS


def matrix(tasks: list[str], models: list[str]) -> list[tuple[str, str]]:
    """Every (task, model) pair whose condition kinds match, in the given order."""
    return [
        (t, m)
        for t in tasks
        for m in models
        if C.lookup(TASKS, t, "task").cond_kind in C.lookup(MODELS, m, "model").cond_kinds
    ]


def run_path(results_dir: Path, task: str, model: str, profile: str, seed: int) -> Path:
    """A run's folder: ``<results_dir>/runs/<task>/<model>/<profile>/seed<k>``.

    The profile is part of the path, so a quick run never replaces a standard or full record.
    """
    return Path(results_dir) / "runs" / task / model / profile / f"seed{seed}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_log(run_dir: Path) -> pd.DataFrame | None:
    """The run's CSV log (``logs/metrics.csv``), or None when it has none."""
    log = run_dir / "logs" / "metrics.csv"
    return pd.read_csv(log) if log.exists() else None


def training_curves(frame: pd.DataFrame | None) -> str | None:
    """Per-epoch means of the ``train/*`` values in a CSV log, as CSV text (None: none)."""
    columns = [c for c in frame.columns if c.startswith("train/")] if frame is not None else []
    if not columns:
        return None
    return frame.groupby("epoch")[columns].mean().to_csv(float_format="%.6g")


def validation_curves(frame: pd.DataFrame | None) -> str | None:
    """``val/sample_l1`` against the batches trained, from a CSV log (None: not logged)."""
    if frame is None or "val/sample_l1" not in frame:
        return None
    rows = frame.dropna(subset=["val/sample_l1"]).rename(columns={"val/train_batches": "batches"})
    return (
        rows[["batches", "epoch", "val/sample_l1"]]
        .astype({"batches": int})
        .to_csv(index=False, float_format="%.6g")
    )


def write_run(run_dir: Path, config_text: str, record: dict, grids=None) -> None:
    """Write a run's files atomically; ``metrics.json`` goes last, marking the run complete.

    ``grids`` maps a file stem (``samples``, ``samples_prior``) to an image tensor.
    """
    atomic_write(run_dir / "config.yaml", config_text.encode())
    log = read_log(run_dir)  # read once for both curve files
    curves = training_curves(log)
    if curves:  # small and committed, for the report's training curves
        atomic_write(run_dir / "curves.csv", curves.encode())
    convergence = validation_curves(log)
    if convergence:  # the report's convergence plot of an image task
        atomic_write(run_dir / "val_curves.csv", convergence.encode())
    for stem, grid in (grids or {}).items():
        png = run_dir / f"{stem}.png.tmp"
        save_image(grid, png, format="png")
        os.replace(png, run_dir / f"{stem}.png")
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    atomic_write(run_dir / "metrics.json", text.encode())


def git_sha() -> str:
    """Commit of the code that produced a result, ``+dirty`` when the tree has changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def device_name() -> str:
    """The accelerator a run trained on, named for its record."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def make_logger(kind: str, run_dir: Path, task: str, model: str, seed: int, cfg: dict):
    """Lightning logger of a run: ``csv``, ``wandb`` (offline unless WANDB_MODE says) or none."""
    if kind == "none":
        return False
    if kind == "csv":
        return pl.loggers.CSVLogger(run_dir, name="logs", version="")
    if kind == "wandb":
        logger = pl.loggers.WandbLogger(
            project="cgbench",
            group=task,
            name=f"{task}-{model}-s{seed}",
            tags=[task, model, f"seed{seed}"],
            save_dir=str(run_dir),
            mode=os.environ.get("WANDB_MODE", "offline"),
        )
        logger.log_hyperparams(cfg)
        return logger
    raise C.ConfigError(f"unknown logger {kind!r}; choose csv, wandb or none")


def log_leaderboard_to_wandb(table, results_dir: Path) -> None:
    """Log the leaderboard as a ``wandb.Table`` in a run of its own (group ``leaderboard``)."""
    import wandb

    mode = os.environ.get("WANDB_MODE", "offline")
    run = wandb.init(project="cgbench", group="leaderboard", job_type="leaderboard",
                     dir=str(results_dir), mode=mode)  # fmt: skip
    run.log({"leaderboard": wandb.Table(dataframe=table.astype(str))})
    run.finish()


def build(factory, where: str, **kwargs):
    """Call ``factory(**kwargs)``; a refused key or value becomes a `ConfigError` naming where."""
    try:
        return factory(**kwargs)
    except TypeError as err:
        if "argument" not in str(err):
            raise
        raise C.ConfigError(
            f"{where}: {err}. Fix the key in the YAML or the --set override."
        ) from err
    except ValueError as err:  # a value the class refuses (an unknown attribute, a mask too big)
        raise C.ConfigError(f"{where}: {err}") from err


def evaluator_summary(info: dict) -> dict:
    """The evaluator fields of a run record: checksum, held-out accuracy overall and per column."""
    summary = {k: info.get(k) for k in ("sha256", "test_acc", "epochs", "train_seconds")}
    columns = info.get("columns") or []
    summary["per_column"] = dict(zip(columns, info.get("test_acc_per_column", []), strict=False))
    return summary


def make_model(cfg: dict, dm, stage_cache: bool = True):
    """The run's model, built from ``cfg["model_args"]`` for ``dm``'s shapes.

    ``stage_cache`` passes the runner-owned stage cache folder (outside the config hash) to
    models that take one (LC's stage-1 VAE).
    """
    model_cls = MODELS[cfg["model"]]
    extra = {}
    if stage_cache and "stage_cache_dir" in inspect.signature(model_cls).parameters:
        extra["stage_cache_dir"] = str(C.cache_dir() / "stages")
    return build(model_cls, f"{cfg['task']}.yaml models.{cfg['model']}", x_shape=dm.x_shape,
                 y_shape=dm.y_shape, **cfg["model_args"], **extra)  # fmt: skip


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
    callbacks = [DivergenceGuard(), EpochSeed(cfg["seed"]), *extra.pop("callbacks", [])]
    if cond_kind == "image":
        callbacks.append(ValidationSampleL1())
    if ckpt_dir is not None and cfg["trainer"].get("enable_checkpointing", True):
        # One file, overwritten at each epoch's end, never mid-epoch (EpochSeed resumes from
        # epoch boundaries). save_last with save_top_k=0 would write only at fit end.
        callbacks.append(pl.callbacks.ModelCheckpoint(
            ckpt_dir, filename="last", enable_version_counter=False, save_on_train_epoch_end=True
        ))  # fmt: skip
    args = {"enable_progress_bar": sys.stdout.isatty()} | cfg["trainer"] | extra  # no bars in logs
    if args.get("precision") == "auto":  # bf16 where the GPU has it; the record names the device
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        args["precision"] = "bf16-mixed" if bf16 else "32-true"
    return build(pl.Trainer, f"{cfg['task']}.yaml trainer", default_root_dir=run_dir / "logs",
                 logger=logger, callbacks=callbacks, **args)  # fmt: skip


def run_one(
    task_name: str,
    model_name: str,
    seed: int,
    profile: str = "quick",
    overrides: tuple[str, ...] = (),
    results_dir: Path = Path("results"),
    logger: str = "csv",
    force: bool = False,
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
    """
    task = C.lookup(TASKS, task_name, "task")
    C.lookup(MODELS, model_name, "model")
    cfg = C.run_config(task_name, model_name, seed, profile, overrides)
    config_text, sha = yaml.safe_dump(cfg, sort_keys=True), C.config_sha(cfg)
    run_dir = run_path(results_dir, task_name, model_name, profile, seed)
    record = read_record(run_dir / "metrics.json")
    if record and record.get("config_sha") == sha and not force:
        return record | {"skipped": True}
    if cfg["eval"].get("metrics"):  # a subset of the task's metrics, e.g. to skip LPIPS
        task = dataclasses.replace(task, metrics=tuple(cfg["eval"]["metrics"]))

    dm = build(task.datamodule, f"{task_name}.yaml data", data_dir=C.data_dir(),
               cache_dir=C.cache_dir(), **cfg["data"])  # fmt: skip
    if dm.cond_kind != task.cond_kind:
        raise C.ConfigError(
            f"task {task_name}: datamodule gives {dm.cond_kind}, not {task.cond_kind}"
        )
    dm.setup("fit")
    classifier, classifier_info = None, None
    if "attr_acc" in task.metrics:  # before seeding: a cache hit must not change the run's RNG
        classifier, classifier_info = load_or_train(task_name, dm, cfg["evaluator"], C.cache_dir())
        if not task.synthetic:
            write_table(classifier_info, Path(results_dir) / "evaluators" / f"{task_name}.csv")

    pl.seed_everything(seed, workers=True, verbose=False)
    model = make_model(cfg, dm)
    run_logger = make_logger(logger, run_dir, task_name, model_name, seed, cfg)
    ckpt_dir = run_dir / "checkpoints" / sha  # resume point, deleted once recorded
    for stale in (run_dir / "checkpoints").glob("*"):  # another config's: never resumed
        if stale != ckpt_dir:
            shutil.rmtree(stale, ignore_errors=True)
    trainer = make_trainer(cfg, run_dir, run_logger, dm.cond_kind, ckpt_dir)
    base_record = {
        "task": task_name,
        "task_version": task.version,
        "model": model_name,
        "seed": seed,
        "profile": profile,
        "data": getattr(dm, "split_info", {}),
        "evaluator": classifier_info and evaluator_summary(classifier_info),
        "n_params": sum(p.numel() for p in model.parameters()),
        "data_checksum": dm.data_checksum,
        "git_sha": git_sha(),
        "config_sha": sha,
        "overrides": list(overrides),
        "torch": torch.__version__,
        "device": device_name(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    last = ckpt_dir / "last.ckpt"
    resume = str(last) if trainer.checkpoint_callback and last.exists() else None
    if resume:
        print(f"  resuming from {resume}", flush=True)
    start = time.perf_counter()
    try:
        trainer.fit(model, dm, ckpt_path=resume)
    except DivergedError as err:
        record = base_record | {
            "status": "diverged",
            "diverged_at_step": err.step,
            "reason": str(err),
            "scores": {},
            "higher_is_better": {},
            "train_seconds": round(time.perf_counter() - start, 1),
        }
        write_run(run_dir, config_text, record)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        if logger == "wandb":
            run_logger.experiment.finish()
        return record
    train_seconds = time.perf_counter() - start
    if not trainer.is_global_zero:  # one process per rank (torchrun, SLURM): rank 0 scores
        return base_record | {"rank": trainer.global_rank, "scores": {}, "status": "ok"}

    lpips_net, lpips_info = None, {}
    if any("lpips" in n for n in task.metrics + task.edit_metrics):
        lpips_net, lpips_info = load_lpips(C.lpips_backbone())
    context = {"image_size": dm.x_shape[1], "classifier": classifier, "cond_kind": dm.cond_kind,
               "attribute_names": getattr(dm, "attributes", None), "net": lpips_net,
               "info": lpips_info}  # fmt: skip
    eval_cfg = {"k_samples": 5, "max_batches": None} | cfg["eval"]
    result = score_model(model, dm, task, context, seed=seed, **eval_cfg)
    first_batch = next(iter(dm.test_dataloader()))
    grids = {"samples": sample_grid(model, *first_batch, seed=seed)}
    for variant in model.variants:  # the same conditions and noise, e.g. LC without its actor
        model.variant = variant
        grids[f"samples_{variant}"] = sample_grid(model, *first_batch, seed=seed)
        model.variant = None

    record = (
        base_record
        | result
        | {
            "status": "ok",
            "epochs": trainer.current_epoch,
            "global_steps": trainer.global_step,
            "train_seconds": round(train_seconds, 1),
        }
        | model.run_info()
    )
    write_run(run_dir, config_text, record, grids)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    # The logger itself, not trainer.logger: fast_dev_run swaps that for a dummy.
    if run_logger:
        run_logger.log_metrics({f"test/{k}": v for k, v in result["scores"].items()})
        run_logger.save()
    if logger == "wandb":  # sample grids as images; one wandb run per benchmark run
        run_logger.log_image("samples", list(grids.values()), caption=list(grids))
        run_logger.experiment.finish()
    return record
