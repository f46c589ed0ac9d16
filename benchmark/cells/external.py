"""Samples made elsewhere, scored like a trained model: ``cgbench conditions`` and ``score``.

1. ``cgbench conditions --task T --out conditions.npz`` writes the test conditions that task
   T's scoring visits under a profile, in a fixed order: ``conditions`` ``(N, *y_shape)``
   (one-hot labels, attribute vectors, or condition images with their mask channel),
   ``index`` ``(N,)`` (rows of the test split), ``k_samples`` and ``x_shape``; with
   ``--with-images`` also the real test images ``images`` ``(N, C, H, W)`` in [-1, 1].
2. Generate ``K = k_samples`` samples for every row, anywhere.
3. ``cgbench score --task T --samples PATH --name NAME`` scores them with the same metrics,
   evaluator and test images as every trained model and writes an ordinary run record
   (``external: true``, the samples' SHA-256, no training fields) that the tables pick up.

``PATH`` is an ``.npz`` (array ``samples``) or ``.pt`` file holding ``(N, K, C, H, W)``: float
in [-1, 1] or uint8 in [0, 255]; or a folder of PNGs ``<row>_<k>.png`` (``0_0.png`` ...).
"""

import hashlib
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import make_grid

from cgbench.cells.pipeline import make_datamodule, prepare, score_cell
from cgbench.config import EVAL_DEFAULTS, ConfigError, checked_config, evaluator_block
from cgbench.models import MODELS, ConditionalGenerator
from cgbench.plugins import KEY
from cgbench.records import read_run, run_path
from cgbench.scoring.evaluate import evaluation_order


class SamplesError(ConfigError):
    """External samples that do not fit the task; the message says what was expected."""


def scored_rows(dm, max_batches) -> tuple[list[int], list[int], torch.Tensor, torch.Tensor]:
    """What scoring visits: ``(order, rows, x, y)``.

    ``order``: test-split rows in visiting order; ``rows``: each once, ascending; ``x``, ``y``:
    those rows' images ``(N, C, H, W)`` and conditions ``(N, *y_shape)``.
    """
    order = evaluation_order(dm, max_batches)
    rows = sorted(set(order))
    x, y = (torch.stack(t) for t in zip(*(dm.test_set[i] for i in rows), strict=True))
    return order, rows, x, y


def _config(task: str, name: str, seed: int, profile: str, overrides) -> dict:
    cfg = checked_config(task, profile, overrides)
    return {
        "task": task,
        "model": name,
        "seed": seed,
        "profile": profile,
        "data": cfg.get("data") or {},
        "eval": EVAL_DEFAULTS | (cfg.get("eval") or {}),
        "evaluator": evaluator_block(task, cfg),
    }


def export_conditions(
    task: str, out: Path, profile: str = "quick", overrides=(), with_images: bool = False
) -> int:
    """Write the task's scored test conditions to ``out`` (``.npz`` or ``.pt``); return N."""
    cfg = _config(task, "conditions", 0, profile, overrides)
    _, dm = make_datamodule(task, cfg)
    _, rows, x, y = scored_rows(dm, cfg["eval"]["max_batches"])
    content = {
        "conditions": y,
        "index": torch.tensor(rows),
        "x_shape": torch.tensor(dm.x_shape),
        "k_samples": torch.tensor(cfg["eval"]["k_samples"]),
    }
    if with_images:
        content["images"] = x
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".pt":
        torch.save(content, out)
    elif out.suffix == ".npz":
        np.savez_compressed(out, **{k: v.numpy() for k, v in content.items()})
    else:
        raise ConfigError(f"--out {out}: name a .npz or .pt file")
    return len(rows)


def _read_png_folder(folder: Path) -> tuple[torch.Tensor, str]:
    """``<row>_<k>.png`` files -> ``(N, K, C, H, W)`` uint8 and the SHA-256 of names and bytes."""
    from torchvision.io import ImageReadMode, decode_image

    files = {}
    for path in folder.glob("*.png"):
        row, _, k = path.stem.partition("_")
        if not (row.isdigit() and k.isdigit()):
            raise SamplesError(f"{path.name}: PNG names must be <row>_<k>.png, e.g. 0_0.png")
        files[int(row), int(k)] = path
    if not files:
        raise SamplesError(f"{folder} holds no <row>_<k>.png files")
    n, k = max(r for r, _ in files) + 1, max(j for _, j in files) + 1
    missing = [f"{r}_{j}.png" for r in range(n) for j in range(k) if (r, j) not in files]
    if missing:
        raise SamplesError(f"{folder}: {len(missing)} of {n * k} files missing, e.g. {missing[0]}")
    digest, images = hashlib.sha256(), []
    for r in range(n):
        images.append([])
        for j in range(k):  # each file read once, for the checksum and the decoder
            data = files[r, j].read_bytes()
            digest.update(files[r, j].name.encode() + data)
            encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            images[-1].append(decode_image(encoded, ImageReadMode.UNCHANGED))
    shapes = {tuple(im.shape) for row in images for im in row}
    if len(shapes) > 1:
        raise SamplesError(f"{folder}: PNGs of different shapes {sorted(shapes)}; expected one")
    return torch.stack([torch.stack(row) for row in images]), digest.hexdigest()


def load_samples(path: Path) -> tuple[torch.Tensor, str]:
    """The samples at ``path`` as float ``(N, K, C, H, W)`` in [-1, 1], and their SHA-256."""
    path = Path(path)
    if path.is_dir():
        raw, sha = _read_png_folder(path)
    elif path.suffix in (".npz", ".pt") and path.is_file():
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if path.suffix == ".pt":
            raw = torch.load(path, weights_only=True)
            raw = raw["samples"] if isinstance(raw, dict) else raw
        else:
            with np.load(path) as arrays:
                if "samples" not in arrays:
                    raise SamplesError(f"{path}: no array named 'samples' (found {list(arrays)})")
                raw = torch.from_numpy(arrays["samples"])
    else:
        raise SamplesError(f"--samples {path}: expected a .npz or .pt file or a folder of PNGs")
    if not isinstance(raw, torch.Tensor) or raw.dim() != 5:
        shape = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
        raise SamplesError(f"{path}: samples of shape {shape}; expected (N, K, C, H, W)")
    if raw.dtype == torch.uint8:
        return raw.float() / 127.5 - 1, sha
    if not raw.is_floating_point():
        raise SamplesError(f"{path}: dtype {raw.dtype}; expected float in [-1, 1] or uint8")
    raw = raw.float()
    if not torch.isfinite(raw).all():
        bad = int((~torch.isfinite(raw)).sum())
        raise SamplesError(f"{path}: {bad} NaN or infinite values; expected float in [-1, 1]")
    low, high = float(raw.min()), float(raw.max())
    if low < -1 - 1e-3 or high > 1 + 1e-3:
        hint = " (looks like [0, 255]: divide by 127.5 and subtract 1)" if high > 2 else ""
        raise SamplesError(f"{path}: values in [{low:.3g}, {high:.3g}]; expected [-1, 1]{hint}")
    return raw.clamp(-1, 1), sha


def check_samples(samples: torch.Tensor, n: int, k: int, x_shape, where: str) -> None:
    """Refuse samples whose count, K, channels or size differ from the task's."""
    got_n, got_k, *image = samples.shape
    if got_n != n:
        raise SamplesError(
            f"{where}: {got_n} conditions; the task scores {n} (the rows of `cgbench "
            "conditions` under the same --profile and --set)"
        )
    if got_k != k:
        raise SamplesError(
            f"{where}: {got_k} samples per condition; the task draws eval.k_samples={k} "
            f"(generate {k}, or score with --set eval.k_samples={got_k})"
        )
    if tuple(image) != tuple(x_shape):
        raise SamplesError(
            f"{where}: images of shape (C, H, W) = {tuple(image)}; expected {tuple(x_shape)}"
        )


class ReplayGenerator(ConditionalGenerator):
    """Serves external samples to the shared scoring loops in the order those visit the test set.

    Each batch the loops call `generate` K times for the same conditions: call ``j`` returns
    sample ``j`` of those rows. Every call checks that the conditions it is asked for are the
    ones the samples were made for, so a change in visiting order fails loudly.

    Args:
        samples: ``(N, K, C, H, W)`` in [-1, 1], row ``i`` for test row ``rows[i]``.
        conditions: ``(N, *y_shape)``, the conditions of those rows.
        rows: Test-split row of each sample row.
        order: Test-split rows in visiting order (`cgbench.scoring.evaluate.evaluation_order`).
    """

    cond_kinds = frozenset({"label", "attributes", "image"})
    replayed = True  # samples exist only for the exported conditions: no y_flip

    def __init__(self, samples, conditions, rows: list[int], order: list[int]):
        super().__init__(samples.shape[2:], conditions.shape[1:])
        self.samples, self.conditions, self.rows = samples, conditions, list(rows)
        position = {row: i for i, row in enumerate(rows)}
        self.order = [position[row] for row in order]
        self.cursor, self.draw = 0, 0

    def rewind(self) -> None:
        """Serve from the first row again, for a second pass of the loops (`scoring.items`)."""
        self.cursor, self.draw = 0, 0

    def first_draws(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample 0 of each of ``rows`` (test-split rows) and their conditions, off the order."""
        position = {row: i for i, row in enumerate(self.rows)}
        picked = [position[row] for row in rows]
        return self.samples[picked, 0], self.conditions[picked]

    def generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample ``self.draw`` of the next ``len(y)`` rows in visiting order."""
        picked = self.order[self.cursor : self.cursor + len(y)]
        if len(picked) != len(y) or not torch.equal(self.conditions[picked], y.cpu()):
            raise RuntimeError("scoring visited conditions out of the exported order")
        out = self.samples[picked, self.draw]
        self.draw += 1
        if self.draw == self.samples.shape[1]:  # the K draws of this batch are done
            self.cursor, self.draw = self.cursor + len(y), 0
        return out.to(self.device)


def _grid(samples, x, y, n_rows: int = 10) -> torch.Tensor:
    """The record's sample grid: the first rows' samples (image tasks: condition, real first)."""
    rows = samples[:n_rows]  # (R, K, C, H, W)
    if y.dim() == 4:
        shown = y[:n_rows, : x.shape[1]].expand(-1, x.shape[1], -1, -1)
        rows = torch.cat([shown[:, None], x[:n_rows, None], rows], 1)
    return make_grid(
        rows.flatten(0, 1), nrow=rows.shape[1], normalize=True, value_range=(-1, 1), pad_value=1
    )


def score_samples(
    task_name: str,
    samples_path: Path,
    name: str,
    profile: str = "quick",
    seed: int = 0,
    overrides=(),
    results_dir: Path = Path("results"),
    force: bool = False,
) -> dict:
    """Score external samples on a task and write their run record; return the record.

    A record of the same (task, name, profile, seed) is replaced only when it scored the same
    samples (same SHA-256: a rescore) or ``force`` says so.

    Raises:
        SamplesError: samples that do not fit the task (count, K, shape, range, NaN).
        ConfigError: an invalid ``name`` (not a key, or a built-in model's), or a record of
            other samples under the same name, profile and seed (without ``force``).
    """
    if not KEY.match(name) or name in MODELS:
        raise ConfigError(
            f"--name {name!r}: use lower case letters, digits and _ (starting with a letter), "
            f"not a built-in model ({', '.join(MODELS)})"
        )
    run_dir = run_path(results_dir, task_name, name, profile, seed)
    previous = read_run(run_dir)
    if previous and not previous.get("external"):
        raise ConfigError(f"{run_dir} holds a trained run's record; choose another --name")
    samples, sha = load_samples(samples_path)
    if previous and previous.get("samples_sha256") != sha and not force:
        earlier = f"{previous.get('samples_path')}, SHA-256 {previous.get('samples_sha256')}"
        raise ConfigError(
            f"{run_dir} already holds the record of other samples ({earlier}); choose another "
            "--name or --seed, or pass --force to replace it"
        )
    cfg = _config(task_name, name, seed, profile, overrides) | {"samples_sha256": sha}
    scoring = prepare(task_name, cfg, results_dir)
    order, rows, x, y = scored_rows(scoring.dm, cfg["eval"]["max_batches"])
    k, shape = cfg["eval"]["k_samples"], scoring.dm.x_shape
    check_samples(samples, len(rows), k, shape, str(samples_path))
    fields = {
        "status": "ok",
        "external": True,
        "samples_sha256": sha,
        "samples_path": Path(samples_path).name,
    }
    replay, grids = ReplayGenerator(samples, y, rows, order), {"samples": _grid(samples, x, y)}
    return score_cell(scoring, cfg, replay, run_dir, fields, grids=grids, overrides=overrides)
