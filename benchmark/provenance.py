"""Where a record comes from: the commit, the host and build, the code's digests, staleness.

A record names the git commit (`git_sha`), the device and host kind and build (`host`: what
decides whether a rerun is exact), and digests of the code behind it (`code_fingerprint`), so
`staleness` can say when today's config, task version or code no longer match it.
"""

import contextlib
import datetime as dt
import functools
import hashlib
import inspect
import platform
import re
import subprocess
import time
from pathlib import Path

import torch

from cgbench import records
from cgbench.config import config_sha, run_config
from cgbench.models import MODELS
from cgbench.tasks import TASKS


def git_sha() -> str:
    """Commit of the code that produced a result, ``+dirty`` when the tree has changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def device_name() -> str:
    """The accelerator a run trained on, named for its record."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


BF16_PAYS = 1.3  # bf16 autocast only where a training step runs this much faster than fp32


@functools.cache
def cpu_bf16_speedup() -> float:
    """How much faster this CPU runs a small conv net's training step under bf16 autocast.

    Hosts of one kind differ from 10x slower (no bf16 units) to 4x faster (AMX), and a bare
    convolution overstates what a step gains (normalisation, activations and the casts stay
    in fp32), so this times what the models do: forward and backward of a conv / BatchNorm /
    LeakyReLU encoder and transposed-conv decoder on a ``(16, 3, 32, 32)`` batch, once a
    process (about 0.3 s on a fast host, 3 s on the slowest).
    """
    nn = torch.nn
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(
            nn.Conv2d(3, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 3, 4, 2, 1),
        )  # fmt: skip
        x = torch.randn(16, 3, 32, 32)

    def step(bf16: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            net(x).square().mean().backward()
        return time.perf_counter() - start

    # interleaved, best of 5 each after a warm-up round (oneDNN picks its kernels on the first
    # call): a busy host slows both alike, so the ratio holds where single timings would not
    rounds = [(step(False), step(True)) for _ in range(6)][1:]
    return min(f for f, _ in rounds) / min(b for _, b in rounds)


def auto_precision() -> str:
    """``trainer.precision: auto`` on this host: bf16-mixed where it pays, else 32-true.

    GPUs: wherever torch reports bf16 support. CPUs: where `cpu_bf16_speedup` reaches
    `BF16_PAYS`. `cgbench.studies.bf16_parity` checked that bf16 leaves the ranking metric
    within the seeds' spread at equal FLOPs (``results/bf16_parity.md``); each record names
    the precision it trained in (``precision``).
    """
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return "bf16-mixed" if cpu_bf16_speedup() >= BF16_PAYS else "32-true"


ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")  # change fp32/bf16 kernels


def host() -> dict:
    """The host kind and build a record was made on: what decides whether a rerun is exact.

    The same code, seed and thread count give the same floats only on the same CPU model, ISA
    and torch build; elsewhere kernels round differently (`workflows.reproduce` then compares
    seeds as samples instead).
    """
    first = {}  # the first processor's "key: value" lines of /proc/cpuinfo
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
        first = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        first = {k.strip(): v.strip() for k, v in first.items()}
    cpu = first.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in first:  # VMs often name every Xeon alike; family/model tell them apart
        cpu += f" (family {first['cpu family']} model {first.get('model', '?')})"
    flags = set(first.get("flags", "").split())
    return {
        "cpu": cpu,
        "isa": [f for f in ISA_FLAGS if f in flags],
        "torch": torch.__version__,
        "torch_git": (torch.version.git_version or "")[:12],
        "threads": torch.get_num_threads(),
    }


def evaluator_summary(info: dict) -> dict:
    """The evaluator fields of a run record: checksum, held-out figures overall and per column."""
    keys = (
        "sha256",
        "frozen",
        "test_acc",
        "attr_balanced",
        "attr_tpr",
        "attr_tnr",
        "epochs",
        "train_seconds",
    )
    summary = {k: info[k] for k in keys if k in info}
    columns = info.get("columns") or []
    summary["per_column"] = dict(zip(columns, info.get("test_acc_per_column", []), strict=False))
    for rate in ("attr_balanced", "attr_tpr", "attr_tnr"):
        if f"{rate}_per_column" in info:
            summary[f"{rate}_per_column"] = dict(
                zip(columns, info[f"{rate}_per_column"], strict=True)
            )
    return summary


def record_fields(task, cfg: dict, dm, classifier_info, sha: str, overrides=()) -> dict:
    """The record fields every run has, trained here or scored from external samples."""
    return {
        "task": cfg["task"],
        "task_version": task.version,
        "model": cfg["model"],
        "seed": cfg["seed"],
        "profile": cfg["profile"],
        "data": getattr(dm, "split_info", {}),
        "evaluator": classifier_info and evaluator_summary(classifier_info),
        "data_checksum": dm.data_checksum,
        "git_sha": git_sha(),
        "config_sha": sha,
        "code": code_fingerprint(cfg["task"], cfg["model"]),
        "overrides": list(overrides),
        "torch": torch.__version__,
        "device": device_name(),
        "host": host(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


PACKAGE_ROOT = Path(__file__).resolve().parent


def _digest(*groups) -> str:
    """12 hex digits of the files' names and bytes: group by group, each group by file name.

    Paths do not enter, so moving a file (``evaluate.py`` into ``scoring/``) changes no
    record; the group order is the one the files' old paths sorted in.
    """
    digest = hashlib.sha256()
    for group in groups:
        for path in sorted(set(group), key=lambda p: p.name):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def model_sources(source: Path, shared: Path, seen: set | None = None) -> set[Path]:
    """A model's file and every ``cgbench.models`` module it imports, transitively.

    LC builds on CVAE and CSVAE on its likelihood, so a change there changes their runs too.
    """
    seen = set() if seen is None else seen
    if source not in seen and source.exists():
        seen.add(source)
        for name in re.findall(r"^from cgbench\.models\.(\w+) import", source.read_text(), re.M):
            model_sources(shared / f"{name}.py", shared, seen)
    return seen


STANDARDISED_PART = "standardised"  # the fingerprint part of `fid_evalz` / `kid_evalz`


def code_fingerprint(task: str, model: str) -> dict[str, str]:
    """Digests of the code behind a record, by part, so a code change marks records stale.

    ``model``: the model's module with the shared bases and nets; ``data``: the DataModules;
    ``scoring``: the metrics, the evaluation loops and the frozen evaluator files;
    ``copying``: the copying check (`cgbench.scoring.copying`, one of `OPTIONAL_PARTS`);
    ``cas``: the classification accuracy score (`cgbench.scoring.cas`, optional too);
    ``composite``: colorization's kept lightness (`cgbench.scoring.lightness`, optional);
    ``items``: the ranking metric per scored row (`cgbench.scoring.items`, optional);
    ``standardised``: FID/KID on standardised evaluator features (optional). Models
    that are not registered (external samples) have no ``model`` part.
    """
    from cgbench import datamodules, metrics

    parts = {}
    if model in MODELS:
        source = Path(inspect.getsourcefile(MODELS[model]))
        shared = Path(inspect.getsourcefile(MODELS["cvae"])).parent  # models/
        parts["model"] = _digest(
            [*model_sources(source, shared), shared / "base.py", shared / "nets.py"]
        )
    parts["data"] = _digest(Path(datamodules.__file__).parent.glob("*.py"))
    evaluate = [PACKAGE_ROOT / "scoring" / "evaluate.py"]  # the loops, the evaluator, metrics
    frozen = (PACKAGE_ROOT / "frozen").glob(f"{task}.*")
    parts["scoring"] = _digest(evaluate, frozen, Path(metrics.__file__).parent.glob("*.py"))
    parts["copying"] = _digest(
        [PACKAGE_ROOT / "scoring" / "copying.py", PACKAGE_ROOT / "cells" / "copy_check.py"]
    )
    parts["composite"] = _digest([PACKAGE_ROOT / "scoring" / "lightness.py"])
    parts["cas"] = _digest(
        [PACKAGE_ROOT / "scoring" / "cas.py", PACKAGE_ROOT / "cells" / "cas_check.py"]
    )
    parts["items"] = _digest([PACKAGE_ROOT / "scoring" / "items.py"])
    parts[STANDARDISED_PART] = _digest(
        [
            PACKAGE_ROOT / "scoring" / "standardised.py",
            PACKAGE_ROOT / "cells" / "standardised_check.py",
        ]
    )
    return parts


# Parts added after records existed: a record without one lacks that measure, it is not stale.
OPTIONAL_PARTS = {"copying", "cas", "composite", "items", STANDARDISED_PART}


def staleness(record: dict) -> str:
    """Why a record no longer matches today's code, or ``""``: ``config``, ``task``, ``code``.

    ``config``: today's YAML and code defaults resolve another config (`make benchmark`
    reruns it); ``task``: the task's version moved; ``code``: a part of `code_fingerprint`
    changed (``code (scoring)`` alone: `cgbench rescore` refreshes it without retraining).
    Records of unknown tasks (plugins not loaded, test fixtures) are never called stale;
    external and reference records are judged by task and scoring code only.
    """
    if record["task"] not in TASKS:
        return ""
    if record.get("task_version", 1) != TASKS[record["task"]].version:
        return "task"
    trained = not (record.get("external") or record.get("reference"))
    if trained and record["model"] in MODELS:
        overrides = tuple(record.get("overrides") or ())
        try:
            cfg = run_config(
                record["task"], record["model"], record["seed"], record["profile"], overrides
            )
        except ValueError:  # a profile or key this version no longer knows
            return "config"
        if config_sha(cfg) != record.get("config_sha"):
            return "config"
    elif trained:
        return ""
    old, now = record.get("code") or {}, code_fingerprint(record["task"], record["model"])
    changed = [
        part
        for part in now
        if old.get(part) != now[part] and (part in old or part not in OPTIONAL_PARTS)
    ]
    return f"code ({', '.join(changed)})" if changed else ""


def is_stale(record: dict) -> bool:
    """Whether `make benchmark` would rerun the record (see `staleness`)."""
    return bool(staleness(record))


def annotate(record: dict) -> dict:
    """Fields the tables need that depend on today's code, not on the record itself."""
    cls, spec = MODELS.get(record["model"]), TASKS.get(record["task"])
    return {
        "stale": staleness(record),
        "adapted": bool(cls and spec and spec.cond_kind in cls.adapted_kinds),
    }


def load_records(results_dir: Path) -> list[dict]:
    """Every run record under ``results_dir``, annotated for today's code (see `annotate`)."""
    return records.collect(results_dir, annotate)


def is_current(record: dict | None, sha: str, force: bool = False) -> bool:
    """Whether a run's record needs no work: same config, task version and code, no --force."""
    return bool(record) and record.get("config_sha") == sha and not force and not staleness(record)
