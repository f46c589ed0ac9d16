"""The copying check of a scored cell: its samples' `copy_rate` against the training split.

One sample per scored test row (the first of its K; completion pasted back as scored), in the
evaluator space of the task's distribution metrics (`cgbench.scoring.copying`). The training
features are cached per evaluator and data checksum.
"""

import hashlib
import json

import torch
from torch.utils.data import DataLoader, Subset

from cgbench.cells.no_learning import split_tensors
from cgbench.config import EVAL_DEFAULTS, cache_dir
from cgbench.scoring.copying import COPY_METRIC, copy_rate
from cgbench.scoring.evaluate import draw, eval_batch_size, evaluation_order, paste_back
from cgbench.scoring.spaces import evaluator_space


def first_samples(generator, dm, rows: list[int], seed: int, composite: bool) -> torch.Tensor:
    """``(N, C, H, W)``: one sample per row (replayed samples: their first draw)."""
    if getattr(generator, "replayed", False):
        first, y = generator.first_draws(rows)
        return paste_back(first[None], y)[0] if composite else first  # as scoring serves them
    generator.eval()
    torch_generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(Subset(dm.test_set, rows), batch_size=eval_batch_size(dm))
    out = [
        draw(generator, y.to(generator.device), 1, torch_generator, composite)[0].cpu()
        for _, y in loader
    ]
    return torch.cat(out)


def training_features(space, dm) -> torch.Tensor:
    """``(M, D)`` features of the training split, cached as the spaces' real references are."""
    key = json.dumps([space.digest, dm.data_checksum, "train"])
    cache = cache_dir() / "features" / f"train-{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"
    x, y = split_tensors(dm)
    space.set_reference(x, y, cache)
    return space.real


def copy_scores(generator, scoring, cfg: dict) -> tuple[dict, dict]:
    """``({"copy_rate": share}, {})``, or ``({}, {"copy_rate": why not})``."""
    space, reason = evaluator_space(scoring.task, scoring.dm, scoring.classifier)
    if space is None:
        return {}, {COPY_METRIC: reason}
    max_batches = (EVAL_DEFAULTS | cfg["eval"])["max_batches"]
    rows = sorted(set(evaluation_order(scoring.dm, max_batches)))
    samples = first_samples(generator, scoring.dm, rows, cfg["seed"], scoring.task.paste_back)
    return {COPY_METRIC: copy_rate(space(samples), training_features(space, scoring.dm))}, {}
