"""Evaluator classifiers: trained once per task, frozen, checksummed, reused by every run.

The evaluators of the published tasks are committed (``benchmark/frozen/<task>.pt`` with a
``.json`` holding their SHA-256, training settings, data checksum and held-out figures), so the
metric is the same on every machine and in every profile. ``cgbench evaluators --tasks T``
trains them from each task's ``evaluator`` block and refuses to replace one without
``--force``. Tasks without a frozen evaluator (the synthetic test tasks, plugins) train theirs
into the cache on first use (`load_or_train`).
"""

import hashlib
import io
import json
import logging
from pathlib import Path

import torch

from cgbench.datamodules import ConditionalDataModule
from cgbench.errors import ConfigError
from cgbench.metrics.attribute import AttributeBalanced, AttributeTNR, AttributeTPR
from cgbench.metrics.classifiers import EvaluatorCNN, accuracy, train_classifier
from cgbench.records import atomic_write

log = logging.getLogger(__name__)

FROZEN_DIR = Path(__file__).parent / "frozen"  # committed weights, installed with the package


def frozen_paths(task: str) -> tuple[Path, Path]:
    """``(weights, record)`` of a task's committed evaluator."""
    return FROZEN_DIR / f"{task}.pt", FROZEN_DIR / f"{task}.json"


def frozen_record(task: str) -> dict | None:
    """The committed evaluator's record (settings, checksums, held-out figures), or None."""
    _, meta = frozen_paths(task)
    return json.loads(meta.read_text()) if meta.exists() else None


def frozen_network(task: str, x_shape) -> tuple[EvaluatorCNN, dict] | None:
    """A committed evaluator checked against its SHA-256 only, for images of ``x_shape``.

    Raises:
        ConfigError: weights that fail their checksum.
    """
    weights, _ = frozen_paths(task)
    record = frozen_record(task)
    if record is None or not weights.exists():
        return None
    data = weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise ConfigError(
            f"{weights} fails its SHA-256; restore it from git or retrain it with "
            f"`cgbench evaluators --tasks {task} --force`"
        )
    n_outputs = len(record["columns"])
    classifier = EvaluatorCNN(tuple(x_shape), n_outputs, record["settings"].get("width", 32))
    classifier.load_state_dict(torch.load(io.BytesIO(data), weights_only=True))
    return classifier.eval().requires_grad_(False), record | {"frozen": True}


def load_frozen(task: str, dm: ConditionalDataModule) -> tuple[EvaluatorCNN, dict] | None:
    """The task's committed evaluator, checked against its checksum and the data; None if absent.

    Raises:
        ConfigError: weights that fail their checksum, or data other than the evaluator's.
    """
    loaded = frozen_network(task, dm.x_shape)
    if loaded is not None and loaded[1]["data_checksum"] != dm.data_checksum:
        raise ConfigError(
            f"the frozen {task} evaluator was trained on data {loaded[1]['data_checksum'][:12]}, "
            f"this DataModule holds {dm.data_checksum[:12]} (another DATA_DIR or split?); use "
            f"the data of ../shared/data or retrain with `cgbench evaluators --tasks {task} "
            "--force`"
        )
    return loaded


def train_frozen(task: str, dm: ConditionalDataModule, settings: dict, force: bool = False) -> dict:
    """Train a task's evaluator and commit-ready files under ``FROZEN_DIR``; return its record.

    Raises:
        ConfigError: a frozen evaluator exists and ``force`` is not set.
    """
    weights, meta = frozen_paths(task)
    if weights.exists() and not force:
        raise ConfigError(
            f"{weights} exists: every committed record was scored with it; pass "
            "--force to replace it (then rescore or rerun the records)"
        )
    classifier, record = _train(task, dm, settings)
    buffer = io.BytesIO()
    torch.save(classifier.state_dict(), buffer)
    atomic_write(weights, buffer.getvalue())
    record |= {
        "path": f"benchmark/frozen/{weights.name}",
        "settings": dict(settings),
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
    }
    atomic_write(meta, json.dumps(record, indent=2) + "\n")
    return record


def _train(task: str, dm: ConditionalDataModule, settings: dict) -> tuple[EvaluatorCNN, dict]:
    """Fit an evaluator on ``dm``'s train split; its record with the held-out figures."""
    print(f"training the {task} evaluator classifier ({settings}) ...", flush=True)
    loader = torch.utils.data.DataLoader(
        dm.train_set, batch_size=settings.get("batch_size", 128), shuffle=True
    )
    kwargs = {k: v for k, v in settings.items() if k != "batch_size"}
    classifier, record = train_classifier(loader, dm.x_shape, dm.y_shape[0], dm.cond_kind, **kwargs)
    record |= held_out_report(classifier, dm) | {"task": task, "data_checksum": dm.data_checksum}
    print(f"evaluator for {task}: test accuracy {record['test_acc']:.4f}", flush=True)
    return classifier, record


def load_or_train(
    task: str, dm: ConditionalDataModule, settings: dict, cache: Path
) -> tuple[EvaluatorCNN, dict]:
    """Return the task's evaluator classifier and its record, training it if not cached.

    The cache key covers the task, the data checksum and the training settings, so a change to
    any of them trains a new classifier instead of silently reusing a stale one.

    Args:
        task: Task key.
        dm: The task's DataModule, already set up (its train and test splits are used).
        settings: The config's ``evaluator`` block (``epochs``, ``lr``, ``batch_size``, ``flip``,
            ``width``).
        cache: Cache root; files go to ``<cache>/evaluators/``.

    Returns:
        The frozen classifier and ``{"sha256", "test_acc", "test_acc_per_column", ...}``.
    """
    key = json.dumps({"task": task, "data": dm.data_checksum, **settings}, sort_keys=True)
    stem = f"{task}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    weights, meta = cache / "evaluators" / f"{stem}.pt", cache / "evaluators" / f"{stem}.json"
    classifier = EvaluatorCNN(dm.x_shape, dm.y_shape[0], settings.get("width", 32))
    if weights.exists() and meta.exists():
        record = json.loads(meta.read_text())
        if hashlib.sha256(weights.read_bytes()).hexdigest() == record["sha256"]:
            classifier.load_state_dict(torch.load(weights, weights_only=True))
            classifier.eval().requires_grad_(False)
            return classifier, record | {"frozen": False}
        log.warning("evaluator %s fails its checksum; retraining it", weights)
    classifier, record = _train(task, dm, settings)
    buffer = io.BytesIO()
    torch.save(classifier.state_dict(), buffer)
    atomic_write(weights, buffer.getvalue())
    record |= {
        "path": str(weights),
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "frozen": False,
    }
    atomic_write(meta, json.dumps(record, indent=2))
    return classifier, record


def held_out_report(classifier: EvaluatorCNN, dm: ConditionalDataModule) -> dict:
    """Held-out accuracy overall and per column, with each column's base rate.

    The base rate is what a constant guess scores: the majority value's share for an attribute,
    the class's share of the test set for a class. Attribute evaluators also get their TPR, TNR
    and balanced accuracy per attribute, computed by the very metrics that score samples (real
    test faces as the samples), so a table can put a model's rates beside the evaluator's own.
    """
    loader = torch.utils.data.DataLoader(dm.test_set, batch_size=256)
    test_acc, per_column = accuracy(classifier, loader, dm.cond_kind)
    share = torch.cat([y for _, y in loader]).mean(0)  # (A,) frequency of 1 per column
    if dm.cond_kind == "attributes":
        share = torch.maximum(share, 1 - share)
    names = list(getattr(dm, "attributes", None) or [str(i) for i in range(dm.y_shape[0])])
    report = {
        "test_acc": test_acc,
        "test_acc_per_column": per_column,
        "columns": names,
        "test_base_rate_per_column": [round(float(m), 6) for m in share],
    }
    if dm.cond_kind == "attributes":
        for cls in (AttributeBalanced, AttributeTPR, AttributeTNR):
            metric = cls(classifier, "attributes", names)
            with torch.no_grad():
                for x, y in loader:
                    metric.update(x[None], x, y)
            report[metric.name] = float(metric.compute())
            report[f"{metric.name}_per_column"] = list(metric.details().values())
    return report


def table_path(results_dir: Path, task: str) -> Path:
    """``<results>/evaluators/<task>.csv``: one frozen evaluator per task, for every profile."""
    return Path(results_dir) / "evaluators" / f"{task}.csv"


def write_table(record: dict, path: Path) -> None:
    """Per-column (attribute or class) held-out accuracy of an evaluator, as CSV."""
    rates = [k for k in ("attr_balanced", "attr_tpr", "attr_tnr") if k in record]
    columns = [
        record["test_acc_per_column"],
        record["test_base_rate_per_column"],
        *(record[f"{k}_per_column"] for k in rates),
    ]
    lines = [",".join(["column", "evaluator_test_acc", "base_rate", *rates])]
    for name, *values in zip(record["columns"], *columns, strict=True):
        lines.append(",".join([name, *(f"{v:.4f}" for v in values)]))
    lines.append(
        ",".join(["all", f"{record['test_acc']:.4f}", "", *(f"{record[k]:.4f}" for k in rates)])
    )
    atomic_write(path, "\n".join(lines) + "\n")
