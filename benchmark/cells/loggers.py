"""A run's logger, CSV, wandb or none, and the leaderboard's wandb table.

wandb runs offline unless ``WANDB_MODE`` says otherwise.
"""

import os
from pathlib import Path

import pytorch_lightning as pl

from cgbench.errors import ConfigError, require_extra


def make_logger(kind: str, run_dir: Path, task: str, model: str, seed: int, cfg: dict):
    """Lightning logger of a run: ``csv``, ``wandb`` (offline unless WANDB_MODE says) or none."""
    if kind == "none":
        return False
    if kind == "csv":
        return pl.loggers.CSVLogger(run_dir, name="logs", version="")
    if kind == "wandb":
        require_extra("wandb", "wandb", "LOGGER=wandb")
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
    raise ConfigError(f"unknown logger {kind!r}; choose csv, wandb or none")


def log_leaderboard_to_wandb(table, results_dir: Path) -> None:
    """Log the leaderboard as a ``wandb.Table`` in a run of its own (group ``leaderboard``)."""
    import wandb

    mode = os.environ.get("WANDB_MODE", "offline")
    run = wandb.init(
        project="cgbench",
        group="leaderboard",
        job_type="leaderboard",
        dir=str(results_dir),
        mode=mode,
    )
    run.log({"leaderboard": wandb.Table(dataframe=table.astype(str))})
    run.finish()


def finish_logger(run_logger, kind: str, record: dict, run_dir: Path) -> None:
    """Log the test scores (and, to wandb, the sample grids) and close the run's logger."""
    if not run_logger:
        return
    # The logger itself, not trainer.logger: fast_dev_run swaps that for a dummy.
    run_logger.log_metrics({f"test/{k}": v for k, v in record["scores"].items()})
    run_logger.save()
    if kind == "wandb":  # sample grids as images; one wandb run per benchmark run
        grids = sorted(run_dir.glob("samples*.png"))
        run_logger.log_image("samples", [str(g) for g in grids], caption=[g.stem for g in grids])
        run_logger.experiment.finish()
