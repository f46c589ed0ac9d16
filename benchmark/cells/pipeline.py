"""One cell pipeline: score a generator on its task's rows and write the cell's record.

Every producer of a record goes through `score_cell`: a trained run (`cgbench.cells.train`), samples
made elsewhere (`cells.external`), the floor and ceiling references (`cells.references`)
and a rescore of kept weights (`cgbench.cells.rescore`). `prepare` gives them the same scoring
context (the task with ``eval.metrics`` applied, its set-up DataModule, the evaluator), so
every record of a task is scored on the same rows by the same code.
"""

import dataclasses
import functools
import inspect
import math
from pathlib import Path

import torch
import yaml

from cgbench.cells.cas_check import KINDS as CAS_KINDS
from cgbench.cells.cas_check import cas_scores
from cgbench.cells.copy_check import copy_scores
from cgbench.cells.standardised_check import standardised_scores
from cgbench.config import EVAL_DEFAULTS, cache_dir, config_sha, data_dir, lpips_backbone
from cgbench.datamodules.image_source import tensors_of
from cgbench.errors import ConfigError, build, lookup
from cgbench.evaluators import load_frozen, load_or_train
from cgbench.metrics import METRICS, load_lpips
from cgbench.provenance import record_fields
from cgbench.records import ITEMS, file_lock, items_bytes, write_run
from cgbench.scoring.evaluate import sample_grid, score_model
from cgbench.scoring.items import row_items
from cgbench.scoring.lightness import KeepLightness
from cgbench.scoring.spaces import feature_spaces
from cgbench.tasks import TASKS


@dataclasses.dataclass
class Scoring:
    """What scoring one task under one config needs: the task, its data, its evaluator."""

    task: object  # a `cgbench.tasks.Task`, with the config's eval.metrics applied
    dm: object  # its set-up DataModule
    classifier: object = None  # the frozen (or cached) evaluator, None if no metric reads one
    info: dict | None = None  # the evaluator's record


def prepare(task_name: str, cfg: dict, results_dir: Path = Path("results")) -> Scoring:
    """`make_datamodule` and `load_evaluator` for one config."""
    task, dm = make_datamodule(task_name, cfg)
    return Scoring(task, dm, *load_evaluator(task, dm, cfg, results_dir))


def score_cell(
    scoring: Scoring,
    cfg: dict,
    generator,
    run_dir: Path,
    fields: dict,
    base: dict | None = None,
    grids: dict | None = None,
    overrides=(),
) -> dict:
    """Score ``generator``, write the cell's files (`records.write_run`); return the record.

    Args:
        scoring: The task's scoring context (`prepare`).
        cfg: The cell's resolved config (written as ``config.yaml``; its hash names it).
        generator: A `ConditionalGenerator` (trained weights or replayed samples).
        run_dir: The cell's folder.
        fields: The producer's own record fields (``status``, training cost, ``reference``).
        base: The record to build on (a rescore keeps its training provenance); None: a new
            one (`provenance.record_fields`).
        grids: Sample grids by file stem; None draws them from ``generator`` after scoring.
        overrides: The ``--set`` strings the config was resolved with.
    """
    result = score_with_copies(scoring, cfg, generator)
    items, why_not = primary_items(scoring, cfg, generator, result["scores"])
    if grids is None:
        grids = sample_grids(generator, scoring.task, scoring.dm, cfg["seed"])
    if base is None:
        base = record_fields(
            scoring.task, cfg, scoring.dm, scoring.info, config_sha(cfg), overrides
        )
    record = base | result | fields | {"grid_rows": grid_rows(scoring.dm)}
    record |= items_field(items, why_not)
    files = {ITEMS: items_bytes(items)} if items else {}
    write_run(run_dir, yaml.safe_dump(cfg, sort_keys=True), record, grids, files)
    return record


def primary_items(scoring: Scoring, cfg: dict, generator, scores: dict):
    """``(items, "")`` of the ranking metric (`scoring.items.row_items`), or ``(None, why)``.

    Kept only where they give the record's own score again (same samples, same value), so
    the bootstrap never resamples anything but what was scored.
    """
    getattr(generator, "rewind", lambda: None)()  # replayed samples: served again from row 0
    task, settings = scoring.task, EVAL_DEFAULTS | cfg["eval"]
    context = scoring_context(task, scoring.dm, scoring.classifier, cfg, spaces=False)
    items = row_items(as_scored(generator, task), task, scoring.dm, context,
                      settings["k_samples"], cfg["seed"], settings["max_batches"])  # fmt: skip
    if items is None:
        return None, f"{task.primary} has no value per scored row"
    score = scores.get(task.primary)
    if score is None or not math.isclose(items.pop("score"), score, rel_tol=1e-5, abs_tol=1e-7):
        return None, f"a second pass did not give {task.primary} {score} again"
    return items, ""


def items_field(items: dict | None, why_not: str) -> dict:
    """The record's ``items`` field: what ``items.pt`` holds, or why it has none."""
    if items is None:
        return {"items": {"unavailable": why_not}}
    values = items["values"]
    return {"items": {"file": ITEMS, "metric": items["metric"], "shape": list(values.shape)}}


def score_with_copies(scoring: Scoring, cfg: dict, generator) -> dict:
    """`score` and the checks beside it: a record's scores.

    The copying check (`copy_scores`), FID/KID on standardised evaluator features
    (`standardised_scores`) and CAS (`cas_scores`), each its own optional code part.
    """
    generator = as_scored(generator, scoring.task)
    result = score(generator, scoring.task, scoring.dm, scoring.classifier, cfg)
    checks = [(copy_scores, False), (standardised_scores, False)]
    # eval.cas (unset: on; not in EVAL_DEFAULTS, so published configs keep their hashes): the
    # smoke profile turns CAS off, a 200-step classifier per scoring that dominated the tests
    if cfg["eval"].get("cas", True):
        checks.append((cas_scores, True))
    elif scoring.dm.cond_kind in CAS_KINDS:
        result["unavailable"]["cas"] = "eval.cas is off in this profile"
    for check, higher in checks:
        extra, why_not = check(generator, scoring, cfg)
        result["scores"] |= extra
        result["higher_is_better"] |= dict.fromkeys(extra, higher)
        result["unavailable"] |= why_not
    return result


def milestone_scores(scoring: Scoring, cfg: dict, generator) -> dict:
    """What a record keeps of a milestone (`callbacks.Milestones`): the scores, each variant's.

    The same rows, metrics and copying check as the record's final scores.
    """
    result = score_with_copies(scoring, cfg, generator)
    variants = {name: v["scores"] for name, v in result["variants"].items()}
    return {"scores": result["scores"]} | ({"variants": variants} if variants else {})


def make_datamodule(task_name: str, cfg: dict):
    """The run's task (``eval.metrics`` applied) and its set-up DataModule.

    Shared by training runs and by `cgbench.cells.external` (samples made elsewhere), so both are
    scored on the same data.
    """
    task = lookup(TASKS, task_name, "task")
    if cfg["eval"].get("metrics"):  # a subset of the task's metrics, e.g. to skip LPIPS
        subset = tuple(cfg["eval"]["metrics"])
        edits = tuple(m for m in task.edit_metrics if m in subset)
        task = dataclasses.replace(task, metrics=subset, edit_metrics=edits)
    dm = build(
        task.datamodule,
        f"{task_name}.yaml data",
        data_dir=data_dir(),
        cache_dir=cache_dir(),
        **cfg["data"],
    )
    if dm.cond_kind != task.cond_kind:
        raise ConfigError(
            f"task {task_name}: datamodule gives {dm.cond_kind}, not {task.cond_kind}"
        )
    # Workers and jobs sharing the cache decode a dataset one at a time: a second reader of a
    # half-extracted file would fail (seen with two workers on a fresh MNIST cache).
    with file_lock(cache_dir() / "locks" / "data.lock"):
        dm.setup("fit")
    split = cfg["eval"].get("split", "test")
    if split not in ("test", "val"):
        raise ConfigError(f"{task_name}: eval.split must be test or val, got {split!r}")
    if split == "val":  # tuning trials (cgbench.workflows.tuning): choices never see the test rows
        score_on_validation(dm)
    # scoring batches (with eval.max_batches: the scored rows) follow the task's batch size
    # even where a model trains with its own (`config.run_config`)
    dm.eval_batch_size = cfg["eval"].get("batch_size") or dm.batch_size
    return task, dm


def score_on_validation(dm) -> None:
    """Make ``dm``'s scored split its validation rows.

    Multimodal completion keeps per-input modes (``test_modes``, ``mode_targets``) that its
    ``make("test", x)`` draws with the test split's labels; scoring the validation images
    through that same call gives them their own groups and mode targets (indexing the test
    split's modes by validation rows would overrun: 10,000 test vs 5,000 validation digits).
    """
    if not hasattr(dm, "test_modes"):
        dm.test_set = dm.val_set
        return
    dm.base.test_set = dm.base.val_set  # where make("test") reads the labels
    dm.test_set = dm.make("test", tensors_of(dm.base.val_set)[0])


def needs_evaluator(task) -> bool:
    """Whether any of the task's metrics reads images with the evaluator classifier."""
    names = task.metrics + task.edit_metrics
    return any(
        "classifier" in inspect.signature(lookup(METRICS, n, "metric")).parameters for n in names
    )


def load_evaluator(task, dm, cfg: dict, results_dir: Path = Path("results")):
    """The task's evaluator classifier and its record (None, None when no metric needs one).

    The committed, frozen one (`cgbench.evaluators`) when the task has it; otherwise one trained
    from the config's ``evaluator`` block into the cache (synthetic and plugin tasks).
    """
    if not needs_evaluator(task):
        return None, None
    return load_frozen(task.name, dm) or load_or_train(task.name, dm, cfg["evaluator"], cache_dir())


@functools.lru_cache(maxsize=2)
def _lpips(backbone: str | None):
    """`load_lpips`, once a process: every milestone and the per-row pass share the frozen net."""
    return load_lpips(backbone)


def scoring_context(task, dm, classifier, cfg: dict, spaces: bool = True) -> dict:
    """What the metrics' constructors ask for: evaluator, LPIPS, feature spaces, image size.

    ``spaces`` False leaves the feature spaces out (their reference features cost time), for
    callers that score no distribution metric.
    """
    lpips_net, lpips_info = None, {}
    if any("lpips" in n for n in task.metrics + task.edit_metrics):
        lpips_net, lpips_info = _lpips(lpips_backbone())
    spaces, spaces_missing = feature_spaces(task, dm, classifier, cfg) if spaces else ({}, {})
    return {
        "image_size": dm.x_shape[1],
        "classifier": classifier,
        "cond_kind": dm.cond_kind,
        "attribute_names": getattr(dm, "attributes", None),
        "net": lpips_net,
        "info": lpips_info,
        "features": spaces,
        "features_unavailable": spaces_missing,
    }


def score(model, task, dm, classifier, cfg: dict) -> dict:
    """`score_model` with the task's scoring context (`scoring_context`) and eval settings."""
    settings = EVAL_DEFAULTS | cfg["eval"]  # eval.metrics: already in task.metrics
    result = score_model(
        model,
        dm,
        task,
        scoring_context(task, dm, classifier, cfg),
        k_samples=settings["k_samples"],
        seed=cfg["seed"],
        max_batches=settings["max_batches"],
    )
    return without_nan(result)


def without_nan(result: dict) -> dict:
    """Scores that came out NaN leave the record for ``unavailable``, with the reason.

    NaN means the metric had nothing to compute on (e.g. intra-class FID where no class has
    enough samples, as in smoke runs): an empty cell with its reason, never a number.
    """
    reason = "not computable on this evaluation (too few samples or classes; docs/metrics.md)"
    variants = [v["scores"] for v in result["variants"].values()]
    for scores in (result["scores"], *variants):
        for key in [k for k, v in scores.items() if v != v]:
            del scores[key]
            result["unavailable"].setdefault(key, reason)
    kept = set(result["scores"]).union(*variants)
    result["higher_is_better"] = {k: v for k, v in result["higher_is_better"].items() if k in kept}
    return result


def grid_rows(dm, n_rows: int = 10) -> list[str]:
    """What each row of the record's sample grids is conditioned on, top to bottom.

    The rows `scoring.evaluate.sample_grid` draws from the first test batch: for vector
    conditions its distinct conditions, largest first (the same ``unique(...).flip(0)``), named
    by class (``digit 3``) or by the attributes requested on (``Male, Smiling``; ``none``);
    for image conditions the inputs themselves, so ``input k`` (the columns are the input,
    the real image, then the samples).
    """
    y = next(iter(dm.test_dataloader()))[1]
    if y.dim() == 4:
        return [f"input {i}" for i in range(min(n_rows, len(y)))]
    conds = torch.unique(y, dim=0).flip(0)[:n_rows]
    names = getattr(dm, "attributes", None)
    if dm.cond_kind == "label":
        prefix = "digit" if "mnist" in type(dm).__name__.lower() else "class"
        return [f"{prefix} {int(c.argmax())}" for c in conds]
    named = names or [f"a{i}" for i in range(y.shape[1])]
    return [
        ", ".join(n for n, v in zip(named, c.tolist(), strict=True) if v > 0.5) or "none"
        for c in conds
    ]


def as_scored(generator, task):
    """``generator`` as the task scores it: on colorization, keeping the input's lightness."""
    return KeepLightness(generator) if task.keep_lightness else generator


def sample_grids(model, task, dm, seed: int) -> dict:
    """The record's sample grids: the model's, and each variant's on the same conditions."""
    model = as_scored(model, task)  # what is scored is shown
    first_batch = next(iter(dm.test_dataloader()))
    grids = {"samples": sample_grid(model, *first_batch, seed=seed, composite=task.paste_back)}
    for variant in model.variants:  # the same conditions and noise, e.g. LC without its actor
        model.variant = variant
        grids[f"samples_{variant}"] = sample_grid(
            model, *first_batch, seed=seed, composite=task.paste_back
        )
        model.variant = None
    return grids
