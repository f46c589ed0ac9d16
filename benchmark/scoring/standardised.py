"""FID and KID on standardised evaluator features: `fid_evalz`, `kid_evalz` (issue 35).

The evaluator's last hidden layer has features of very different scales, so the cubic kernel
of KID and the nearest-neighbour balls of precision/recall are ruled by a few large units: on
held-out CelebA faces (`results/fid_sanity.csv`) raw evaluator KID falls when faces are mildly
blurred, noised or JPEG'd, and its spread over subsets is as large as its value. Each feature
is therefore centred and scaled by the real *training* images' mean and standard deviation
(units that never vary on them are left out) before FID and KID; on the same faces both then
rise at every step of every corruption ladder and KID on clean held-out faces is within its
spread of 0.

One sample per scored test row (the first of its K, as the copying check and CAS draw them)
against the scored rows' real test images, so values compare only within a task and profile.
Its own optional part of the code fingerprint (``standardised``): records scored before it lack
the columns rather than going stale.
"""

import torch

from cgbench.metrics.distribution import frechet_distance, kernel_distance

STANDARDISED = ("fid_evalz", "kid_evalz")  # both lower is better


def standardiser(train: torch.Tensor):
    """``(N, D) -> (N, D')`` features centred and scaled by ``train`` ``(M, D)``'s statistics.

    D' keeps the units whose training spread is above 1e-6 of the largest (a unit that is
    always 0 on real images would divide by nothing).
    """
    train = train.double()
    mean, spread = train.mean(0), train.std(0)
    alive = spread > 1e-6 * spread.max()

    def apply(feats: torch.Tensor) -> torch.Tensor:
        return ((feats.double() - mean) / spread)[:, alive]

    return apply


def standardised_distances(
    fake: torch.Tensor, real: torch.Tensor, train: torch.Tensor
) -> tuple[dict, dict]:
    """``({"fid_evalz", "kid_evalz"}, {"kid_evalz": {"std", "subset"}})`` of raw features.

    ``fake`` ``(N, D)`` samples, ``real`` ``(M, D)`` test images, ``train`` training images,
    all in the evaluator's raw feature space.
    """
    apply = standardiser(train)
    fake, real = apply(fake), apply(real)
    kid, spread, subset = kernel_distance(real, fake)
    scores = {"fid_evalz": frechet_distance(real, fake), "kid_evalz": kid}
    return scores, {"kid_evalz": {"std": spread, "subset": subset, "n_samples": len(fake)}}
