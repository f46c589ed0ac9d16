"""Classification accuracy score (CAS, Ravuri & Vinyals 2019): learn the conditions from samples.

A fixed small classifier (`EvaluatorCNN` at width 16) is trained on a generator's samples,
labelled with the conditions they were drawn for, under a fixed budget (`STEPS` Adam steps of
`BATCH`), and tested on real held-out images. A generator whose samples carry the condition in
the way real images do scores near the ceiling (the same classifier trained on as many real
images); a prototype (one image per class) or a sampler that ignores its condition scores
lower, however well a frozen evaluator classifies each sample: CAS rewards samples that cover
each class, not only ones that sit at its centre.

Label tasks: accuracy. Attribute tasks: the mean over attributes of the balanced accuracy
(``attr_balanced``'s rule), so a classifier that predicts the majority scores 0.5.

Its own part of the code fingerprint (``cas``): records scored before it existed lack
``cas`` rather than going stale.
"""

import torch
import torch.nn.functional as F

from cgbench.metrics.classifiers import EvaluatorCNN

CAS_METRIC = "cas"
STEPS = 200  # Adam steps; with BATCH, a fixed compute for every generator of a task
BATCH = 64
LR = 1e-3
WIDTH = 16


def train_classifier(
    x: torch.Tensor, y: torch.Tensor, kind: str, seed: int, steps: int = STEPS
) -> EvaluatorCNN:
    """A fresh `EvaluatorCNN` trained on ``x`` ``(N, C, H, W)`` with conditions ``y``.

    ``kind``: ``label`` (``y`` one-hot, cross-entropy) or ``attributes`` (``y`` in {0, 1},
    per-attribute BCE). Batches are drawn with replacement from a generator seeded by
    ``seed``; the global RNG is left as it was (milestone scoring runs mid-training).
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = EvaluatorCNN(tuple(x.shape[1:]), y.shape[1], width=WIDTH)
        optimizer = torch.optim.Adam(net.parameters(), lr=LR)
        picks = torch.Generator().manual_seed(seed)
        net.train()
        for _ in range(steps):
            batch = torch.randint(len(x), (min(BATCH, len(x)),), generator=picks)
            logits = net(x[batch])
            if kind == "label":
                loss = F.cross_entropy(logits, y[batch].argmax(1))
            else:
                loss = F.binary_cross_entropy_with_logits(logits, y[batch].float())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: EvaluatorCNN, x: torch.Tensor, y: torch.Tensor, kind: str) -> float:
    """Accuracy (labels) or mean balanced accuracy over attributes of ``net`` on ``(x, y)``."""
    logits = torch.cat([net(x[i : i + 256]) for i in range(0, len(x), 256)])
    if kind == "label":
        return float((logits.argmax(1) == y.argmax(1)).float().mean())
    pred, true = logits > 0, y > 0.5
    rates = []
    for a in range(y.shape[1]):
        on, off = true[:, a], ~true[:, a]
        parts = [(pred[on, a]).float().mean()] if on.any() else []
        parts += [(~pred[off, a]).float().mean()] if off.any() else []
        rates.append(torch.stack(parts).mean())
    return float(torch.stack(rates).mean())


def cas(samples, conditions, real_x, real_y, kind: str, seed: int = 0, steps: int = STEPS):
    """CAS: train on ``(samples, conditions)``, test on the real ``(real_x, real_y)``."""
    net = train_classifier(samples, conditions, kind, seed, steps)
    return accuracy(net, real_x, real_y, kind)
