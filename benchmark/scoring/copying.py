"""Copying check: how many samples sit closer to a training image than training images do.

An authenticity test in the spirit of Alaa et al. (2022, "How faithful is your synthetic
data?"): sample ``s`` counts as a copy when its nearest training image ``t`` (in the task's
evaluator feature space, the space of the ``*_eval`` distribution metrics) is nearer to ``s``
than to any other training image. A copy of the training set scores 1; real test images,
which the generators never saw, give the rate an honest sampler of the data scores (the
``ref_real`` row), so ``copy_rate`` is read against that row, not against 0.

The check is its own part of a record's code fingerprint (``copying``): records scored before
it existed lack ``copy_rate`` rather than going stale.
"""

import torch

COPY_METRIC = "copy_rate"
CHUNK = 1024  # rows of a distance matrix held at once: (1024, M) float32


def nearest(queries: torch.Tensor, pool: torch.Tensor, skip: torch.Tensor | None = None):
    """``(distance, index)`` of each query's nearest pool row, Euclidean, ``(N,)`` each.

    ``skip`` ``(N,)``: a pool row each query may not pick (itself, when queries are pool rows).
    Computed in float32: distances agree with float64 to about 1e-4.
    """
    queries, pool = queries.float(), pool.float()
    dists, picks = [], []
    for start in range(0, len(queries), CHUNK):
        d = torch.cdist(queries[start : start + CHUNK], pool)  # (n, M)
        if skip is not None:
            d[torch.arange(len(d)), skip[start : start + CHUNK]] = float("inf")
        best = d.min(1)
        dists.append(best.values)
        picks.append(best.indices)
    return torch.cat(dists), torch.cat(picks)


def copy_rate(samples: torch.Tensor, train: torch.Tensor) -> float:
    """Share of sample features ``(N, D)`` nearer their nearest training row than its radius.

    A training row's radius is its distance to its nearest other training row; only the rows
    some sample lands next to need one, so the cost is ``N x M``, not ``M x M``.
    """
    dist, index = nearest(samples, train)
    rows = index.unique()
    radius = torch.full((len(train),), float("nan"))
    radius[rows] = nearest(train[rows], train, skip=rows)[0]
    return float((dist < radius[index]).double().mean())
