"""The shared evaluation loops: every model is scored by the same code on the same inputs."""

import inspect
import time
from collections.abc import Callable, Mapping

import torch
from torch.utils.data import DataLoader, Subset
from torchvision.utils import make_grid

from cgbench.config import lookup
from cgbench.metrics import METRICS, BenchMetric
from cgbench.metrics.leakage import label_leakage
from cgbench.metrics.multimodal import mode_coverage

EVAL_SUBSET_SEED = 0  # one fixed subset for every model, run and profile of a task


def eval_rows(n: int, limit: int | None) -> list[int]:
    """The rows of an ``n``-item test set that a profile scores: all, or a fixed random sample.

    A sample rather than the first rows, so a short profile scores the same distribution of
    conditions as a long one (test files are often sorted). Ascending, so batches are stable.
    """
    if limit is None or limit >= n:
        return list(range(n))
    generator = torch.Generator().manual_seed(EVAL_SUBSET_SEED)
    return sorted(torch.randperm(n, generator=generator)[:limit].tolist())


def paste_back(samples: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Completion: keep the visible pixels, ``m * x_hat + (1 - m) * x``.

    ``samples`` ``(K, B, C, H, W)``; ``y = cat(x * (1 - m), m)`` ``(B, C + 1, H, W)``.
    """
    mask = y[:, -1:]
    return samples * mask + y[:, :-1]


@torch.no_grad()
def draw(
    model, y: torch.Tensor, k: int, generator: torch.Generator, composite: bool = False
) -> torch.Tensor:
    """K samples for every condition: ``(B, ...)`` -> ``(K, B, C, H, W)``, pasted back if asked."""
    samples = torch.stack([model.generate(y, generator=generator) for _ in range(k)])
    return paste_back(samples, y) if composite else samples


def edit_targets(y: torch.Tensor, cond_kind: str, generator: torch.Generator) -> torch.Tensor:
    """A target condition per input: another class (labels) or one attribute flipped."""
    b, n = y.shape
    if cond_kind == "label":
        shift = torch.randint(1, n, (b,), generator=generator).to(y.device)
        return torch.nn.functional.one_hot((y.argmax(1) + shift) % n, n).to(y.dtype)
    flip = torch.nn.functional.one_hot(torch.randint(0, n, (b,), generator=generator), n)
    return (y - flip.to(y)).abs()  # (B, A): exactly one attribute toggled


@torch.no_grad()
def _score(
    model,
    loader: DataLoader,
    metrics: Mapping[str, BenchMetric],
    produce: Callable,
    seed: int,
    max_batches: int | None,
) -> tuple[dict[str, float], float]:
    """Update ``metrics`` with ``produce(x, y, generator) -> (x_hat, y_metric)`` per batch.

    ``max_batches`` cuts the loader (smoke tests); profiles pass a `eval_rows` subset instead.
    """
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    for metric in metrics.values():
        metric.reset()
        metric.to(model.device)
    seconds, n_images = 0.0, 0
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x, y = x.to(model.device), y.to(model.device)
        start = time.perf_counter()
        x_hat, y_metric = produce(x, y, generator)  # x_hat: (K, B, C, H, W)
        seconds += time.perf_counter() - start
        n_images += x_hat.shape[0] * x_hat.shape[1]
        for metric in metrics.values():
            metric.update(x_hat, x, y_metric)
    scores = {name: float(metric.compute()) for name, metric in metrics.items()}
    return scores, n_images / max(seconds, 1e-9)


def evaluate(
    model,
    loader: DataLoader,
    metrics: Mapping[str, BenchMetric],
    k_samples: int = 2,
    seed: int = 0,
    max_batches: int | None = None,
    composite: bool = False,
) -> tuple[dict[str, float], float]:
    """Score ``model.generate`` on ``loader`` with every metric.

    Args:
        model: A ``ConditionalGenerator``; put in eval mode here.
        loader: Test loader yielding ``(x, y)``.
        metrics: Metric objects by key; reset before use.
        k_samples: Samples drawn per condition.
        seed: Seed of the sampling generator, so a checkpoint always gets the same scores.
        max_batches: Stop after this many batches (smoke runs); None scores the whole loader.
        composite: Paste the visible pixels back before scoring (completion, `paste_back`).

    Returns:
        ``({metric: value}, samples per second of generate)``.
    """

    def produce(x, y, generator):
        return draw(model, y, k_samples, generator, composite), y

    return _score(model, loader, metrics, produce, seed, max_batches)


def evaluate_edits(
    model,
    loader: DataLoader,
    metrics: Mapping[str, BenchMetric],
    cond_kind: str,
    seed: int = 0,
    max_batches: int | None = None,
) -> tuple[dict[str, float], float]:
    """Score ``model.edit`` on real test images: one seeded target condition per image.

    Metrics receive ``x_hat = x_edit[None]``, ``x`` the source image and
    ``y = stack([y_source, y_target], 1)``; fidelity metrics therefore compare edit and source.

    Returns:
        ``({metric: value}, edits per second)``.
    """

    def produce(x, y, generator):
        target = edit_targets(y, cond_kind, generator)
        return model.edit(x, y, target)[None], torch.stack([y, target], dim=1)

    return _score(model, loader, metrics, produce, seed, max_batches)


def evaluate_flips(
    model, loader: DataLoader, metrics: Mapping[str, BenchMetric], cond_kind: str, seed: int = 0
) -> tuple[dict[str, float], float]:
    """Score prior samples drawn twice with the same noise: under y, then one condition flipped.

    Each batch draws a seeded target (`edit_targets`) and one generator seed; both calls of
    ``generate`` start from that seed, so they share z. Metrics receive
    ``x_hat = stack([x_source, x_target])`` and ``y = stack([y_source, y_target], 1)``.

    Returns:
        ``({metric: value}, pairs per second)``.
    """

    def produce(x, y, generator):
        target = edit_targets(y, cond_kind, generator)
        noise_seed = int(torch.randint(0, 2**62, (), generator=generator))
        pair = [model.generate(c, generator=torch.Generator().manual_seed(noise_seed))
                for c in (y, target)]  # fmt: skip
        return torch.stack(pair), torch.stack([y, target], dim=1)

    return _score(model, loader, metrics, produce, seed, None)


@torch.no_grad()
def sample_grid(
    model, x: torch.Tensor, y: torch.Tensor, n_rows: int = 10, n_cols: int = 8, seed=0,
    composite: bool = False,
):  # fmt: skip
    """Sample grid, one row per condition, the same conditions for every model.

    Vector conditions: the first ``n_rows`` distinct conditions of ``y``, ``n_cols`` samples
    each. Image conditions: the first ``n_rows`` inputs, each row showing the condition, the
    real image, then the samples (pasted back when ``composite``: what is scored is shown).

    Returns:
        A ``(3, H', W')`` tensor in [0, 1] ready for ``torchvision.utils.save_image``.
    """
    model.eval()
    if y.dim() == 4:
        conds, reals = y[:n_rows].to(model.device), x[:n_rows].to(model.device)
        shown = conds[:, : x.shape[1]]  # masked image, or lightness
        lead = [shown.expand(-1, x.shape[1], -1, -1), reals]  # (rows, C, H, W) each
    else:  # distinct conditions, largest first: for one-hot labels class 0, 1, 2, ...
        conds, lead = torch.unique(y, dim=0).flip(0)[:n_rows].to(model.device), []
    samples = draw(model, conds, n_cols, torch.Generator().manual_seed(seed), composite)
    columns = torch.cat([torch.stack(lead), samples]) if lead else samples
    tiles = columns.transpose(0, 1).flatten(0, 1)  # row-major: (rows * columns, C, H, W)
    nrow = columns.shape[0]
    return make_grid(tiles.cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=1)


DERIVED = {  # scores computed from others or outside the metric classes: higher is better?
    "pairwise_ms_ssim_gap": False,  # |samples' within-condition MS-SSIM - real data's|
    "mode_coverage": True,
    "mode_share_gap": False,
}


def build_metrics(names, context: dict, unavailable: dict) -> dict[str, BenchMetric]:
    """Metric objects for ``names``; each constructor gets the context entries it asks for.

    A metric whose dependency is None (LPIPS without weights) is left out and its reason goes
    to ``unavailable``, so its leaderboard cell stays empty instead of holding a fake number.
    """
    metrics = {}
    for name in names:
        cls = lookup(METRICS, name, "metric")
        wanted = inspect.signature(cls).parameters
        kwargs = {k: v for k, v in context.items() if k in wanted}
        if "net" in wanted and kwargs.get("net") is None:
            unavailable[name] = context["info"].get("unavailable", "no network weights")
            continue
        if "features" in wanted:  # distribution metrics: their feature space must be there
            space = (kwargs.get("features") or {}).get(cls.space_name)
            if space is None:
                unavailable[name] = context.get("features_unavailable", {}).get(
                    cls.space_name, f"no {cls.space_name} feature space for this task"
                )
                continue
        metrics[name] = cls(**kwargs)
    return metrics


def eval_batch_size(dm) -> int:
    """Scoring batch size: ``dm.eval_batch_size`` (set by `run.make_datamodule`) or its batch."""
    return getattr(dm, "eval_batch_size", None) or dm.batch_size


def evaluation_order(dm, max_batches: int | None) -> list[int]:
    """Test-split rows in the order `generation_scores` visits them (groups, then modes).

    External samples (`cgbench.external`) are served in this order; keep it in step with the
    loops below (the replay checks every batch's conditions, so a drift fails loudly).
    """
    groups = dm.test_groups() if hasattr(dm, "test_groups") else {"": dm.test_set}
    limit = None if max_batches is None else max_batches * eval_batch_size(dm)
    order = []
    for dataset in groups.values():
        rows = range(len(dataset)) if dataset is dm.test_set else dataset.indices  # a Subset
        order += [rows[i] for i in eval_rows(len(dataset), limit)]
    if hasattr(dm, "mode_targets"):  # mode_coverage: a fixed sample of the test split
        order += eval_rows(len(dm.mode_targets), limit)
    return order


def generation_scores(
    model, dm, metrics: dict, k_samples: int, seed: int, max_batches, composite: bool = False
):
    """Scores of ``model.generate`` on the test split or each of ``dm.test_groups()``.

    Each group is scored on its `eval_rows` (all rows, or the profile's fixed random sample of
    ``max_batches * batch_size``). Multimodal completion adds the mode metrics of
    `metrics.multimodal`. Metrics that keep items (the ranking metric) pool them over groups.

    Returns:
        ``({metric or metric@group: value}, {metric: details}, samples per second)``; pooled
        values over groups under the plain metric key.
    """
    groups = dm.test_groups() if hasattr(dm, "test_groups") else {"": dm.test_set}
    limit = None if max_batches is None else max_batches * eval_batch_size(dm)
    totals = {name: [0.0, 0] for name in metrics}  # pooled sum and count over groups
    for metric in metrics.values():
        metric.items = []
    scores, seconds, n_samples = {}, 0.0, 0
    for group, dataset in groups.items():
        rows = eval_rows(len(dataset), limit)
        loader = DataLoader(Subset(dataset, rows), batch_size=eval_batch_size(dm))
        group_scores, per_second = evaluate(model, loader, metrics, k_samples, seed,
                                            composite=composite)  # fmt: skip
        for name, metric in metrics.items():
            totals[name][0] += float(metric.total)
            totals[name][1] += int(metric.count)
            if group:
                scores[f"{name}@{group}"] = group_scores[name]
        n = k_samples * len(rows)  # images generated for this group
        seconds, n_samples = seconds + n / per_second, n_samples + n
    for name, (total, count) in totals.items():
        scores[name] = total / count if count else float("nan")
        if metrics[name].pools_kept_items:  # distribution metrics: over every group's samples
            one = len(groups) == 1
            scores[name] = (
                group_scores[name] if one else metrics[name].value_of(metrics[name].items)
            )
        elif not metrics[name].mean_of_items:  # per-attribute rates: the one group's value
            scores[name] = group_scores[name] if len(groups) == 1 else float("nan")
    if {"pairwise_ms_ssim", "pairwise_ms_ssim_real"} <= set(scores):  # two-sided diversity
        scores["pairwise_ms_ssim_gap"] = abs(
            scores["pairwise_ms_ssim"] - scores["pairwise_ms_ssim_real"]
        )
    details = {name: m.details() for name, m in metrics.items() if m.details()}
    if hasattr(dm, "mode_targets"):  # multimodal completion: which modes do the samples take?
        modes = mode_coverage(model, dm, k_samples, seed, eval_rows(len(dm.mode_targets), limit))
        details["modes"] = modes.pop("details")
        scores |= modes
    return scores, details, n_samples / max(seconds, 1e-9)


def score_model(
    model, dm, task, context: dict, k_samples: int = 5, seed: int = 0, max_batches=None
) -> dict:
    """Every score of one trained model on its task: the ``metrics.json`` score fields.

    Generation metrics run on the test split, or on each of ``dm.test_groups()`` (e.g. mask
    sizes) with keys ``<metric>@<group>`` plus the pooled value under ``<metric>``. Models with
    ``edit`` are also scored on the task's edit metrics (keys ``edit_<metric>``); each of a
    model's ``variants`` gets the generation metrics under ``variants.<name>``; models with a
    ``label_free_latent`` get the label-information probe (``leakage``, ``leakage_max``,
    ``latent_auroc``); label and attribute tasks get ``y_flip`` (`evaluate_flips`). The
    ranking metric gets a bootstrap interval over the scored test items
    (``scores_ci95``).

    Returns:
        ``{"scores", "scores_ci95", "higher_is_better", "metric_settings", "details",
        "unavailable", "samples_per_second", "variants"}``.
    """
    unavailable: dict[str, str] = {}
    metrics = build_metrics(task.metrics, context, unavailable)
    if task.primary in metrics:
        metrics[task.primary].keep_items = True
    sampling = (model, dm, metrics, k_samples, seed, max_batches, task.paste_back)

    def sample_scores():
        scores, details, per_second = generation_scores(*sampling)
        ci = metrics[task.primary].bootstrap_ci(seed=seed) if task.primary in metrics else None
        return scores, details, per_second, {task.primary: list(ci)} if ci else {}

    scores, details, per_second, ci95 = sample_scores()
    directions = {k: DERIVED[k] if k in DERIVED
                  else metrics[k.split("@")[0]].higher_is_better for k in scores}  # fmt: skip
    settings = {name: m.settings for name, m in metrics.items() if m.settings}
    variants = {}
    for variant in getattr(model, "variants", ()):
        model.variant = variant
        try:
            v_scores, v_details, v_speed, v_ci = sample_scores()
        finally:
            model.variant = None
        variants[variant] = {
            "scores": v_scores,
            "scores_ci95": v_ci,
            "details": v_details,
            "samples_per_second": round(v_speed, 1),
        }
    limit = None if max_batches is None else max_batches * eval_batch_size(dm)
    if hasattr(model, "label_free_latent") and dm.cond_kind != "image":
        leak = label_leakage(model, dm, dm.cond_kind, context.get("attribute_names"),
                             max_train=limit or 20000, test_rows=eval_rows(len(dm.test_set), limit),
                             seed=seed)  # fmt: skip
        for key in ("leakage", "leakage_max", "latent_auroc"):
            scores[key], directions[key] = leak[key], False
        details["leakage"], settings["leakage"] = leak["details"], leak["settings"]
    flips = not getattr(model, "replayed", False)  # external samples cannot be redrawn
    if flips and dm.cond_kind != "image" and context.get("classifier") is not None:
        flip_metrics = build_metrics(["y_flip"], context, unavailable)
        loader = DataLoader(Subset(dm.test_set, eval_rows(len(dm.test_set), limit)),
                            batch_size=eval_batch_size(dm))  # fmt: skip
        flip_scores, _ = evaluate_flips(model, loader, flip_metrics, dm.cond_kind, seed)
        scores["y_flip"], directions["y_flip"] = flip_scores["y_flip"], True
    if hasattr(model, "edit") and task.edit_metrics:
        edit_metrics = build_metrics(task.edit_metrics, context, unavailable)
        subset = Subset(dm.test_set, eval_rows(len(dm.test_set), limit))
        loader = DataLoader(subset, batch_size=eval_batch_size(dm))
        edit_scores, _ = evaluate_edits(model, loader, edit_metrics, dm.cond_kind, seed)
        for name, metric in edit_metrics.items():
            key = name if name.startswith("edit_") else f"edit_{name}"
            scores[key], directions[key] = edit_scores[name], metric.higher_is_better
            if metric.settings:
                settings[key] = metric.settings
    return {
        "scores": scores,
        "scores_ci95": ci95,
        "higher_is_better": directions,
        "metric_settings": settings,
        "details": details,
        "unavailable": unavailable,
        "samples_per_second": round(per_second, 1),
        "variants": variants,
    }
