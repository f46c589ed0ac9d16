"""Image completion: ``y = cat(x * (1 - mask), mask)`` ``(B, C + 1, H, W)``, ``x`` the full image.

Training masks are random squares of random area (or a centred square). Evaluation masks are a
frozen, seeded set: test image i gets area ``eval_areas[i % len(eval_areas)]`` at a seeded
position, identical for every model; results are reported per mask area through
``test_groups``. Holes are filled with 0, the middle of the [-1, 1] range.
"""

import hashlib
import math

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from cgbench.datamodules.image_source import ImageTaskDataModule, tensors_of


def square_mask(size: int, area: float, generator: torch.Generator | None, center: bool = False):
    """A ``(1, size, size)`` float mask, 1 inside a square covering ``area`` of the image."""
    side = round(math.sqrt(area) * size)
    if not 0 < side <= size:
        raise ValueError(
            f"a mask of area {area} does not fit a {size}x{size} image; use 0 < area <= 1"
        )
    if center:
        top = left = (size - side) // 2
    else:
        top, left = torch.randint(0, size - side + 1, (2,), generator=generator).tolist()
    mask = torch.zeros(1, size, size)
    mask[:, top : top + side, left : left + side] = 1
    return mask


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The completion condition: visible pixels, holes at 0, and the mask as a last channel."""
    return torch.cat([x * (1 - mask), mask], dim=-3)


class RandomMasks(Dataset):
    """Training pairs with a fresh random square per access (area uniform in ``areas``)."""

    def __init__(self, x: torch.Tensor, areas: tuple[float, float], center: bool):
        self.x, self.areas, self.center = x, areas, center

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        lo, hi = self.areas
        area = lo + (hi - lo) * torch.rand(()).item()
        mask = square_mask(self.x.shape[-1], area, None, self.center)
        return self.x[i], apply_mask(self.x[i], mask)


class CompletionDataModule(ImageTaskDataModule):
    """Completion on CelebA 64x64 (default) or MNIST 28x28.

    Args:
        train_areas: ``(min, max)`` fraction of the image a training mask covers.
        eval_areas: Mask areas of the frozen evaluation set; one result group per area.
        center: Centre the training squares instead of placing them at random.
        mask_seed: Seed of the frozen evaluation masks.
        **kwargs: ``base``, ``base_args``, paths and loader settings of `ImageTaskDataModule`.
    """

    def __init__(
        self,
        train_areas: tuple[float, float] = (0.1, 0.4),
        eval_areas: tuple[float, ...] = (0.10, 0.25, 0.40),
        center: bool = False,
        mask_seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for area in (*train_areas, *eval_areas):
            square_mask(self.x_shape[-1], area, None, center=True)  # fail now on a bad area
        self.train_areas, self.eval_areas = tuple(train_areas), tuple(eval_areas)
        self.center, self.mask_seed = center, mask_seed
        self.y_shape = (self.x_shape[0] + 1, *self.x_shape[1:])
        self.eval_masks: dict[str, torch.Tensor] = {}

    def frozen_generator(self, split: str) -> torch.Generator:
        """The seeded generator behind a split's frozen evaluation inputs (val and test differ)."""
        return torch.Generator().manual_seed(self.mask_seed * 10 + ("val", "test").index(split))

    def frozen_masks(self, split: str, n: int) -> torch.Tensor:
        """The evaluation masks of a split ``(n, 1, H, W)``; the same for every run and model."""
        generator = self.frozen_generator(split)
        areas = [self.eval_areas[i % len(self.eval_areas)] for i in range(n)]
        return torch.stack([square_mask(self.x_shape[-1], a, generator) for a in areas])

    def make(self, split, x):
        if split == "train":
            return RandomMasks(x, self.train_areas, self.center)
        masks = self.frozen_masks(split, len(x))
        self.eval_masks[split] = masks
        return TensorDataset(x, apply_mask(x, masks))

    def checksum(self) -> str:
        masks = hashlib.sha256(self.eval_masks["test"].numpy().tobytes()).hexdigest()
        self.split_info["eval_masks_sha256"] = masks
        self.split_info["eval_areas"] = list(self.eval_areas)
        return hashlib.sha256((self.base.data_checksum + masks).encode()).hexdigest()

    def test_groups(self) -> dict[str, Dataset]:
        """Test subsets by mask area, keyed ``mask10``, ``mask25``, ..."""
        n, k = len(self.test_set), len(self.eval_areas)
        return {
            f"mask{round(area * 100)}": Subset(self.test_set, list(range(i, n, k)))
            for i, area in enumerate(self.eval_areas)
        }


class MultimodalCompletionDataModule(CompletionDataModule):
    """cGML's multimodal MNIST completion: two valid completions for one input.

    In ``overlay_rate`` of the images the top half is overlaid (pixel-wise max) with the top half
    of another random digit; then a mask covering the top ``rows`` (random in ``mask_rows``) hides
    it. Training redraws partners, overlays and masks at every access; validation and test are
    frozen by ``mask_seed`` and ``test_modes`` records, per test input, its own digit, the partner
    digit it could also complete to, and whether its target is the overlaid one;
    ``mode_targets`` holds both valid completions of every test input.

    Args:
        overlay_rate: Fraction of images whose top half is overlaid.
        mask_rows: ``(min, max)`` rows hidden from the top (at most half the image).
        **kwargs: Settings of `CompletionDataModule` (the base is MNIST).
    """

    def __init__(self, overlay_rate: float = 0.2, mask_rows: tuple[int, int] = (10, 14), **kwargs):
        super().__init__(**({"base": "mnist"} | kwargs))
        if not 0 < mask_rows[0] <= mask_rows[1] <= self.x_shape[-1] // 2:
            raise ValueError(
                f"mask_rows {mask_rows} must lie in the top half (1..{self.x_shape[-1] // 2})"
            )
        self.overlay_rate, self.mask_rows = overlay_rate, tuple(mask_rows)
        self.test_modes = torch.empty(0, 3, dtype=torch.long)
        self.mode_targets = torch.empty(0, 2, 1, *self.x_shape[1:])

    def draw(self, n: int, pool: int, generator: torch.Generator | None):
        """Random partners (indices into ``pool`` images), overlay flags and masked rows."""
        partner = torch.randint(0, pool, (n,), generator=generator)
        overlaid = torch.rand(n, generator=generator) < self.overlay_rate
        rows = torch.randint(self.mask_rows[0], self.mask_rows[1] + 1, (n,), generator=generator)
        return partner, overlaid, rows

    def make(self, split, x):
        labels = tensors_of(getattr(self.base, f"{split}_set"))[1].argmax(1)
        if split == "train":
            return RedrawnOverlays(self, x)
        generator = self.frozen_generator(split)
        partner, overlaid, rows = self.draw(len(x), len(x), generator)
        target, y = overlay_and_mask(x, x[partner], overlaid, rows)
        self.eval_masks[split] = y[:, -1:]
        if split == "test":  # (own digit, partner digit, target is the overlaid one)
            self.test_modes = torch.stack([labels, labels[partner], overlaid.long()], dim=1)
            both, _ = overlay_and_mask(x, x[partner], torch.ones_like(overlaid), rows)
            self.mode_targets = torch.stack([x, both], dim=1)  # (N, 2, 1, H, W): plain, overlaid
        return TensorDataset(target, y)

    def checksum(self) -> str:
        self.split_info["overlaid_test_inputs"] = int(self.test_modes[:, 2].sum())
        return super().checksum()

    def test_groups(self) -> dict[str, Dataset]:
        """Test subsets: inputs whose target is the overlaid mode, and the plain ones."""
        overlaid = self.test_modes[:, 2].bool()
        return {
            "plain": Subset(self.test_set, torch.nonzero(~overlaid).flatten().tolist()),
            "overlaid": Subset(self.test_set, torch.nonzero(overlaid).flatten().tolist()),
        }


class RedrawnOverlays(Dataset):
    """Training set of `MultimodalCompletionDataModule`: a new partner and mask per access."""

    def __init__(self, dm: MultimodalCompletionDataModule, x: torch.Tensor):
        self.dm, self.x = dm, x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        partner, overlaid, rows = self.dm.draw(1, len(self.x), None)
        target, y = overlay_and_mask(self.x[i : i + 1], self.x[partner], overlaid, rows)
        return target[0], y[0]


def overlay_and_mask(x, partner_x, overlaid, rows):
    """Overlay the top half of ``partner_x`` where ``overlaid``; hide the top ``rows`` rows.

    Shapes: ``x``, ``partner_x`` ``(N, 1, H, W)``; ``overlaid``, ``rows`` ``(N,)``.
    Returns the targets ``(N, 1, H, W)`` and the conditions ``(N, 2, H, W)``.
    """
    half = x.shape[-2] // 2
    target = x.clone()
    top = torch.maximum(x[:, :, :half], partner_x[:, :, :half])
    target[overlaid, :, :half] = top[overlaid]
    masks = (torch.arange(x.shape[-2]).view(1, 1, -1, 1) < rows.view(-1, 1, 1, 1)).float()
    return target, apply_mask(target, masks.expand(-1, 1, -1, x.shape[-1]))
