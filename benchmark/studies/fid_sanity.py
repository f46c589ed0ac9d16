"""Do the distribution metrics order corrupted real faces as the eye does (`make fid-sanity`)?

Real CelebA test faces (64 px, the celeba task's preprocessing) against held-out validation
faces, then against the same validation faces blurred, noised and JPEG-compressed at rising
strength, in each feature space: Inception, the frozen CelebA evaluator's last hidden layer
as scored (``evaluator``), and the same features standardised by the real training faces'
per-feature mean and spread (``evaluator_std``, issue 35's candidate). Validation faces play
the samples: like a generator's output, the evaluator never trained on them. A row of
uncorrupted *training* faces shows what the evaluator's memory of its own training set does
(the first version of this study laddered training faces and read that as the metric's
fault). `behaves` applies the rule a distribution metric must pass to stay in the tables:
every ladder moves it away from the uncorrupted faces at every step, and on the uncorrupted
held-out faces KID is within 2 of its subset spreads of 0.
``python -m cgbench.studies.fid_sanity [N]`` (N faces per set, 200 by default; its
``images_per_s`` column says what each space costs on the host) writes
``results/fid_sanity.csv``.
"""

import io
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torchvision.transforms.v2.functional import gaussian_blur

from cgbench.cells.pipeline import make_datamodule
from cgbench.config import run_config
from cgbench.evaluators import frozen_network
from cgbench.metrics.distribution import frechet_distance, kernel_distance, prdc
from cgbench.metrics.features import (
    INCEPTION_SHA256,
    FeatureSpace,
    evaluator_extractor,
    inception_extractor,
    load_inception,
)
from cgbench.scoring.standardised import standardiser


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of ``(N, C, H, W)`` images in [-1, 1] at ``quality``."""
    out = []
    for image in ((x + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(image.squeeze()).save(buffer, format="JPEG", quality=quality)
        decoded = torch.from_numpy(np.array(Image.open(buffer))).float() / 127.5 - 1
        out.append(decoded.reshape(image.shape).permute(2, 0, 1))
    return torch.stack(out)


def ladders(faces: torch.Tensor) -> dict[str, torch.Tensor]:
    """The corrupted sets of ``faces``, mildest first within each kind."""
    noise = torch.randn(faces.shape, generator=torch.Generator().manual_seed(0))
    sets = {"none": faces}
    sets |= {f"blur sigma {s}": gaussian_blur(faces, [9, 9], [s, s]) for s in (0.5, 1.0, 2.0)}
    sets |= {f"noise sigma {s}": (faces + s * noise).clamp(-1, 1) for s in (0.05, 0.1, 0.2)}
    sets |= {f"jpeg quality {q}": jpeg(faces, q) for q in (50, 20, 5)}
    return sets


def spaces(train: torch.Tensor) -> dict[str, FeatureSpace]:
    """Every feature space (Inception only when its file is installed).

    ``train``: real training faces ``(M, 3, 64, 64)``, whose evaluator features give the
    standardised space its per-feature mean and spread.
    """
    evaluator = evaluator_extractor(frozen_network("celeba", (3, 64, 64))[0])
    out = {"evaluator": FeatureSpace("evaluator", evaluator, "celeba", 256)}
    apply = standardiser(out["evaluator"](train))  # the scored fid_evalz's own transform

    def standardised(x: torch.Tensor) -> torch.Tensor:
        return apply(evaluator(x))

    out["evaluator_std"] = FeatureSpace("evaluator_std", standardised, "celeba", 256)
    net, reason = load_inception()
    if net is None:
        print(f"inception skipped: {reason}")
    else:
        out["inception"] = FeatureSpace("inception", inception_extractor(net), INCEPTION_SHA256, 32)
    return out


TRAINING = "training faces"  # uncorrupted faces the evaluator trained on
STATS_FACES = 2000  # training faces behind the standardised space's mean and spread
FARTHER = {"fid": 1, "kid": 1, "precision": -1, "recall": -1, "density": -1, "coverage": -1}


def behaves(table: pd.DataFrame) -> pd.DataFrame:
    """Per (features, metric): does every ladder step move it away from the clean faces?

    A step passes when the metric is worse (`FARTHER`'s direction) than at the step before
    it, the first step against ``none``; KID must also sit within 2 subset spreads of 0 on
    ``none`` (same distribution). Returns one row per (features, metric) with ``steps_ok``,
    ``steps``, ``kid_null_ok`` (KID only) and ``keep``.
    """
    rows = []
    for features, part in table.groupby("features", sort=False):
        part = part.set_index("corruption")
        kinds = dict.fromkeys(
            c.rsplit(" ", 1)[0] for c in part.index if c not in ("none", TRAINING)
        )
        for metric, sign in FARTHER.items():
            ok = steps = 0
            for kind in kinds:
                ladder = ["none", *(c for c in part.index if c.rsplit(" ", 1)[0] == kind)]
                values = part.loc[ladder, metric].to_numpy() * sign
                ok += int((values[1:] > values[:-1]).sum())
                steps += len(ladder) - 1
            null_ok = None
            if metric == "kid":
                null_ok = bool(abs(part.loc["none", "kid"]) <= 2 * part.loc["none", "kid_std"])
            keep = ok == steps and null_ok is not False
            rows.append(
                {"features": features, "metric": metric, "steps_ok": ok, "steps": steps,
                 "kid_null_ok": null_ok, "keep": keep}
            )  # fmt: skip
    return pd.DataFrame(rows)


def main(n: int = 200, out: Path = Path("results/fid_sanity.csv")) -> pd.DataFrame:
    """Score every ladder step in every space; write and return the table."""
    cfg = run_config("celeba", "cvae", 0, "quick")
    _, dm = make_datamodule("celeba", cfg)
    test, held_out, train = (
        torch.stack([split[i][0] for i in range(n)])
        for split in (dm.test_set, dm.val_set, dm.train_set)
    )
    rows = []
    stats = torch.stack([dm.train_set[i][0] for i in range(min(STATS_FACES, len(dm.train_set)))])
    for name, space in spaces(stats).items():
        real = space(test)
        for corruption, images in ({TRAINING: train} | ladders(held_out)).items():
            start = time.perf_counter()
            fake = space(images)
            seconds = time.perf_counter() - start
            kid, kid_std, _ = kernel_distance(real, fake)
            rows.append(
                {
                    "features": name,
                    "corruption": corruption,
                    "n": n,
                    "fid": round(frechet_distance(real, fake), 4),
                    "kid": round(kid, 6),
                    "kid_std": round(kid_std, 6),
                    **{k: round(v, 4) for k, v in prdc(real, fake).items()},
                    "images_per_s": round(n / seconds, 1),
                }
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    verdicts = behaves(table)
    verdicts.to_csv(out.with_name(out.stem + "_verdicts.csv"), index=False)
    print(verdicts.to_string(index=False))
    return table


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
