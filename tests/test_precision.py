"""``trainer.precision: auto``: the host picks fp32 or bf16, the record says which, and a
profile that turns it on keeps its records current."""

from cgbench import provenance
from cgbench.cells.train import run_one
from cgbench.config import config_sha, run_config

PLAIN = ("trainer.max_epochs=1", "trainer.enable_checkpointing=false")


def test_auto_precision_is_not_part_of_a_runs_identity_but_an_explicit_one_is():
    cfg = run_config("synthetic_label", "cvae", 0, "quick", PLAIN)
    auto = cfg | {"trainer": cfg["trainer"] | {"precision": "auto"}}
    bf16 = cfg | {"trainer": cfg["trainer"] | {"precision": "bf16-mixed"}}
    assert config_sha(auto) == config_sha(cfg)  # fp32 records stay current
    assert config_sha(bf16) != config_sha(cfg)  # a study's explicit bf16 runs are their own


def test_the_record_names_the_precision_the_host_chose(tmp_path, monkeypatch):
    provenance.cpu_bf16_speedup.cache_clear()
    for speedup, chosen in ((provenance.BF16_PAYS, "bf16-mixed"), (0.1, "32-true")):
        monkeypatch.setattr(provenance, "cpu_bf16_speedup", lambda s=speedup: s)
        record = run_one(
            "synthetic_label",
            "cvae",
            0,
            "quick",
            (*PLAIN, "trainer.precision=auto"),
            tmp_path / chosen,
            "none",
        )
        assert record["status"] == "ok"
        assert record["precision"] == chosen


def test_the_speedup_is_measured_on_this_host():
    provenance.cpu_bf16_speedup.cache_clear()
    assert provenance.cpu_bf16_speedup() > 0  # host-dependent value; only its sign is certain
