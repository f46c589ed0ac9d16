"""Evaluator classifiers: small CNNs trained by the suite, frozen, and shared by every model.

``train_classifier`` fits one on a task's training split and reports its accuracy on the
task's test split; that accuracy is the ceiling printed beside every ``attr_acc``.
"""

import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader


class EvaluatorCNN(nn.Module):
    """VGG-style CNN for ``(N, C, H, W)`` images in [-1, 1] -> ``(N, n_outputs)`` logits.

    Args:
        x_shape: ``(C, H, W)`` of the images.
        n_outputs: Classes (label tasks) or attributes (multi-label tasks).
        width: Channels of the first block; each later block doubles it.

    >>> EvaluatorCNN((1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, x_shape: tuple[int, int, int], n_outputs: int, width: int = 32):
        super().__init__()
        channels, size = x_shape[0], x_shape[1]
        layers: list[nn.Module] = []
        if size > 32:  # 64 px faces: a strided stem keeps the cost of the 64x64 layers down
            layers += [nn.Conv2d(channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU()]
            channels, size = width, size // 2
        while size >= 8:  # 28 -> 14 -> 7; 32 -> 16 -> 8 -> 4
            layers += [
                nn.Conv2d(channels, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels, width, size = width, width * 2, size // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(channels * size * size, 128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def classification_loss(logits: torch.Tensor, y: torch.Tensor, cond_kind: str) -> torch.Tensor:
    """Cross-entropy on one-hot labels, or per-attribute BCE on multi-hot attributes."""
    if cond_kind == "label":
        return F.cross_entropy(logits, y.argmax(1))
    return F.binary_cross_entropy_with_logits(logits, y)


@torch.no_grad()
def accuracy(
    classifier: nn.Module, loader: DataLoader, cond_kind: str
) -> tuple[float, list[float]]:
    """Accuracy of ``classifier`` on ``loader``: overall and per column.

    Labels: overall accuracy and per-class recall. Attributes: mean per-attribute accuracy and
    each attribute's accuracy.
    """
    classifier.eval()
    hits, counts, items = 0.0, 0.0, 0
    for x, y in loader:
        logits = classifier(x)
        if cond_kind == "label":
            right = (logits.argmax(1) == y.argmax(1)).float()[:, None] * y
            hits, counts = hits + right.sum(0), counts + y.sum(0)
        else:
            hits, counts = hits + ((logits > 0).float() == y).float().sum(0), counts + len(x)
        items += len(x)
    per_column = (hits / torch.as_tensor(counts).clamp(min=1)).tolist()
    overall = (
        hits.sum().item() / items if cond_kind == "label" else sum(per_column) / len(per_column)
    )
    return overall, per_column


def train_classifier(
    train_loader: DataLoader,
    x_shape: tuple[int, int, int],
    n_outputs: int,
    cond_kind: str,
    epochs: int = 4,
    lr: float = 1e-3,
    seed: int = 0,
    flip: bool = False,
    width: int = 32,
) -> tuple[nn.Module, dict]:
    """Train an `EvaluatorCNN` with Adam and a one-cycle schedule; return it and its record.

    Args:
        train_loader: Training pairs ``(x, y)``.
        x_shape: ``(C, H, W)`` of the images.
        n_outputs: Classes or attributes.
        cond_kind: ``"label"`` or ``"attributes"``.
        epochs: Passes over the training set.
        lr: Peak learning rate.
        seed: Seed of the initialisation and the flips.
        flip: Mirror a random half of each batch (faces; not digits).
        width: Channels of the first block of the `EvaluatorCNN`.

    Returns:
        The frozen classifier in eval mode, and its training settings and seconds. Held-out
        accuracy is measured by the caller with `accuracy`.
    """
    torch.manual_seed(seed)
    classifier = EvaluatorCNN(x_shape, n_outputs, width)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=max(1, epochs * len(train_loader))
    )
    start = time.perf_counter()
    for _ in range(epochs):
        classifier.train()
        for x, y in train_loader:
            if flip:
                mirror = torch.rand(len(x)) < 0.5
                x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
            loss = classification_loss(classifier(x), y, cond_kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    seconds = time.perf_counter() - start
    classifier.eval().requires_grad_(False)
    record = {"epochs": epochs, "lr": lr}
    record |= {"seed": seed, "flip": flip, "width": width}
    record["train_seconds"] = round(seconds, 1)
    return classifier, record
