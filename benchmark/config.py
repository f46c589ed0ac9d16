"""Configuration: environment paths and per-task YAML merged with a profile and overrides.

This is the one place the suite reads its environment variables:

- ``DATA_DIR`` (default ``./data``): the datasets, e.g. ``$DATA_DIR/mnist/*.gz``.
- ``CGBENCH_CACHE`` (default ``./.cache/cgbench``): decoded data and evaluator classifiers.
- ``CGBENCH_LPIPS_BACKBONE``: a local AlexNet ``features`` state dict for LPIPS (offline use).

`run_config` resolves one run's config (task YAML, profile, ``--set`` overrides, the model's
constructor defaults), refuses unknown keys, and `config_sha` names it.
"""

import contextlib
import hashlib
import inspect
import os
from pathlib import Path
from typing import Any

import yaml

from cgbench.datamodules import DataNotFoundError
from cgbench.datamodules.base import ConditionalDataModule
from cgbench.errors import ConfigError, UnknownNameError, lookup  # noqa: F401 (re-exported)
from cgbench.models import MODELS
from cgbench.records import PROFILES
from cgbench.tasks import TASKS

CONFIG_DIR = Path(__file__).parent / "configs"
TASK_FILES: dict[str, Path] = {}  # task YAMLs outside CONFIG_DIR, added by cgbench.plugins


def data_dir() -> Path:
    """Root folder of the datasets (``DATA_DIR``)."""
    return Path(os.environ.get("DATA_DIR", "data"))


def check_data_dir() -> None:
    """Stop when ``DATA_DIR`` exists but is not a readable folder.

    A missing ``DATA_DIR`` is left to each dataset, which downloads or names the files it needs.
    """
    path = data_dir()
    if path.exists() and not (path.is_dir() and os.access(path, os.R_OK | os.X_OK)):
        raise DataNotFoundError(
            f"DATA_DIR={path} is not a readable folder. Fix: point DATA_DIR at the folder holding "
            "mnist/ and celeba/ (e.g. DATA_DIR=/path/to/data) and check its permissions"
        )


def cache_dir() -> Path:
    """Folder for derived files: decoded datasets and evaluator classifiers."""
    return Path(os.environ.get("CGBENCH_CACHE", ".cache/cgbench"))


def lpips_backbone() -> str | None:
    """Path of a local LPIPS AlexNet backbone file, or None to use the torch hub cache."""
    return os.environ.get("CGBENCH_LPIPS_BACKBONE") or None


def merge(base: dict, overlay: dict) -> dict:
    """Recursively merge ``overlay`` into a copy of ``base``; overlay values win."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    """Turn ``"models.cvae.lr=1e-3"`` into ``{"models": {"cvae": {"lr": 0.001}}}``."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    path, raw = text.split("=", 1)
    value: Any = yaml.safe_load(raw)
    if isinstance(value, str):  # PyYAML reads "1e-3" (no dot) as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


def _read_yaml(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f) or {}


def _task_yaml(task: str) -> dict:
    """A task's YAML, merged over its ``base`` task's when it names one."""
    path = TASK_FILES.get(task) or CONFIG_DIR / f"{task}.yaml"
    if not path.exists():
        raise ConfigError(f"no config for task {task!r}: expected {path}")
    cfg = _read_yaml(path)
    base = cfg.pop("base", None)
    return merge(_task_yaml(base), cfg) if base else cfg


def load_config(task: str, profile: str = "quick", overrides: tuple[str, ...] = ()) -> dict:
    """Resolve a task's config: ``configs/<task>.yaml``, then the profile, then overrides.

    The task file holds ``trainer``, ``data``, ``eval``, ``evaluator`` and ``models`` blocks and
    may hold ``profiles: {<profile>: overlay}``; ``base: <task>`` makes it an overlay of that
    task's file. ``configs/<profile>.yaml``, when present, is a profile overlay shared by every
    task, applied before the task's own.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    cfg = _task_yaml(task)
    task_profiles = cfg.pop("profiles", {}) or {}
    shared = CONFIG_DIR / f"{profile}.yaml"
    if shared.exists():
        cfg = merge(cfg, _read_yaml(shared))
    cfg = merge(cfg, task_profiles.get(profile, {}))
    for text in overrides:
        cfg = merge(cfg, parse_override(text))
    return cfg


def config_keys() -> dict[str, set | None]:
    """The valid blocks and, where the suite checks them, their keys (None: the callee checks).

    Read at call time, so a model added by a plugin (`cgbench.plugins`) is a valid
    ``models.<key>`` block.
    """
    return {
        "trainer": None,  # any pl.Trainer argument; the Trainer refuses unknown ones
        "data": None,  # the DataModule's arguments; it refuses unknown ones
        "eval": {"k_samples", "max_batches", "metrics", "inception", "batch_size", "split", "cas"},
        "evaluator": {"epochs", "lr", "batch_size", "flip", "width"},
        # training compute per run, the same for every model; max_epochs: the cap under it
        # milestones: TFLOP under train_tflop where the run is also scored (anytime scoring)
        "budget": {"train_tflop", "max_epochs", "milestones"},
        "models": set(MODELS),
        "tuning": None,  # read by `cgbench tune` (cgbench.workflows.tuning), never by a run
        "published": {"profile", "seeds"},  # what `cgbench run --profile published` runs
        "cluster": None,  # submitit job settings (workflows.cluster); submitit checks the keys
    }


PUBLISHED_DEFAULT = {"profile": "quick", "seeds": [0]}


def published(task: str) -> dict:
    """The profile and seeds of a task's published table (``published:`` in its YAML).

    The trusted profile is the one whose curves converge within the machine's budget (CelebA:
    ``standard``; MNIST and the image tasks: ``quick`` on 2 CPU cores). It never enters a run's
    config, so naming it changes no record's hash. ``profile: null`` keeps a task out of the
    published matrix until its records exist.
    """
    block = PUBLISHED_DEFAULT | (_task_yaml(task).get("published") or {})
    if block["profile"] not in (*PROFILES, None):  # None: not published yet
        raise ConfigError(
            f"{task}.yaml: published.profile={block['profile']!r}; choose one of "
            f"{', '.join(PROFILES)}"
        )
    return block


def check_config(cfg: dict, task: str, where: str) -> None:
    """Refuse keys the suite would ignore and values it cannot score, before any work.

    Raises:
        ConfigError: naming the key and the valid choices.
    """
    keys = config_keys()
    for block, value in cfg.items():
        if block not in keys:
            raise ConfigError(
                f"{where}: unknown config block {block!r}; valid blocks: {', '.join(keys)}"
            )
        unknown = sorted(set(value or {}) - keys[block]) if keys[block] else []
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {block}.{unknown[0]}; valid keys: "
                f"{', '.join(sorted(keys[block]))}"
            )
    spec = TASKS[task]
    for name in (cfg.get("eval") or {}).get("metrics") or []:
        if name not in spec.metrics:
            raise ConfigError(
                f"{where}: unknown metric {name!r} in eval.metrics; task {task} scores: "
                f"{', '.join(spec.metrics)}"
            )
    k = (cfg.get("eval") or {}).get("k_samples", 5)
    scored = (cfg.get("eval") or {}).get("metrics") or spec.metrics
    pairs = [m for m in scored if m in ("pairwise_ms_ssim", "pairwise_lpips")]
    if pairs and (not isinstance(k, int) or k < 2):
        raise ConfigError(
            f"{where}: eval.k_samples={k!r}, but {', '.join(pairs)} compare samples of one "
            "condition, which needs at least 2; set eval.k_samples >= 2"
        )


DEFAULT_BATCH_SIZE = inspect.signature(ConditionalDataModule).parameters["batch_size"].default
RUNNER_OWNED = {"stage_cache"}  # passed by the runner, not hyperparameters


def model_defaults(model: str) -> dict:
    """A model's constructor defaults, so hyperparameters the YAML leaves unset enter the config.

    They enter the run's hash too: changing a default in code reruns the runs it shaped.
    """
    params = inspect.signature(lookup(MODELS, model, "model")).parameters.items()
    return {
        k: list(p.default) if isinstance(p.default, tuple) else p.default
        for k, p in params
        if p.default is not inspect.Parameter.empty and k not in RUNNER_OWNED
    }


EVAL_DEFAULTS = {"k_samples": 5, "max_batches": None}  # what an unset eval key means
# The config entries that decide a trained model; the others (eval, evaluator) only its scoring.
TRAINING_KEYS = ("task", "model", "seed", "profile", "trainer", "data", "model_args", "budget")


def checked_config(task: str, profile: str, overrides=()) -> dict:
    """`load_config` refused early by `check_config` when a key or value cannot be used."""
    cfg = load_config(task, profile, tuple(overrides))
    check_config(cfg, task, f"{task}.yaml ({profile}{' + --set' if overrides else ''})")
    return cfg


def run_config(task: str, model: str, seed: int, profile: str, overrides=()) -> dict:
    """The resolved config of one run, exactly as written to its ``config.yaml``.

    A model block may carry its own ``trainer`` and ``data`` overlays (e.g. fewer epochs or a
    smaller batch for one model, set from its time-to-quality curve); they are merged into the
    task's blocks. A ``budget`` block (``train_tflop``) is the task's, never a model's: every
    model of the task trains until it has spent it (`cgbench.cells.callbacks.FlopBudget`).
    """
    cfg = checked_config(task, profile, overrides)
    model_args = model_defaults(model) | dict((cfg.get("models") or {}).get(model) or {})
    cfg["evaluator"] = evaluator_block(task, cfg)
    trainer = merge(cfg.get("trainer") or {}, model_args.pop("trainer", None) or {})
    task_data, own_data = cfg.get("data") or {}, model_args.pop("data", None) or {}
    data, evaluation = merge(task_data, own_data), dict(cfg.get("eval") or {})
    if "batch_size" in own_data:  # a model's own batch must not change the rows it is scored on
        evaluation.setdefault("batch_size", task_data.get("batch_size", DEFAULT_BATCH_SIZE))
    resolved = {
        "task": task,
        "model": model,
        "seed": seed,
        "profile": profile,
        "trainer": trainer,
        "data": data,
        "eval": evaluation,
        "evaluator": cfg.get("evaluator") or {},
        "model_args": model_args,
    }
    budget = {k: v for k, v in (cfg.get("budget") or {}).items() if v is not None}
    if budget.get("train_tflop"):  # only where set, so configs without one keep their hash
        resolved["budget"] = budget
        marks = budget.get("milestones") or []
        if any(not 0 < m < budget["train_tflop"] for m in marks) or marks != sorted(set(marks)):
            raise ConfigError(
                f"{task}.yaml ({profile}): budget.milestones={marks} must rise strictly and lie "
                f"between 0 and budget.train_tflop={budget['train_tflop']} (the budget itself "
                "is the final score)"
            )
    elif trainer.get("max_epochs") == -1 and trainer.get("max_steps", -1) == -1:
        raise ConfigError(
            f"{task}.yaml ({profile}): trainer.max_epochs=-1 trains until a budget is spent, "
            "but none is set; add budget.train_tflop or a finite trainer.max_epochs"
        )
    return resolved


def evaluator_block(task: str, cfg: dict) -> dict:
    """A run's ``evaluator`` entry: the frozen evaluator's checksum when the task has one.

    The YAML block is then only the recipe `cgbench evaluators --train` used, so profiles and
    ``--set`` cannot change the metric; a retrained evaluator changes every config hash.
    """
    from cgbench.evaluators import frozen_record  # evaluators imports this module

    frozen = frozen_record(task)
    return {"frozen_sha256": frozen["sha256"][:16]} if frozen else cfg.get("evaluator") or {}


def config_sha(cfg: dict) -> str:
    """The 12-hex-digit hash of a resolved config: a run's identity for skipping and resuming.

    ``trainer.precision: auto`` is left out: the host picks the precision
    (`cgbench.provenance.auto_precision`), the record names it, and the bf16 parity study
    showed it leaves the scores within the seeds' spread, so a profile that turns it on keeps
    its fp32 records current. An explicit precision is part of the identity.
    """
    trainer = cfg.get("trainer") or {}
    if trainer.get("precision") == "auto":
        cfg = cfg | {"trainer": {k: v for k, v in trainer.items() if k != "precision"}}
    return hashlib.sha256(yaml.safe_dump(cfg, sort_keys=True).encode()).hexdigest()[:12]
