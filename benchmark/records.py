"""Records on disk: run folders, the one atomic write, reading and collecting ``metrics.json``.

A run's folder is ``<results>/runs/<task>/<model>/<profile>/seed<k>/`` with ``config.yaml``,
``metrics.json`` (written last: its presence marks a finished run), sample grids and the small
curve files the report reads. Every file of the suite goes through `atomic_write`, so a crash or
a second process never leaves half a file, and two writers never share a temporary name.
"""

import contextlib
import fcntl
import functools
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

REQUIRED = {"task", "model", "seed", "scores"}
# least to most thorough; a path component
PROFILES = ("smoke", "quick", "standard", "long", "full")


def run_path(results_dir: Path, task: str, model: str, profile: str, seed: int) -> Path:
    """A run's folder: ``<results_dir>/runs/<task>/<model>/<profile>/seed<k>``.

    The profile is part of the path, so a quick run never replaces a standard or full record.
    """
    return Path(results_dir) / "runs" / task / model / profile / f"seed{seed}"


RECORD = "metrics.json"  # a run folder's record, written last: its presence marks a finished run
ITEMS = "items.pt"  # the ranking metric's value per scored row (`cgbench.scoring.items`)


def run_dir_of(record: dict) -> str:
    """A record's run folder relative to the results folder: ``runs/<task>/<model>/...``.

    A variant's record (``lc[prior]``) lives in its run's folder; overrides (``quick*``) do
    not change the folder.
    """
    model = record.get("variant_of") or record["model"]
    return str(run_path("", record["task"], model, record["profile"].rstrip("*"), record["seed"]))


def iter_runs(results_dir: Path) -> list[Path]:
    """Every run folder under ``results_dir`` that holds a record, in sorted order."""
    return [p.parent for p in sorted(Path(results_dir).glob(f"runs/*/*/*/*/{RECORD}"))]


def read_run(run_dir: Path) -> dict | None:
    """The record of a run folder (`read_record`), None when it has none yet."""
    return read_record(Path(run_dir) / RECORD)


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a unique temporary file beside it, then rename.

    Readers see the old file or the new one, never a mix; concurrent writers (several
    processes or machines on one shared folder) never collide on a temporary name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block.

    For work that several processes of one machine (matrix workers, submitit jobs, a second
    matrix) must not do at once, such as decoding a dataset into the shared cache.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def png_bytes(grid) -> bytes:
    """A ``(3, H, W)`` image tensor in [0, 1] encoded as PNG."""
    from torchvision.utils import save_image

    buffer = io.BytesIO()
    save_image(grid, buffer, format="png")
    return buffer.getvalue()


def read_log(run_dir: Path) -> pd.DataFrame | None:
    """The run's CSV log (``logs/metrics.csv``), or None when it has none."""
    log = Path(run_dir) / "logs" / "metrics.csv"
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


def write_run(run_dir: Path, config_text: str, record: dict, grids=None, files=None) -> None:
    """Write a run's files atomically; ``metrics.json`` goes last, marking the run complete.

    ``grids`` maps a file stem (``samples``, ``samples_prior``) to an image tensor; ``files``
    a file name to its bytes (``items.pt``).
    """
    run_dir = Path(run_dir)
    atomic_write(run_dir / "config.yaml", config_text)
    log = read_log(run_dir)  # read once for both curve files
    for name, text in (
        ("curves.csv", training_curves(log)),  # the report's training curves
        ("val_curves.csv", validation_curves(log)),
    ):
        if text:
            atomic_write(run_dir / name, text)
    for stem, grid in (grids or {}).items():
        atomic_write(run_dir / f"{stem}.png", png_bytes(grid))
    for name, data in (files or {}).items():
        atomic_write(run_dir / name, data)
    atomic_write(run_dir / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


def amend_run(run_dir: Path, record: dict, files: dict) -> None:
    """Add ``files`` (name: bytes) to a finished run and rewrite its record, the record last."""
    for name, data in files.items():
        atomic_write(Path(run_dir) / name, data)
    atomic_write(Path(run_dir) / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


@functools.lru_cache(maxsize=512)
def read_items(run_dir: str) -> dict | None:
    """A run's ``items.pt`` (``{"metric", "rows", "values"}``), None when it has none.

    Cached: the tables read each run's file once however many comparisons use it.
    """
    path = Path(run_dir) / ITEMS
    if not path.exists():
        return None
    return torch.load(path, weights_only=True)


def items_bytes(items: dict) -> bytes:
    """``items`` (tensors and a metric name) as the bytes of an ``items.pt``."""
    buffer = io.BytesIO()
    torch.save(items, buffer)
    return buffer.getvalue()


def read_record(path: Path) -> dict | None:
    """A run's ``metrics.json``; None when absent, and a warning naming it when unreadable."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or not set(record) >= REQUIRED:
            raise ValueError("not a run record (task, model, seed or scores missing)")
        return record
    except (ValueError, OSError) as err:
        print(
            f"warning: {path} is corrupt ({err}); left out of the tables. Fix: rerun that run "
            "(`make benchmark` redoes it) or delete the file",
            file=sys.stderr,
        )
        return None


def collect(results_dir: Path, annotate=None) -> list[dict]:
    """All run records under ``<results_dir>/runs``, sorted by task, model, profile and seed.

    Args:
        results_dir: The results folder.
        annotate: ``record -> dict`` of fields to add, e.g. ``stale`` (whether today's config
            would rerun it) and ``adapted``: the runner side's `cgbench.config.annotate`. Kept
            out of this module so that reading records never imports a model. None: records
            are marked neither stale nor adapted.

    A record made with ``--set`` overrides gets profile ``<profile>*``. A record's sampling
    ``variants`` (LC's prior samples) become records of their own, with model
    ``<model>[<variant>]`` and ``variant_of`` set; they are shown but never ranked. Each
    record names its folder in ``_dir`` (where `read_items` finds its per-row values).
    """
    runs = [(path, read_run(path)) for path in iter_runs(results_dir)]
    records = [r | {"_dir": str(path)} for path, r in runs if r is not None]  # corrupt: left out
    for r in records:
        r |= annotate(r) if annotate else {"stale": False}
        if r.get("overrides"):
            r["profile"] = f"{r['profile']}*"
    records += [v for r in records for v in variant_records(r)]
    return sorted(records, key=lambda r: (r["task"], r["model"], r["profile"], r["seed"]))


def variant_records(record: dict) -> list[dict]:
    """The records of a run's other sampling modes (``variants``), one per mode."""
    return [
        record
        | variant
        | {
            "model": f"{record['model']}[{name}]",
            "variant_of": record["model"],
            "higher_is_better": {k: record["higher_is_better"][k] for k in variant["scores"]},
            "items": None,  # the run's per-row values are its main samples', not the variant's
        }
        for name, variant in (record.get("variants") or {}).items()
    ]
