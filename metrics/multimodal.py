"""Mode coverage on multimodal completion: do a model's K samples reach both valid answers?

Every test input of ``completion_mnist_multimodal`` has two valid completions: the plain digit
and the digit whose top half is overlaid with its partner's (``dm.mode_targets``). Each sample
is assigned to the mode nearer in L1 over the hidden pixels; an input is covered when its K
samples reach both modes. A model that always draws the same completion scores 0.
"""

import torch


@torch.no_grad()
def mode_coverage(model, dm, k_samples: int = 5, seed: int = 0, max_items: int | None = None):
    """Fraction of test inputs whose ``k_samples`` samples reach both modes.

    Returns:
        ``{"mode_coverage": float, "details": {"plain_hit": ..., "overlaid_hit": ...}}``: the
        share of inputs with at least one sample in each mode.
    """
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    targets = dm.mode_targets  # (N, 2, 1, H, W)
    n = len(targets) if max_items is None else min(max_items, len(targets))
    hits = []
    for start in range(0, n, dm.batch_size):
        idx = range(start, min(start + dm.batch_size, n))
        y = torch.stack([dm.test_set[i][1] for i in idx]).to(model.device)
        hidden = y[:, -1:]  # (B, 1, H, W), 1 where the input hides pixels
        modes = targets[start : start + len(idx)].to(model.device)
        samples = torch.stack([model.generate(y, generator) for _ in range(k_samples)], 1)
        dist = ((samples[:, :, None] - modes[:, None]).abs() * hidden[:, None, None]).sum((3, 4, 5))
        nearest = dist.argmin(2)  # (B, K): 0 plain, 1 overlaid
        hits.append(torch.stack([(nearest == m).any(1) for m in (0, 1)], 1))
    hits = torch.cat(hits).float()  # (N, 2)
    return {
        "mode_coverage": float(hits.all(1).float().mean()),
        "details": {
            "plain_hit": float(hits[:, 0].mean()),
            "overlaid_hit": float(hits[:, 1].mean()),
        },
    }
