"""Tasks: a DataModule, the metrics that score it and the metric that ranks it.

``TASKS`` is the registry. The matrix of runs is every (task, model) pair whose condition kinds
match, so an inapplicable pair is never built.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from datamodules import ConditionalDataModule, MNISTDataModule, SyntheticDataModule


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    Attributes:
        name: Registry key; also the ``configs/<name>.yaml`` stem.
        datamodule: Factory taking ``data_dir``, ``cache_dir`` and the config's ``data`` block.
        cond_kind: ``"label"``, ``"attributes"`` or ``"image"``; must match the DataModule.
        metrics: Keys of ``METRICS`` computed on this task.
        primary: The metric that orders the leaderboard.
        edit_metrics: Metrics of ``evaluate_edits``, run for models that have ``edit``; stored
            with an ``edit_`` prefix (``ssim`` -> ``edit_ssim``).
        synthetic: Offline test data; never part of the published leaderboard.
        version: Bumped whenever the split, preprocessing or a metric definition changes.
    """

    name: str
    datamodule: Callable[..., ConditionalDataModule]
    cond_kind: str
    metrics: tuple[str, ...]
    primary: str
    edit_metrics: tuple[str, ...] = ()
    synthetic: bool = False
    version: int = 1


LABEL_METRICS = ("attr_acc", "diversity", "diversity_real")
LABEL_EDITS = ("edit_success", "ssim")  # LPIPS needs >= 32 px, so not at 28 px

TASKS: Mapping[str, Task] = {
    "mnist": Task("mnist", MNISTDataModule, "label", LABEL_METRICS, "attr_acc", LABEL_EDITS),
    "synthetic_label": Task(
        "synthetic_label",
        partial(SyntheticDataModule, cond_kind="label"),
        "label",
        LABEL_METRICS,
        "attr_acc",
        LABEL_EDITS,
        synthetic=True,
    ),
    "synthetic_attributes": Task(
        "synthetic_attributes",
        partial(SyntheticDataModule, cond_kind="attributes"),
        "attributes",
        ("attr_acc", "diversity"),
        "attr_acc",
        ("edit_success", "edit_preservation", "ssim"),
        synthetic=True,
    ),
}
