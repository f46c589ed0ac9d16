"""Modes on multimodal completion: which valid answers do a model's K samples take?

Every test input of ``completion_mnist_multimodal`` has two valid completions: the plain digit
and the digit whose top half is overlaid with its partner's (``dm.mode_targets``); the mask
hides the whole top half, so nothing visible tells them apart. A sample takes a mode when
its L1 over the hidden pixels to that mode is under half the modes' own L1 (the two balls
cannot meet); otherwise it takes *neither* (a blank or a smeared top: not a valid answer,
so it never counts as the plain digit). Two questions, matching cGML's two claims, each with
an absolute target beside it:

- ``mode_coverage``: the share of inputs whose K samples reach both modes (the claim at a
  frequent alternate mode); a model that always draws the same completion scores 0, and an
  ideal sampler, drawing the overlaid mode at the data's rate p, ``1 - p^K - (1 - p)^K``
  (``details.ideal_coverage``: 0.83 at p = 0.3, K = 5).
- ``mode_share_gap``: ``|share of samples in the overlaid mode - share of inputs whose target
  is overlaid|``; a sampler drawing modes at their data frequency scores about 0, one that
  always converges to the plain digit scores the overlay rate (the claim at 20%). It reads
  with ``details.plain_share`` and ``neither_share``: converging to the plain digit is a high
  plain share, not only a low overlaid one.
"""

import torch


@torch.no_grad()
def mode_coverage(model, dm, k_samples: int = 5, seed: int = 0, rows: list[int] | None = None):
    """Mode metrics over the test inputs ``rows`` (default: all), ``k_samples`` samples each.

    Returns:
        ``{"mode_coverage", "mode_share_gap", "details": {"plain_hit", "overlaid_hit",
        "overlaid_share", "true_overlaid_share"}}``: ``*_hit`` the share of inputs with at
        least one sample in that mode, ``overlaid_share`` the share of samples in the overlaid
        mode, ``true_overlaid_share`` the share of the inputs whose target is overlaid.
    """
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    rows = list(range(len(dm.mode_targets))) if rows is None else list(rows)
    hits, nearest_all = [], []
    for start in range(0, len(rows), dm.batch_size):
        idx = rows[start : start + dm.batch_size]
        y = torch.stack([dm.test_set[i][1] for i in idx]).to(model.device)
        hidden = y[:, -1:]  # (B, 1, H, W), 1 where the input hides pixels
        modes = dm.mode_targets[idx].to(model.device)  # (B, 2, 1, H, W): plain, overlaid
        samples = torch.stack([model.generate(y, generator) for _ in range(k_samples)], 1)
        dist = ((samples[:, :, None] - modes[:, None]).abs() * hidden[:, None, None]).sum((3, 4, 5))
        apart = ((modes[:, 0] - modes[:, 1]).abs() * hidden).sum((1, 2, 3))  # (B,)
        nearest = dist.argmin(2)  # (B, K): 0 plain, 1 overlaid, and 2 (neither) outside both
        nearest[dist.min(2).values >= apart[:, None] / 2] = 2
        nearest_all.append(nearest.cpu())
        hits.append(torch.stack([(nearest == m).any(1) for m in (0, 1)], 1).cpu())
    hits, nearest = torch.cat(hits).float(), torch.cat(nearest_all)  # (N, 2), (N, K)
    overlaid_share = float((nearest == 1).float().mean())
    true_share = float(dm.test_modes[rows, 2].float().mean())
    return {
        "mode_coverage": float(hits.all(1).float().mean()),
        "mode_share_gap": abs(overlaid_share - true_share),
        "details": {
            "plain_hit": float(hits[:, 0].mean()),
            "overlaid_hit": float(hits[:, 1].mean()),
            "plain_share": float((nearest == 0).float().mean()),
            "overlaid_share": overlaid_share,
            "neither_share": float((nearest == 2).float().mean()),
            "true_overlaid_share": true_share,
            "ideal_coverage": 1 - true_share**k_samples - (1 - true_share) ** k_samples,
        },
    }
