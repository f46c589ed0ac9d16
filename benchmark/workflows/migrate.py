"""``cgbench migrate``: bring records written by older versions up to today's metric keys.

Metric keys name what they compute. Renamed so far (old -> new):

- ``diversity`` -> ``pairwise_ms_ssim`` (mean MS-SSIM between the K samples of one condition;
  lower = more varied), ``diversity_real`` -> ``pairwise_ms_ssim_real`` (the same on real
  images sharing a condition), ``diversity_lpips`` -> ``pairwise_lpips`` (mean LPIPS between
  the K samples; higher = more varied). "Diversity" named two metrics of opposite direction.

The step renames keys only (values, config hashes and every other field stay), is idempotent,
and writes each file atomically. Run it once on a results folder, then `cgbench leaderboard`.
"""

import json
from pathlib import Path

from cgbench.records import RECORD, atomic_write, iter_runs

RENAMED = {
    "diversity": "pairwise_ms_ssim",
    "diversity_real": "pairwise_ms_ssim_real",
    "diversity_lpips": "pairwise_lpips",
}
KEYED_BY_METRIC = ("scores", "higher_is_better", "metric_settings", "details", "unavailable")


def new_key(key: str) -> str:
    """Today's name of a metric key, a ``metric@group`` key included."""
    metric, at, group = key.partition("@")
    return RENAMED.get(metric, metric) + at + group


def migrate_record(record: dict) -> dict:
    """A copy of a run record with every metric-keyed map renamed (variants included)."""
    out = dict(record)
    for field in KEYED_BY_METRIC:
        if isinstance(out.get(field), dict):
            out[field] = {new_key(k): v for k, v in out[field].items()}
    if isinstance(out.get("variants"), dict):
        out["variants"] = {name: migrate_record(v) for name, v in out["variants"].items()}
    return out


def migrate(results_dir: Path) -> list[Path]:
    """Rename metric keys in every ``metrics.json`` and ``metric_speed.csv`` under ``results_dir``.

    Returns:
        The files that changed.
    """
    changed = []
    for path in (run / RECORD for run in iter_runs(results_dir)):
        record = json.loads(path.read_text())
        migrated = migrate_record(record)
        if migrated != record:
            atomic_write(path, json.dumps(migrated, indent=2, sort_keys=True) + "\n")
            changed.append(path)
    speed = Path(results_dir) / "metric_speed.csv"  # first column: the metric key
    if speed.exists():
        lines = speed.read_text().splitlines(keepends=True)
        renamed = [
            new_key(line.split(",", 1)[0]) + line[line.find(",") :] if "," in line else line
            for line in lines
        ]
        if renamed != lines:
            atomic_write(speed, "".join(renamed))
            changed.append(speed)
    return changed
