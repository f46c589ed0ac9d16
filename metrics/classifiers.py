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
        while size >= 8:  # 28 -> 14 -> 7; 64 -> 32 -> 16 -> 8 -> 4
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
def accuracy(classifier: nn.Module, loader: DataLoader, cond_kind: str) -> float:
    """Label accuracy, or mean per-attribute accuracy, of ``classifier`` on ``loader``."""
    classifier.eval()
    correct, total = 0.0, 0
    for x, y in loader:
        logits = classifier(x)
        if cond_kind == "label":
            correct += (logits.argmax(1) == y.argmax(1)).sum().item()
        else:
            correct += ((logits > 0).float() == y).float().mean(1).sum().item()
        total += len(x)
    return correct / max(total, 1)


def train_classifier(
    train_loader: DataLoader,
    test_loader: DataLoader,
    x_shape: tuple[int, int, int],
    n_outputs: int,
    cond_kind: str,
    epochs: int = 4,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[nn.Module, dict]:
    """Train an `EvaluatorCNN` with Adam and a cosine schedule; return it and its record.

    Returns:
        The frozen classifier in eval mode, and ``{"test_acc", "epochs", "train_seconds", ...}``.
    """
    torch.manual_seed(seed)
    classifier = EvaluatorCNN(x_shape, n_outputs)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=max(1, epochs * len(train_loader))
    )
    start = time.perf_counter()
    for _ in range(epochs):
        classifier.train()
        for x, y in train_loader:
            loss = classification_loss(classifier(x), y, cond_kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    seconds = time.perf_counter() - start
    test_acc = accuracy(classifier, test_loader, cond_kind)
    classifier.requires_grad_(False)
    record = {"test_acc": test_acc, "epochs": epochs, "lr": lr, "seed": seed}
    record["train_seconds"] = round(seconds, 1)
    return classifier, record
