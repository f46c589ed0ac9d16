"""Reference rows: what trivial generators and real data score under the very same code.

A number means something only beside what a generator that learnt nothing scores (a *floor*),
what real data scores (a *ceiling*) and what a copy of the training set scores (a *copy*).
Each reference is a fixed set of samples for the task's scored rows, served to the shared
scoring loops like external samples (`cgbench.cells.external.ReplayGenerator`), so its record
has exactly the models' metrics. Protocol v3 adds the strongest no-learning generators
(`cgbench.cells.no_learning`); a model is above floor only against the best of them.

- label and attribute tasks: floors ``ref_constant`` (one image for every condition, the
  training image whose evaluator reading best matches the test conditions), ``ref_shuffled``
  (real test images paired with shuffled conditions, a perfect sampler that ignores its
  condition), ``ref_cond_mean`` (the mean of the 8 validation images nearest in condition: a
  blurry prototype), ``ref_class_mean`` (labels: the class's mean training image) and
  ``ref_additive`` (attributes: the mean face plus each attribute's mean difference);
  ceiling ``ref_real`` (sample 0 the real image of the condition, later samples other scored
  test images with the same condition where there are any); copy ``ref_train`` (training
  images with the same label or the nearest attribute vector: it scores above real data
  where the evaluator was trained on those very images, so it bounds nothing and is never a
  ceiling);
- completion: floors ``ref_input`` (holes at 0), ``ref_mean_fill`` (the mean visible colour),
  ``ref_harmonic`` (Laplace fill from the visible pixels), ``ref_meanface_blend`` (the mean
  training image Poisson-blended into the hole), ``ref_nn_blend`` (the training image nearest
  on the visible pixels, Poisson-blended); ceiling ``ref_real`` (the target);
- colorization: floors ``ref_grey``, ``ref_mean_chroma`` (the input lightness with the mean
  training ab), ``ref_nn_chroma`` (the mean ab of the 8 training faces nearest in lightness);
  ceiling ``ref_real``.

Records live at ``runs/<task>/<ref_kind>/<profile>/seed0`` with ``reference:
floor|ceiling|copy``; the tables show them beside the models and never rank them.
"""

import torch

from cgbench.cells import no_learning
from cgbench.cells.external import ReplayGenerator, _config, _grid, scored_rows
from cgbench.cells.pipeline import prepare, score_cell
from cgbench.color import lab_to_rgb
from cgbench.config import ConfigError, config_sha, lookup
from cgbench.provenance import is_current
from cgbench.records import read_run, run_path
from cgbench.tasks import TASKS

ROLES = {
    "ref_constant": "floor",
    "ref_shuffled": "floor",
    "ref_class_mean": "floor",
    "ref_cond_mean": "floor",
    "ref_additive": "floor",
    "ref_input": "floor",
    "ref_mean_fill": "floor",
    "ref_harmonic": "floor",
    "ref_meanface_blend": "floor",
    "ref_nn_blend": "floor",
    "ref_grey": "floor",
    "ref_mean_chroma": "floor",
    "ref_nn_chroma": "floor",
    "ref_real": "ceiling",
    "ref_train": "copy",
}
PROTOTYPE_K = 8  # images averaged by ref_cond_mean and ref_nn_chroma
PROTOTYPES = {  # kind -> (conditions, datamodule, generator) -> one image per row (N, C, H, W)
    "ref_class_mean": lambda y, dm, g: no_learning.class_mean(y, dm),
    "ref_cond_mean": lambda y, dm, g: no_learning.condition_mean(y, dm, PROTOTYPE_K, g),
    "ref_additive": lambda y, dm, g: no_learning.additive_face(y, dm),
    **{
        kind: lambda y, dm, g, kind=kind: no_learning.completion_fills(kind, y, dm)
        for kind in ("ref_harmonic", "ref_meanface_blend", "ref_nn_blend")
    },
    **{
        kind: lambda y, dm, g, kind=kind: no_learning.chroma(kind, y, dm, PROTOTYPE_K)
        for kind in ("ref_mean_chroma", "ref_nn_chroma")
    },
}


def kinds(task) -> list[str]:
    """The references of a task, floors first."""
    if task.cond_kind == "label":
        return [
            "ref_constant",
            "ref_shuffled",
            "ref_class_mean",
            "ref_cond_mean",
            "ref_real",
            "ref_train",
        ]
    if task.cond_kind == "attributes":
        return [
            "ref_constant",
            "ref_shuffled",
            "ref_cond_mean",
            "ref_additive",
            "ref_real",
            "ref_train",
        ]
    if task.paste_back:
        return [
            "ref_input",
            "ref_mean_fill",
            "ref_harmonic",
            "ref_meanface_blend",
            "ref_nn_blend",
            "ref_real",
        ]
    return ["ref_grey", "ref_mean_chroma", "ref_nn_chroma", "ref_real"]


def best_constant(classifier, dm, y: torch.Tensor, candidates: int = 256) -> torch.Tensor:
    """The training image ``(C, H, W)`` whose evaluator reading best matches every condition.

    Among the first ``candidates`` training images: the one maximising the share of test
    conditions (labels) or of condition entries (attributes) its decisions agree with.
    """
    x = no_learning.split_tensors(dm)[0][:candidates]
    with torch.no_grad():
        logits = classifier(x)  # (M, A)
    if dm.cond_kind == "label":
        share = y.mean(0)  # (A,) frequency of each class among the scored conditions
        agreement = share[logits.argmax(1)]  # (M,)
    else:
        seen = (logits > 0).float()  # (M, A)
        agreement = (seen[:, None] == y[None]).float().mean((1, 2))  # (M,)
    return x[agreement.argmax()]


def same_condition(y: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(N, K)`` row picks: column 0 the row itself, others rows with an identical condition."""
    _, group = torch.unique(y.flatten(1), dim=0, return_inverse=True)
    picks = torch.arange(len(y))[:, None].repeat(1, k)
    for g in group.unique():
        members = torch.nonzero(group == g).flatten()
        if len(members) > 1:
            draw = torch.randint(0, len(members), (len(members), k - 1), generator=generator)
            picks[members, 1:] = members[draw]
    return picks


def samples_for(kind: str, x, y, dm, k: int, classifier, seed: int = 0) -> torch.Tensor:
    """A reference's samples ``(N, K, C, H, W)`` for the scored rows' images and conditions."""
    generator = torch.Generator().manual_seed(seed)
    n = len(x)
    if kind == "ref_constant":
        return best_constant(classifier, dm, y).expand(n, k, *x.shape[1:]).clone()
    if kind == "ref_shuffled":
        perms = torch.stack([torch.randperm(n, generator=generator) for _ in range(k)], 1)
        return x[perms]
    if kind == "ref_real":
        if y.dim() == 4:  # image conditions: the one target
            return x[:, None].repeat(1, k, 1, 1, 1)
        return x[same_condition(y, k, generator)]
    if kind == "ref_train":
        train_x, train_y = no_learning.split_tensors(dm)
        return train_x[no_learning.nearest_conditions(y, train_y, k, generator)]
    if kind == "ref_input":
        return y[:, None, :-1].repeat(1, k, 1, 1, 1)
    if kind == "ref_mean_fill":
        visible, hole = y[:, :-1], y[:, -1:]
        mean = visible.sum((2, 3), keepdim=True) / (1 - hole).sum((2, 3), keepdim=True).clamp(1)
        return (visible + hole * mean)[:, None].repeat(1, k, 1, 1, 1)
    if kind in PROTOTYPES:  # the no-learning generators: one image per row, every sample alike
        return PROTOTYPES[kind](y, dm, generator)[:, None].repeat(1, k, 1, 1, 1)
    if kind == "ref_grey":
        lightness = (y + 1) * 50  # (N, 1, H, W) in L units
        lab = torch.cat([lightness, torch.zeros_like(lightness).repeat(1, 2, 1, 1)], 1)
        return (lab_to_rgb(lab) * 2 - 1)[:, None].repeat(1, k, 1, 1, 1)
    raise ConfigError(f"unknown reference {kind!r}; choose from {', '.join(ROLES)}")


def reference_config(task_name: str, kind: str, profile: str, overrides=()) -> dict:
    """The config a reference is scored under (its record's ``config.yaml``)."""
    return _config(task_name, kind, 0, profile, overrides) | {"reference": ROLES[kind]}


def reference_generator(kind: str, scoring, cfg: dict) -> tuple[ReplayGenerator, torch.Tensor]:
    """The reference's samples for the scored rows, served as the loops visit them.

    Returns:
        The replaying generator and the scored rows' real images ``(N, C, H, W)``.
    """
    order, rows, x, y = scored_rows(scoring.dm, cfg["eval"]["max_batches"])
    samples = samples_for(kind, x, y, scoring.dm, cfg["eval"]["k_samples"], scoring.classifier)
    return ReplayGenerator(samples, y, rows, order), x


def score_references(
    task_name: str, profile: str = "quick", overrides=(), results_dir=None, force: bool = False
) -> list[dict]:
    """Score every reference of a task under a profile; write and return their records.

    A reference whose record has today's config and is not stale is kept as it is.
    """
    from pathlib import Path

    results_dir = Path(results_dir or "results")
    task = lookup(TASKS, task_name, "task")
    out, scoring = [], None
    for kind in kinds(task):
        cfg = reference_config(task_name, kind, profile, overrides)
        sha = config_sha(cfg)
        run_dir = run_path(results_dir, task_name, kind, profile, 0)
        old = read_run(run_dir)
        if is_current(old, sha, force):
            out.append(old | {"skipped": True})
            continue
        if scoring is None:  # one datamodule and evaluator for all the task's references
            scoring = prepare(task_name, cfg, results_dir)
        replay, x = reference_generator(kind, scoring, cfg)
        fields = {"status": "ok", "reference": ROLES[kind]}
        grids = {"samples": _grid(replay.samples, x, replay.conditions)}
        out.append(
            score_cell(scoring, cfg, replay, run_dir, fields, grids=grids, overrides=overrides)
        )
    return out
