"""Per-row values of a run's ranking metric: what the two-level bootstrap resamples.

The ranking metric is computed once more by the shared loops (`evaluate.generation_scores`),
on the same rows with the same seed, so the same samples, keeping its items; these are
reduced to one vector per scored row, the mean over the row's K samples: ``(R, D)``. ``D`` is
1 for metrics that average per-image scores and ``2A`` for the attribute rates (what the
evaluator saw, what was asked, per attribute). A rate is a ratio of sums over samples, and
every sample of a row has its row's condition, so the rate computed on the row means equals
the rate on the samples. A metric over pooled features (FID-like) has no per-row value.

``rows`` are the test-split rows in visiting order (`evaluate.evaluation_order`): two runs
are paired row by row only when theirs are equal. An optional fingerprint part (``items``):
records made before it lack the file and are not stale for that.
"""

import torch

from cgbench.scoring.evaluate import build_metrics, evaluation_order, generation_scores

ITEMS_PART = "items"  # the fingerprint part, and the record field that describes the file


def row_items(generator, task, dm, context: dict, k_samples: int, seed: int, max_batches):
    """``{"metric", "rows" (R,), "values" (R, D), "score"}`` of ``task.primary``; None if none.

    ``score`` is the value the items give (`value_of_rows`), for the caller to check against
    the record's own score before keeping them.
    """
    metric = build_metrics([task.primary], context, {}).get(task.primary)
    if metric is None or not (metric.mean_of_items or hasattr(metric, "rate")):
        return None  # not there here, or a value over pooled features
    metric.keep_items, shapes = True, []
    update = metric.update

    def counted_update(x_hat, x, y):  # the loops' batches: (K, B) of each
        shapes.append(x_hat.shape[:2])
        update(x_hat, x, y)

    metric.update = counted_update
    generation_scores(generator, dm, {task.primary: metric}, k_samples, seed, max_batches,
                      task.paste_back)  # fmt: skip
    per_batch = []
    for (k, b), items in zip(shapes, metric.items, strict=True):
        items = items.double().reshape(len(items), -1)  # (K*B or B, D)
        if len(items) == k * b:  # per sample, sample-major like flatten(0, 1)
            items = items.view(k, b, -1).mean(0)
        elif len(items) != b:
            return None
        per_batch.append(items)
    values = torch.cat(per_batch)  # (R, D)
    rows = evaluation_order(dm, max_batches)[: len(values)]  # mode rows (multimodal) come after
    return {
        "metric": task.primary,
        "rows": torch.tensor(rows),
        "values": values.float(),
        "score": value_of_rows(metric, values),
    }


def value_of_rows(metric, values: torch.Tensor) -> float:
    """The metric's value on row means ``(R, D)``: the plain mean, or the attribute rates."""
    if hasattr(metric, "rate"):
        return metric.value_of(values)
    return float(values.double().mean())
