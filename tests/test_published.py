"""The published profile: each task's trusted profile and seeds, from its YAML."""

import yaml

from cgbench.__main__ import main
from cgbench.config import published, run_config
from cgbench.models import MODELS
from cgbench.tasks import TASKS


def test_every_published_task_names_a_profile_with_three_seeds():
    for name, task in TASKS.items():
        block = published(name)
        if not task.synthetic and block["profile"] is not None:  # None: not published yet
            assert block["profile"] in ("quick", "standard", "long", "full"), name
            assert len(set(block["seeds"])) >= 3, name


def test_an_unpublished_task_is_left_out_of_all_and_refused_when_named(
    tmp_path, capsys, registries
):
    task = tmp_path / "draft.yaml"
    task.write_text("base: synthetic_label\npublished: {profile: null}\n")
    args = [
        *"run --task-config".split(),
        str(task),
        *("--models cvae --logger none --include-synthetic --results-dir").split(),
        str(tmp_path),
    ]
    assert main(args) == 2  # --task-config names it: no silent skip
    assert "draft has no published profile yet" in capsys.readouterr().err
    assert main([*args, "--profile", "smoke"]) == 0


def test_run_defaults_to_each_tasks_published_profile_and_seeds(tmp_path, registries):
    task = tmp_path / "two_seeds.yaml"
    task.write_text("base: synthetic_label\npublished: {profile: smoke, seeds: [0, 1]}\n")
    args = [
        *"run --task-config".split(),
        str(task),
        *("--models cvae --logger none --include-synthetic --results-dir").split(),
        str(tmp_path / "r"),
    ]
    assert main(args) == 0
    runs = tmp_path / "r" / "runs" / "two_seeds"
    assert sorted(p.name for p in (runs / "cvae" / "smoke").iterdir()) == ["seed0", "seed1"]
    assert (runs / "ref_real" / "smoke" / "seed0" / "metrics.json").exists()  # references too
    config = yaml.safe_load((runs / "cvae" / "smoke" / "seed0" / "config.yaml").read_text())
    assert "published" not in config  # naming the trusted profile changes no run's hash
    base = run_config("synthetic_label", "cvae", 0, "smoke")
    assert {k: v for k, v in config.items() if k != "task"} == {
        k: v for k, v in base.items() if k != "task"
    }


def test_seeds_on_the_command_line_win_over_the_published_ones(tmp_path, registries):
    task = tmp_path / "two_seeds.yaml"
    task.write_text("base: synthetic_label\npublished: {profile: smoke, seeds: [0, 1]}\n")
    args = [
        *"run --task-config".split(),
        str(task),
        *("--models cvae --seeds 1 --logger none --include-synthetic --results-dir").split(),
        str(tmp_path),
    ]
    assert main(args) == 0
    assert [p.name for p in (tmp_path / "runs" / "two_seeds" / "cvae" / "smoke").iterdir()] == [
        "seed1"
    ]


def test_an_unknown_published_profile_names_the_choices(tmp_path, capsys, registries):
    task = tmp_path / "bad.yaml"
    task.write_text("base: synthetic_label\npublished: {profile: huge}\n")
    args = ["run", "--task-config", str(task), "--models", "cvae", "--results-dir", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "published.profile='huge'" in err and "standard" in err
    assert "cvae" in MODELS
