"""Generators that learn nothing: fills, blends, prototypes and retrieval for the floor rows.

Each function returns one image per scored row; `cgbench.cells.references` repeats it over the
K samples. Images are in the tasks' [-1, 1] range. What a floor may look at: the condition it
is given and the training (or validation) split, never the scored test images.
"""

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import splu

from cgbench.color import lab_to_rgb, rgb_to_lab
from cgbench.datamodules.image_source import tensors_of

NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def split_tensors(dm, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(M, C, H, W)`` and conditions of a split (the base dataset's for image tasks)."""
    source = getattr(getattr(dm, "base", dm), f"{split}_set")
    try:
        x, y = tensors_of(source)[:2]
    except TypeError:  # a dataset of pairs with no tensors behind it
        x, y = (torch.stack(t) for t in zip(*(source[i] for i in range(len(source))), strict=True))
    return x, y.float()


def poisson_fill(image: torch.Tensor, hole: torch.Tensor, guide: torch.Tensor | None = None):
    """Solve Laplace's (or Poisson's) equation inside a hole, the visible pixels as boundary.

    Args:
        image: ``(C, H, W)``; values outside the hole are the boundary condition.
        hole: ``(H, W)`` bool, the pixels to fill.
        guide: ``(C, H, W)`` image whose Laplacian the fill keeps (Pérez et al. 2003's
            seamless cloning); None: the harmonic fill (zero Laplacian, the smoothest fill).

    Returns:
        ``(C, H, W)``: ``image`` with the hole filled. Image borders are reflecting
        (Neumann); a hole with no visible pixel gets the guide (or zeros).
    """
    hole_np = hole.numpy().astype(bool)
    if not hole_np.any():
        return image.clone()
    if hole_np.all():
        return (guide if guide is not None else torch.zeros_like(image)).clone()
    img = image.double().numpy()  # (C, H, W)
    gui = guide.double().numpy() if guide is not None else np.zeros_like(img)
    height, width = hole_np.shape
    index = -np.ones((height, width), dtype=np.int64)
    ys, xs = np.nonzero(hole_np)
    index[ys, xs] = np.arange(len(ys))
    degree = np.zeros(len(ys))
    rhs = np.zeros((len(ys), img.shape[0]))  # (n, C)
    rows, cols = [], []
    for dy, dx in NEIGHBOURS:
        qy, qx = ys + dy, xs + dx
        inside = (qy >= 0) & (qy < height) & (qx >= 0) & (qx < width)
        p, qy, qx = np.nonzero(inside)[0], qy[inside], qx[inside]
        degree[p] += 1
        rhs[p] += (gui[:, ys[p], xs[p]] - gui[:, qy, qx]).T  # the guide's gradient
        q = index[qy, qx]
        unknown = q >= 0
        rows.append(p[unknown])
        cols.append(q[unknown])
        rhs[p[~unknown]] += img[:, qy[~unknown], qx[~unknown]].T  # Dirichlet boundary
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    n = len(ys)
    matrix = coo_matrix(
        (
            np.concatenate([degree, -np.ones(len(rows))]),
            (np.concatenate([np.arange(n), rows]), np.concatenate([np.arange(n), cols])),
        ),
        shape=(n, n),
    ).tocsc()
    solved = splu(matrix).solve(rhs)  # (n, C)
    out = image.clone()
    out[:, ys, xs] = torch.from_numpy(solved.T).to(image.dtype)
    return out.clamp(-1, 1)


def completion_fills(kind: str, y: torch.Tensor, dm) -> torch.Tensor:
    """``ref_harmonic``, ``ref_meanface_blend`` or ``ref_nn_blend`` fills ``(N, C, H, W)``.

    ``y``: completion conditions ``(N, C + 1, H, W)``, visible pixels and the hole mask last.
    The blends Poisson-clone a training image into the hole: the mean training image (one
    fixed image), or the training image nearest the input on its visible pixels (L2).
    """
    visible, hole = y[:, :-1], y[:, -1] > 0.5
    guides = [None] * len(y)
    if kind != "ref_harmonic":
        train, _ = split_tensors(dm)
        if kind == "ref_meanface_blend":
            guides = [train.mean(0)] * len(y)
        else:
            guides = list(train[nearest_on_visible(visible, hole, train)])
    return torch.stack(
        [poisson_fill(v, h, g) for v, h, g in zip(visible, hole, guides, strict=True)]
    )


def nearest_on_visible(visible, hole, train: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """``(N,)`` index of the training image nearest each input on its visible pixels (L2).

    ``visible`` ``(N, C, H, W)``, ``hole`` ``(N, H, W)``; the distance over visible pixels
    expands as ``sum m x^2 - 2 sum m x t + sum m t^2``, two matrix products per chunk.
    """
    flat = train.flatten(1)  # (M, D)
    picks = []
    for v, h in zip(visible.split(chunk), hole.split(chunk), strict=True):
        seen = (~h)[:, None].expand_as(v).flatten(1).float()  # (n, D)
        cross = (seen * v.flatten(1)) @ flat.T  # (n, M)
        energy = seen @ (flat**2).T  # (n, M); sum m x^2 is the same for every candidate
        picks.append((energy - 2 * cross).argmin(1))
    return torch.cat(picks)


def nearest_conditions(y, pool_y, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(N, K)`` rows of ``pool_y`` ``(M, A)`` nearest each condition of ``y`` ``(N, A)``.

    L1 distance between condition vectors (one-hot labels: 0 for the same class), ties broken
    at random by a jitter smaller than any real gap.
    """
    picks = []
    for chunk in y.float().split(256):  # (256, M) distances at a time
        dist = torch.cdist(chunk, pool_y, p=1)
        jitter = torch.rand(dist.shape, generator=generator) * 0.5
        picks.append((dist + jitter).topk(k, dim=1, largest=False).indices)
    return torch.cat(picks)


def condition_mean(y, dm, k: int, generator: torch.Generator) -> torch.Tensor:
    """Mean of the ``k`` validation images nearest each condition ``(N, C, H, W)``.

    Validation, not training, faces: the frozen evaluator was trained on the training split.
    """
    pool_x, pool_y = split_tensors(dm, "val")
    picks = nearest_conditions(y, pool_y, k, generator)  # (N, k)
    return torch.stack([pool_x[p].mean(0) for p in picks])


def class_mean(y, dm) -> torch.Tensor:
    """The mean training image of each row's class ``(N, C, H, W)`` (one-hot ``y``)."""
    train, train_y = split_tensors(dm)
    means = (train_y.T @ train.flatten(1)) / train_y.sum(0)[:, None].clamp(min=1)  # (A, D)
    return (y.float() @ means).view(len(y), *train.shape[1:])


def additive_face(y, dm) -> torch.Tensor:
    """Mean face plus, per attribute, ``(y_a - p_a)(mean_on_a - mean_off_a)``: 1 + A images.

    ``p_a``: the attribute's training frequency, so the average condition gets the mean face.
    """
    train, train_y = split_tensors(dm)
    flat = train.flatten(1)  # (M, D)
    on = (train_y.T @ flat) / train_y.sum(0)[:, None].clamp(min=1)  # (A, D)
    off = ((1 - train_y).T @ flat) / (1 - train_y).sum(0)[:, None].clamp(min=1)
    face = flat.mean(0) + (y.float() - train_y.mean(0)) @ (on - off)  # (N, D)
    return face.view(len(y), *train.shape[1:]).clamp(-1, 1)


def chroma(kind: str, y: torch.Tensor, dm, k: int) -> torch.Tensor:
    """The input lightness with borrowed colour: ``ref_mean_chroma`` or ``ref_nn_chroma``.

    ``y``: lightness ``(N, 1, H, W)`` in [-1, 1]. The mean training ab image, or the mean ab of
    the ``k`` training faces nearest in lightness (L2 over the L channel).
    """
    train, _ = split_tensors(dm)
    lab = rgb_to_lab((train + 1) / 2)  # (M, 3, H, W)
    ab, light = lab[:, 1:], lab[:, :1] / 50 - 1
    if kind == "ref_mean_chroma":
        colour = ab.mean(0, keepdim=True).expand(len(y), -1, -1, -1)
    else:
        dist = torch.cdist(y.flatten(1), light.flatten(1))  # (N, M)
        picks = dist.topk(k, dim=1, largest=False).indices  # (N, k)
        colour = torch.stack([ab[p].mean(0) for p in picks])
    return lab_to_rgb(torch.cat([(y + 1) * 50, colour], 1)) * 2 - 1
