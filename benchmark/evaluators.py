"""Evaluator classifiers: trained once per task, cached with their checksum, reused by every run."""

import hashlib
import io
import json
import logging
from pathlib import Path

import torch

from cgbench.datamodules import ConditionalDataModule
from cgbench.metrics.classifiers import EvaluatorCNN, accuracy, train_classifier
from cgbench.records import atomic_write

log = logging.getLogger(__name__)


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
            if "columns" not in record:  # cached by an older version: add the held-out table
                record |= held_out_report(classifier, dm)
                atomic_write(meta, json.dumps(record, indent=2))
            return classifier, record
        log.warning("evaluator %s fails its checksum; retraining it", weights)
    print(f"training the {task} evaluator classifier ({settings}) ...", flush=True)
    loader = torch.utils.data.DataLoader(
        dm.train_set, batch_size=settings.get("batch_size", 128), shuffle=True
    )
    kwargs = {k: v for k, v in settings.items() if k != "batch_size"}
    classifier, record = train_classifier(loader, dm.x_shape, dm.y_shape[0], dm.cond_kind, **kwargs)
    buffer = io.BytesIO()
    torch.save(classifier.state_dict(), buffer)
    atomic_write(weights, buffer.getvalue())
    record |= held_out_report(classifier, dm) | {
        "task": task,
        "path": str(weights),
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "data_checksum": dm.data_checksum,
    }
    atomic_write(meta, json.dumps(record, indent=2))
    print(f"evaluator for {task}: test accuracy {record['test_acc']:.4f}", flush=True)
    return classifier, record


def held_out_report(classifier: EvaluatorCNN, dm: ConditionalDataModule) -> dict:
    """Held-out accuracy overall and per column, with each column's base rate.

    The base rate is what a constant guess scores: the majority value's share for an attribute,
    the class's share of the test set for a class.
    """
    loader = torch.utils.data.DataLoader(dm.test_set, batch_size=256)
    test_acc, per_column = accuracy(classifier, loader, dm.cond_kind)
    share = torch.cat([y for _, y in loader]).mean(0)  # (A,) frequency of 1 per column
    if dm.cond_kind == "attributes":
        share = torch.maximum(share, 1 - share)
    names = getattr(dm, "attributes", None) or [str(i) for i in range(dm.y_shape[0])]
    return {
        "test_acc": test_acc,
        "test_acc_per_column": per_column,
        "columns": list(names),
        "test_base_rate_per_column": [round(float(m), 6) for m in share],
    }


def table_path(results_dir: Path, task: str, profile: str) -> Path:
    """``<results>/evaluators/<task>.<profile>.csv``: profiles train evaluators differently.

    (One file per task let ``make classifiers`` at the quick profile overwrite the standard
    evaluator's table that the committed records were scored with.)
    """
    return Path(results_dir) / "evaluators" / f"{task}.{profile}.csv"


def write_table(record: dict, path: Path) -> None:
    """Per-column (attribute or class) held-out accuracy of an evaluator, as CSV."""
    rows = zip(record["columns"], record["test_acc_per_column"],
               record["test_base_rate_per_column"], strict=True)  # fmt: skip
    lines = ["column,evaluator_test_acc,base_rate"]
    lines += [f"{c},{a:.4f},{m:.4f}" for c, a, m in rows]
    lines.append(f"all,{record['test_acc']:.4f},")
    atomic_write(path, "\n".join(lines) + "\n")
