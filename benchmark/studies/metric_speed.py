"""Metric throughput: seconds to score N pairs of 64x64 RGB images with each image metric.

``python -m cgbench.studies.metric_speed [--pairs 10000] [--threads 2]`` writes
``results/metric_speed.csv``. Pairs are real CelebA faces (the first 500 under ``DATA_DIR``,
centre-cropped, resized to 64 px and tiled) against a noisy copy; without CelebA it stops.
Fidelity metrics score one sample per pair; the pairwise metrics score the two images of a
pair as the K = 2 samples of one input. The distribution metrics' cost is their feature
extraction: rows ``features:<space>`` time it on ``--feature-images`` faces (Inception in fp32
and under bf16 autocast, ``value`` then being the bf16 features' relative difference).
Rows ``<metric>:torchmetrics_conv`` time the SSIM and MS-SSIM the suite used before
`cgbench.metrics.ssim` (torchmetrics' depthwise 11x11 convolution, map cropped to the valid
region) on the same pairs, so the speed-up is measured in one run.
"""

import argparse
import datetime as dt
import platform
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure
from torchvision.io import decode_image
from torchvision.transforms.v2.functional import center_crop, resize

from cgbench.config import data_dir, lpips_backbone
from cgbench.datamodules import DataNotFoundError
from cgbench.evaluators import frozen_network
from cgbench.metrics import load_lpips, ms_ssim_settings, to_unit_range
from cgbench.metrics.features import (
    FeatureSpace,
    evaluator_extractor,
    inception_extractor,
    load_inception,
)
from cgbench.scoring.evaluate import build_metrics

NAMES = ("psnr", "ssim", "ms_ssim", "lpips", "pairwise_ms_ssim", "pairwise_lpips")


def celeba_pairs(n_pairs: int, n_real: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, x_noisy)``, each ``(n_pairs, 3, 64, 64)`` in [-1, 1], from real CelebA faces."""
    files = sorted((data_dir() / "celeba" / "img_align_celeba").glob("*.jpg"))[:n_real]
    if not files:
        raise DataNotFoundError(
            f"no CelebA images in {data_dir()}/celeba/img_align_celeba; set DATA_DIR"
        )
    faces = torch.stack(
        [resize(center_crop(decode_image(str(f)), [89, 89]), [64, 64]) for f in files]
    )
    x = (faces.float() / 127.5 - 1).repeat((n_pairs + len(files) - 1) // len(files), 1, 1, 1)
    x = x[:n_pairs]
    noise = 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    return x, (x + noise).clamp(-1, 1)


def measure(n_pairs: int, batch_size: int) -> list[dict]:
    """Time every metric over the same pairs; one row per metric."""
    x, x_noisy = celeba_pairs(n_pairs)
    net, info = load_lpips(lpips_backbone())
    unavailable: dict[str, str] = {}
    context = {"image_size": 64, "net": net, "info": info}
    metrics = build_metrics(NAMES, context, unavailable)
    rows = []
    for name, metric in metrics.items():
        start = time.perf_counter()
        for i in range(0, n_pairs, batch_size):
            a, b = x_noisy[i : i + batch_size], x[i : i + batch_size]
            x_hat = torch.stack([a, b]) if name.startswith("pairwise") else a[None]
            metric.update(x_hat, b, b)  # image conditions: no per-class breakdown
        value = float(metric.compute())
        seconds = time.perf_counter() - start
        rows.append(
            {
                "metric": name,
                "pairs": n_pairs,
                "seconds": round(seconds, 2),
                "pairs_per_second": round(n_pairs / seconds, 1),
                "value": round(value, 6),
            }
        )
    for name, reason in unavailable.items():
        rows.append({"metric": name, "pairs": n_pairs, "note": reason})
    return rows


def conv_ssim(a: torch.Tensor, b: torch.Tensor, scales: int = 1) -> torch.Tensor:
    """The pre-`cgbench.metrics.ssim` SSIM (``scales=1``) or MS-SSIM, for timing only."""
    betas = ms_ssim_settings(a.shape[-1])["betas"] if scales > 1 else (1.0,)
    args = {"gaussian_kernel": True, "sigma": 1.5, "kernel_size": 11, "data_range": 1.0}
    total = torch.ones(a.shape[0])
    for beta in betas[:-1]:  # contrast-structure of the finer scales, then 2x2 pooling
        _, cs = structural_similarity_index_measure(
            a, b, reduction="none", return_contrast_sensitivity=True, **args
        )
        total = total * cs.relu() ** beta
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    _, full = structural_similarity_index_measure(
        a, b, reduction="none", return_full_image=True, **args
    )
    return total * full[..., 5:-5, 5:-5].mean(dim=(1, 2, 3)).relu() ** betas[-1]


def conv_rows(n_pairs: int, batch_size: int) -> list[dict]:
    """`conv_ssim` timed like `measure` times ``ssim`` and ``ms_ssim``."""
    x, x_noisy = (to_unit_range(t) for t in celeba_pairs(n_pairs))
    rows = []
    for name, scales in (("ssim", 1), ("ms_ssim", 3)):
        start, total = time.perf_counter(), 0.0
        for i in range(0, n_pairs, batch_size):
            total += float(
                conv_ssim(x_noisy[i : i + batch_size], x[i : i + batch_size], scales).sum()
            )
        seconds = time.perf_counter() - start
        rows.append(
            {
                "metric": f"{name}:torchmetrics_conv",
                "pairs": n_pairs,
                "seconds": round(seconds, 2),
                "pairs_per_second": round(n_pairs / seconds, 1),
                "value": round(total / n_pairs, 6),
            }
        )
    return rows


def feature_rows(n_images: int) -> list[dict]:
    """Feature extraction throughput per space, on ``n_images`` real faces."""
    x, _ = celeba_pairs(n_images)
    extractors = {"evaluator": evaluator_extractor(frozen_network("celeba", (3, 64, 64))[0])}
    net, reason = load_inception()
    if net is None:
        return [{"metric": "features:inception", "pairs": n_images, "note": reason}]
    extractors["inception"] = inception_extractor(net)

    def bf16(images):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return extractors["inception"](images)

    extractors["inception_bf16"] = bf16
    rows, fp32 = [], None
    for name, extract in extractors.items():
        # bf16 TorchScript measured 15x slower than fp32 here: timed on 16 images only
        images = x[:16] if name == "inception_bf16" else x
        space = FeatureSpace(name, extract, name, batch_size=32)
        space(x[:8])  # warm-up: TorchScript optimises on its first calls
        start = time.perf_counter()
        feats = space(images)
        seconds = time.perf_counter() - start
        fp32 = feats if name == "inception" else fp32
        drift = None
        if name == "inception_bf16":
            drift = round(float((feats - fp32[:16]).norm() / fp32[:16].norm()), 6)
        rows.append(
            {
                "metric": f"features:{name}",
                "pairs": len(images),
                "seconds": round(seconds, 2),
                "pairs_per_second": round(len(images) / seconds, 1),
                "value": drift,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Measure and write ``results/metric_speed.csv``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--feature-images", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("results/metric_speed.csv"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = measure(args.pairs, args.batch_size)
    total = sum(r.get("seconds", 0) for r in rows)
    rows.append(
        {
            "metric": "all",
            "pairs": args.pairs,
            "seconds": round(total, 2),
            "pairs_per_second": round(args.pairs / total, 1),
        }
    )
    rows += conv_rows(args.pairs, args.batch_size) + feature_rows(args.feature_images)
    table = pd.DataFrame(rows)
    table["threads"], table["device"] = args.threads, "cpu"
    table["cpu"], table["torch"] = platform.processor() or platform.machine(), torch.__version__
    table["created"] = dt.date.today().isoformat()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
