"""What the commands share: names and seeds from argv, the cells, the executor, the rebuild."""

from pathlib import Path

from cgbench import plugins
from cgbench.config import ConfigError, published
from cgbench.errors import lookup
from cgbench.models import MODELS
from cgbench.provenance import load_records
from cgbench.records import PROFILES
from cgbench.summaries import claims, leaderboard, readme
from cgbench.tasks import TASKS
from cgbench.workflows import matrix


def published_tasks() -> list[str]:
    """The non-synthetic tasks, task files added with ``--task-config`` included."""
    return [name for name, task in TASKS.items() if not task.synthetic]


def names(values: list[str], registry: dict, default: list[str]) -> list[str]:
    """Expand ``all`` and space/comma-separated lists; check every name against the registry."""
    names = [n for v in values for n in v.replace(",", " ").split()] or default
    if names == ["all"]:
        return default
    for name in names:
        lookup(registry, name, "task" if registry is TASKS else "model")
    return names


def parse_seeds(values: list[str]) -> list[int]:
    """Seeds from space/comma-separated values (default ``[0]``): non-negative integers."""
    seeds = []
    for text in (t for v in values for t in v.replace(",", " ").split()):
        try:
            seed = int(text)
        except ValueError:
            seed = -1
        if seed < 0 or seed >= 2**16:  # EpochSeed packs (seed, epoch) into one 32-bit seed
            raise ConfigError(f"seed {text!r} is not an integer in [0, 65535]; e.g. --seeds 0 1")
        seeds.append(seed)
    return seeds or [0]


def summary(record: dict) -> str:
    """One line per finished run: scores, evaluator ceiling, cost."""
    main = sorted((k, v) for k, v in record["scores"].items() if "@" not in k)  # groups: in .md
    scores = "  ".join(f"{k} {v:.4f}" for k, v in main)
    ceiling = (
        f" (evaluator {record['evaluator']['test_acc']:.4f})" if record.get("evaluator") else ""
    )
    state = (
        "skipped, record exists"
        if record.get("skipped")
        else "from samples"
        if record.get("external")
        else f"{record['reference']} {record['model']}"
        if record.get("reference")
        else f"{record['train_seconds']:.0f}s"
    )
    if record.get("rank"):
        return f"  trained as rank {record['rank']}; rank 0 scores and writes the record"
    if record.get("status") == "diverged":
        return f"  DIVERGED [{state}]: {record['reason']}; recorded, the matrix goes on"
    return f"  done [{state}]: {scores}{ceiling}"


def executor(args) -> matrix.Executor:
    """Where the command's cells run: ``--executor``, ``--workers``, ``--cluster`` and plugins."""

    def given(name, default=()):
        return getattr(args, name, default) or default

    return matrix.Executor(
        given("executor", "local"),
        str(given("workers", "1")),
        tuple(given("cluster")),
        given("job_dir", None),
        tuple(given("task_config")),
        tuple(given("model")),
    )


def plan(args) -> list[matrix.Cell]:
    """The command line's cells: tasks, models (plugins registered), profiles and seeds."""
    added = [plugins.add_task_file(path) for path in args.task_config]
    tasks = names(args.tasks, TASKS, added or published_tasks())
    outside = [plugins.add_model(spec) for spec in args.model]
    named = names(args.models, MODELS, list(MODELS)) if args.models else []
    models = list(dict.fromkeys(named + outside)) or list(MODELS)
    profiles, seeds = profiles_and_seeds(tasks, args)
    return matrix.plan(list(profiles), models, profiles, seeds, args.set)


def profiles_and_seeds(tasks: list[str], args) -> tuple[dict, dict]:
    """Each task's profile and seeds: ``--profile``/``--seeds``, or its YAML's ``published``."""
    if args.profile != "published":
        return dict.fromkeys(tasks, args.profile), dict.fromkeys(
            tasks, parse_seeds(getattr(args, "seeds", []))
        )
    blocks = {task: published(task) for task in tasks}
    named = [n for v in getattr(args, "tasks", []) for n in v.replace(",", " ").split()]
    named += [Path(path).stem for path in getattr(args, "task_config", [])]
    for task in [t for t, block in blocks.items() if block["profile"] is None]:
        if task in named:
            raise ConfigError(
                f"{task} has no published profile yet (`published: {{profile: "
                f"null}}` in its YAML); pass --profile {'|'.join(PROFILES[1:])}"
            )
        print(f"{task}: not published yet (its YAML's `published` block); left out", flush=True)
        del blocks[task]
    profiles = {task: block["profile"] for task, block in blocks.items()}
    seeds = {
        task: parse_seeds(getattr(args, "seeds", []) or [str(s) for s in block["seeds"]])
        for task, block in blocks.items()
    }
    return profiles, seeds


def rebuild(results_dir: Path, include_synthetic: bool = False, summaries: bool = True):
    """Rebuild the tables and, with ``summaries`` (real tasks only), claims.md and the README.

    Records are read once, under the rebuild lock, and annotated for today's code
    (`cgbench.config.load_records`); every output is a function of them. `cgbench run` and
    `score` rebuild only the tables, so many processes sharing one results folder never race
    on the README; `cgbench leaderboard` (which `make benchmark` calls last) rebuilds all.
    """
    with leaderboard.rebuild_lock(results_dir):
        records = load_records(results_dir)
        table = leaderboard.write(results_dir, include_synthetic, records)
        print(f"{len(table)} row(s) written to {results_dir}/leaderboard.csv and .md")
        if summaries and not include_synthetic:
            print(f"claims checked in {claims.write(results_dir, records)}")
            if path := readme.write(results_dir, records):
                print(f"results block of {path} rebuilt")
    return table


def task(args) -> str:
    """``--task``, checked against the registry after ``--task-config`` files are added."""
    for path in args.task_config:
        plugins.add_task_file(path)
    lookup(TASKS, args.task, "task")
    return args.task
