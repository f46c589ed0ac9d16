"""Outside work, merged into the registries in this one place.

- A model class by import path: ``cgbench run --model [key=]pkg.module:Class`` (any
  importable `ConditionalGenerator`; ``key`` defaults to the class name in lower case).
- Installed models: the entry-point group ``cgbench.models`` (``key = "pkg.module:Class"`` in
  the plugin's ``pyproject.toml`` under ``[project.entry-points."cgbench.models"]``), loaded
  by every ``cgbench`` command.
- A task file outside the package: ``cgbench run --task-config path/my_task.yaml``; the task's
  key is the file stem, ``base: <task>`` names the built-in task whose DataModule, metrics and
  YAML it extends.

``MODELS`` and ``TASKS`` stay plain dicts; these functions add to them and refuse a key that is
already taken, so a plugin never silently replaces a built-in.
"""

import dataclasses
import importlib
import re
from importlib.metadata import entry_points
from pathlib import Path

import yaml

from cgbench.config import TASK_FILES
from cgbench.errors import ConfigError
from cgbench.models import MODELS, ConditionalGenerator
from cgbench.tasks import TASKS

KEY = re.compile(r"[a-z][a-z0-9_]*\Z")  # a run folder, a CSV cell and a --set path segment


def _check_key(key: str, registry: dict, what: str, source: str) -> None:
    if not KEY.match(key):
        raise ConfigError(
            f"{what} key {key!r} (from {source}) must be lower case letters, digits and _, "
            f"starting with a letter; name it explicitly, e.g. mine={source}"
        )
    if key in registry:
        raise ConfigError(
            f"{what} key {key!r} (from {source}) is already taken by {registry[key]!r}; "
            f"choose another key, e.g. --model {key}_2={source}"
        )


def import_object(path: str):
    """The object named by ``"pkg.module:Name"``."""
    module, _, name = path.partition(":")
    if not module or not name:
        raise ConfigError(f"{path!r} is not an import path; write it as pkg.module:Class")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(
            f"cannot import {path!r} ({err}); check the module is importable (on PYTHONPATH "
            "or installed) and defines that name"
        ) from err


def add_model(spec: str) -> str:
    """Register a model class from ``"[key=]pkg.module:Class"``; return its key.

    Raises:
        ConfigError: when it cannot be imported, is not a `ConditionalGenerator` subclass
            with condition kinds, or its key is invalid or taken.
    """
    key, _, path = spec.rpartition("=")
    cls = import_object(path)
    if not (isinstance(cls, type) and issubclass(cls, ConditionalGenerator) and cls.cond_kinds):
        raise ConfigError(
            f"{path} is not a cgbench.models.ConditionalGenerator subclass with cond_kinds set; "
            "derive from it and declare the condition kinds it supports"
        )
    key = key or cls.__name__.lower()
    if MODELS.get(key) is cls:  # the same class twice (entry point and --model): one entry
        return key
    _check_key(key, MODELS, "model", path)
    MODELS[key] = cls
    return key


def load_entry_points() -> list[str]:
    """Register every installed ``cgbench.models`` entry point; return their keys."""
    return [add_model(f"{ep.name}={ep.value}") for ep in entry_points(group="cgbench.models")]


def add_task_file(path: str | Path) -> str:
    """Register a task YAML outside the package; return its key (the file stem).

    The file needs ``base: <built-in task>``; its blocks are merged over that task's YAML as
    for the built-in overlays (e.g. ``celeba_new_attributes``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"task config {path} not found; pass the path of a YAML file")
    base = (yaml.safe_load(path.read_text()) or {}).get("base")
    if base not in TASKS:
        raise ConfigError(
            f"{path}: needs `base: <task>` naming the built-in task it extends; choose from: "
            f"{', '.join(TASKS)}"
        )
    key = path.stem
    if TASK_FILES.get(key) == path.resolve():  # the same file twice: one entry
        return key
    _check_key(key, TASKS, "task", str(path))
    TASKS[key] = dataclasses.replace(TASKS[base], name=key)
    TASK_FILES[key] = path.resolve()
    return key
