"""Label information in a latent: how much of the condition a model's label-free latent carries.

A fresh probe (an MLP) is trained to predict y from ``model.label_free_latent(x, y)`` on
training images and scored on test images, per attribute (or over the classes):

- ``latent_auroc``: the probe's AUROC, macro mean over attributes (one-vs-rest over classes).
  0.5 means no readable label information whatever the attribute's base rate, 1 a perfect
  read-out; unlike an accuracy gap it is not near 0 by construction for rare attributes, so
  the latents of different models (CSVAE's z, CVAE's z, LC's unconditional VAE) compare.
- ``leakage`` / ``leakage_max``: probe accuracy minus the majority-class rate, mean and max.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchmetrics.functional.classification import binary_auroc, multiclass_auroc


@torch.no_grad()
def _latents(model, loader: DataLoader, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, d)`` latents and ``(N, A)`` conditions of the first ``limit`` items of ``loader``."""
    zs, ys, n = [], [], 0
    for x, y in loader:
        x, y = x.to(model.device), y.to(model.device)
        zs.append(model.label_free_latent(x, y).float().cpu())
        ys.append(y.cpu())
        n += len(x)
        if n >= limit:
            break
    return torch.cat(zs)[:limit], torch.cat(ys)[:limit]


def label_leakage(
    model,
    dm,
    cond_kind: str,
    names: list[str] | None = None,
    max_train: int = 20000,
    test_rows: list[int] | None = None,
    epochs: int = 30,
    hidden: int = 256,
    seed: int = 0,
) -> dict:
    """Probe the label-free latent of a trained model.

    Args:
        model: Has ``label_free_latent(x, y) -> (B, d)``.
        dm: A set-up DataModule; its train split trains the probe, its test split scores it.
        cond_kind: ``"label"`` (one softmax probe over the classes) or ``"attributes"``
            (one sigmoid per attribute).
        names: Attribute names for the per-attribute details (default ``a0, a1, ...``).
        max_train: Training images read (the first ones of the unshuffled train split).
        test_rows: Test rows scored (None: all), the profile's fixed evaluation sample.
        epochs: Probe training epochs (Adam 1e-3, batch 256).
        hidden: Width of the probe's two hidden layers.
        seed: Seed of the probe's initialisation and shuffling.

    Returns:
        ``{"leakage": mean gap, "leakage_max": largest gap, "latent_auroc": macro AUROC,
        "details": {name: {"probe", "majority", "gap", "auroc"}}, "settings": {...}}``, gaps
        being probe accuracy minus majority rate.
    """
    model.eval()
    train_loader = DataLoader(dm.train_set, batch_size=256)
    test_set = dm.test_set if test_rows is None else Subset(dm.test_set, test_rows)
    z_train, y_train = _latents(model, train_loader, max_train)
    z_test, y_test = _latents(model, DataLoader(test_set, batch_size=256), len(test_set))
    mean, std = z_train.mean(0), z_train.std(0) + 1e-6
    z_train, z_test = (z_train - mean) / std, (z_test - mean) / std

    label = cond_kind == "label"
    n_out = y_train.shape[1]
    torch.manual_seed(seed)
    probe = nn.Sequential(
        nn.Linear(z_train.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, n_out),
    )  # fmt: skip
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(z_train), generator=generator).split(256):
            logits = probe(z_train[idx])
            if label:
                loss = F.cross_entropy(logits, y_train[idx].argmax(1))
            else:
                loss = F.binary_cross_entropy_with_logits(logits, y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        logits = probe(z_test)
    if label:  # one score over the classes
        majority_class = y_train.argmax(1).bincount(minlength=n_out).argmax()
        probe_acc = (logits.argmax(1) == y_test.argmax(1)).float().mean()[None]
        majority = (y_test.argmax(1) == majority_class).float().mean()[None]
        auroc = multiclass_auroc(logits, y_test.argmax(1), n_out, average="macro")[None]
        names = ["class"]
    else:
        majority_value = (y_train.mean(0) >= 0.5).float()  # (A,)
        probe_acc = ((logits > 0).float() == y_test).float().mean(0)
        majority = (y_test == majority_value).float().mean(0)
        auroc = torch.stack([  # NaN where the test rows hold one value only
            binary_auroc(logits[:, a], y_test[:, a].long()) if 0 < y_test[:, a].mean() < 1
            else torch.tensor(float("nan")) for a in range(n_out)
        ])  # fmt: skip
        names = list(names or [f"a{i}" for i in range(n_out)])
    gap = probe_acc - majority
    return {
        "leakage": float(gap.mean()),
        "leakage_max": float(gap.max()),
        "latent_auroc": float(auroc.nanmean()),
        "details": {
            n: {"probe": float(p), "majority": float(m), "gap": float(g), "auroc": float(u)}
            for n, p, m, g, u in zip(names, probe_acc, majority, gap, auroc, strict=True)
        },
        "settings": {
            "probe": f"MLP {hidden}x2, Adam 1e-3, {epochs} epochs",
            "n_train": len(z_train),
            "n_test": len(z_test),
        },  # fmt: skip
    }
