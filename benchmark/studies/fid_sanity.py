"""Do the distribution metrics order corrupted real faces as the eye does (`make fid-sanity`)?

Real CelebA test faces (64 px, the celeba task's preprocessing) against real training faces,
then against the same training faces blurred, noised and JPEG-compressed at rising strength,
in both feature spaces (Inception, the frozen CelebA evaluator). Every FID/KID column should
rise down each ladder and precision/recall fall.
``python -m cgbench.studies.fid_sanity [N]`` (N faces per set, 200 by default; its
``images_per_s`` column says what Inception costs on the host) writes ``results/fid_sanity.csv``.
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


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of ``(N, C, H, W)`` images in [-1, 1] at ``quality``."""
    out = []
    for image in ((x + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(image.squeeze()).save(buffer, format="JPEG", quality=quality)
        decoded = torch.from_numpy(np.array(Image.open(buffer))).float() / 127.5 - 1
        out.append(decoded.reshape(image.shape).permute(2, 0, 1))
    return torch.stack(out)


def ladders(train: torch.Tensor) -> dict[str, torch.Tensor]:
    """The corrupted sets, mildest first within each kind."""
    noise = torch.randn(train.shape, generator=torch.Generator().manual_seed(0))
    sets = {"none": train}
    sets |= {f"blur sigma {s}": gaussian_blur(train, [9, 9], [s, s]) for s in (0.5, 1.0, 2.0)}
    sets |= {f"noise sigma {s}": (train + s * noise).clamp(-1, 1) for s in (0.05, 0.1, 0.2)}
    sets |= {f"jpeg quality {q}": jpeg(train, q) for q in (50, 20, 5)}
    return sets


def spaces() -> dict[str, FeatureSpace]:
    """Both feature spaces (Inception only when its file is installed)."""
    evaluator = frozen_network("celeba", (3, 64, 64))
    out = {"evaluator": FeatureSpace("evaluator", evaluator_extractor(evaluator[0]), "celeba", 256)}
    net, reason = load_inception()
    if net is None:
        print(f"inception skipped: {reason}")
    else:
        out["inception"] = FeatureSpace("inception", inception_extractor(net), INCEPTION_SHA256, 32)
    return out


def main(n: int = 200, out: Path = Path("results/fid_sanity.csv")) -> pd.DataFrame:
    """Score every ladder step in every space; write and return the table."""
    cfg = run_config("celeba", "cvae", 0, "quick")
    _, dm = make_datamodule("celeba", cfg)
    test = torch.stack([dm.test_set[i][0] for i in range(n)])
    train = torch.stack([dm.train_set[i][0] for i in range(n)])
    rows = []
    for name, space in spaces().items():
        real = space(test)
        for corruption, images in ladders(train).items():
            start = time.perf_counter()
            fake = space(images)
            seconds = time.perf_counter() - start
            kid, _, subset = kernel_distance(real, fake)
            rows.append(
                {
                    "features": name,
                    "corruption": corruption,
                    "n": n,
                    "fid": round(frechet_distance(real, fake), 4),
                    "kid": round(kid, 6),
                    **{k: round(v, 4) for k, v in prdc(real, fake).items()},
                    "images_per_s": round(n / seconds, 1),
                }
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return table


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
