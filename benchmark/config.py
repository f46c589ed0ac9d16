"""Configuration: environment paths and per-task YAML merged with a profile and overrides.

This is the one place the suite reads its environment variables:

- ``DATA_DIR`` (default ``./data``): the datasets, e.g. ``$DATA_DIR/mnist/*.gz``.
- ``CGBENCH_CACHE`` (default ``./.cache/cgbench``): decoded data and evaluator classifiers.
- ``CGBENCH_LPIPS_BACKBONE``: a local AlexNet ``features`` state dict for LPIPS (offline use).
"""

import contextlib
import os
from pathlib import Path
from typing import Any

import yaml

from datamodules import DataNotFoundError

CONFIG_DIR = Path(__file__).parent / "configs"
PROFILES = ("smoke", "quick", "standard", "full")


class ConfigError(ValueError):
    """A config, profile or override the suite cannot use; the message names the fix."""


class UnknownNameError(KeyError):
    """A task, model or metric key that is not in its registry."""

    def __str__(self) -> str:
        return str(self.args[0])


def lookup(registry: dict, key: str, what: str):
    """``registry[key]`` or an error listing the valid keys."""
    if key not in registry:
        raise UnknownNameError(f"unknown {what} {key!r}; choose from: {', '.join(registry)}")
    return registry[key]


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
            "mnist/ and celeba/ (e.g. DATA_DIR=../shared/data) and check its permissions"
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
    path = CONFIG_DIR / f"{task}.yaml"
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
