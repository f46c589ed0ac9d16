"""Tasks: a DataModule, the metrics that score it and the metric that ranks it.

``TASKS`` is the registry. The matrix of runs is every (task, model) pair whose condition kinds
match, so an inapplicable pair is never built.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from cgbench.datamodules import (
    CelebADataModule,
    ColorizationDataModule,
    CompletionDataModule,
    ConditionalDataModule,
    MNISTDataModule,
    MultimodalCompletionDataModule,
    SyntheticDataModule,
)


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
        paste_back: Completion: samples are composited ``m * x_hat + (1 - m) * x`` before
            scoring, as the field scores inpainting, so visible pixels a model was given count
            for nothing.
        keep_lightness: Colorization: each sample's chroma is put on the input's lightness
            before scoring (`cgbench.scoring.lightness`), as the field scores L -> ab.
        features: The frozen evaluator (`cgbench.evaluators`) whose last hidden layer is the
            ``*_eval`` distribution metrics' feature space, for tasks without an evaluator of
            their own (image tasks: the one of their base dataset).
        synthetic: Offline test data; never part of the published leaderboard.
        version: Bumped whenever the split, preprocessing or a metric definition changes
            (2: protocol v2, fixed random evaluation subsets, paste-back, per-attribute rates;
            colorization 3: samples keep the input's lightness).
    """

    name: str
    datamodule: Callable[..., ConditionalDataModule]
    cond_kind: str
    metrics: tuple[str, ...]
    primary: str
    edit_metrics: tuple[str, ...] = ()
    paste_back: bool = False
    keep_lightness: bool = False
    features: str | None = None
    synthetic: bool = False
    version: int = 2


DIVERSITY = ("pairwise_ms_ssim", "pairwise_ms_ssim_real")  # samples' and real data's, one subset
# Distribution metrics (metrics.distribution): Inception's, computed where eval.inception is on
# (0.3 s per image on 2 CPU cores), and the same on the evaluator's features, always.
INCEPTION = ("fid", "kid", "precision", "recall", "density", "coverage")
EVALUATOR_SPACE = tuple(f"{m}_eval" for m in INCEPTION)
DISTRIBUTION = (*INCEPTION, *EVALUATOR_SPACE)
CLASS_DISTRIBUTION = (*DISTRIBUTION, "intra_fid_eval")  # label and attribute tasks
LABEL_METRICS = ("attr_acc", *DIVERSITY, *CLASS_DISTRIBUTION)
ATTRIBUTE_RATES = ("attr_balanced", "attr_tpr", "attr_tnr")
ATTRIBUTE_METRICS = (*ATTRIBUTE_RATES, "attr_acc", *DIVERSITY, *CLASS_DISTRIBUTION)
LABEL_EDITS = ("edit_success", "ssim")  # LPIPS needs >= 32 px, so not at 28 px
ATTRIBUTE_EDITS = ("edit_success", "edit_preservation", "lpips", "ssim")
FIDELITY = ("psnr", "psnr_best", "ssim", "ssim_best", "ms_ssim", "ms_ssim_best")
IMAGE_METRICS = (*FIDELITY, "lpips", "lpips_best", "pairwise_ms_ssim", "pairwise_lpips")
SMALL_IMAGE_METRICS = (*FIDELITY, "pairwise_ms_ssim")  # 28 px: no LPIPS
HOLE = ("psnr_hole", "l1_hole")

TASKS: dict[str, Task] = {
    "mnist": Task("mnist", MNISTDataModule, "label", LABEL_METRICS, "attr_acc", LABEL_EDITS),
    "celeba": Task(
        "celeba",
        CelebADataModule,
        "attributes",
        ATTRIBUTE_METRICS,
        "attr_balanced",
        ATTRIBUTE_EDITS,
    ),
    "celeba_new_attributes": Task(
        "celeba_new_attributes",
        CelebADataModule,
        "attributes",
        ATTRIBUTE_METRICS,
        "attr_balanced",
        ATTRIBUTE_EDITS,
    ),
    "colorization": Task(
        "colorization",
        ColorizationDataModule,
        "image",
        (*IMAGE_METRICS, *DISTRIBUTION),  # lightness_l1 is 0 once L is kept
        "lpips",
        keep_lightness=True,
        features="celeba",
        version=3,
    ),
    "completion": Task(
        "completion",
        CompletionDataModule,
        "image",
        (*IMAGE_METRICS, *HOLE, *DISTRIBUTION),
        "lpips",
        paste_back=True,
        features="celeba",
    ),
    "completion_mnist": Task(
        "completion_mnist",
        partial(CompletionDataModule, base="mnist"),
        "image",
        (*SMALL_IMAGE_METRICS, *HOLE, *DISTRIBUTION),
        "ssim",
        paste_back=True,
        features="mnist",
    ),
    **{
        name: Task(
            name,
            MultimodalCompletionDataModule,
            "image",
            (*SMALL_IMAGE_METRICS, *HOLE, *DISTRIBUTION),
            "ssim_best",
            paste_back=True,
            features="mnist",
        )  # the paper's two regimes: 20% overlaid (one mode expected), 30% (both claimed)
        for name in ("completion_mnist_multimodal", "completion_mnist_multimodal_alt30")
    },
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
        (*ATTRIBUTE_RATES, "attr_acc", "pairwise_ms_ssim", *CLASS_DISTRIBUTION),
        "attr_balanced",
        ("edit_success", "edit_preservation", "ssim"),
        synthetic=True,
    ),
    "synthetic_image": Task(
        "synthetic_image",
        partial(SyntheticDataModule, cond_kind="image", image_shape=(3, 32, 32)),
        "image",
        IMAGE_METRICS,
        "lpips",
        synthetic=True,
    ),
}
