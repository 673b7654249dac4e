"""benchmarks/check_cuda.py, the prepared GPU check: its verdicts, and the
whole script on CPU with --tiny (the same commands, a tiny model)."""

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from model.network.metrics import Evaluation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # check_cuda imports bench_model from beside it
_spec = importlib.util.spec_from_file_location("check_cuda", ROOT / "benchmarks" / "check_cuda.py")
check_cuda = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_cuda)


def test_report_counts_failures(capsys):
    report = check_cuda.Report()
    report.check(True, "fine", "1")
    report.line("SKIP", "not here", "2")
    report.check(False, "broken", "3")
    assert report.failed == 1
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["PASS", "SKIP", "FAIL"]


def test_steps_per_second_reads_the_last_interval_only():
    # the first interval holds torch.compile's minutes: it must not count
    history = tuple(Evaluation(step=s, wall_time_s=t, bpc_joint=3.0, bpc_main=3.0) for s, t in ((0, 0.0), (100, 90.0),
                                                                                             (200, 100.0)))
    assert check_cuda.steps_per_second(SimpleNamespace(history=history)) == 10.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_cuda_it_says_so_and_exits_2(capsys):
    assert check_cuda.main(["--steps", "4"]) == 2
    assert "sees no CUDA device: run this on a GPU machine" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_run_on_cpu_passes_every_check(tmp_path, capsys):
    assert check_cuda.main(["--device", "cpu", "--tiny", "--steps", "6", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("train float32", "train bf16+compile", "bf16 vs float32", "KV cache = full forward",
                 "eval and sample on cpu", "hierarchy: bf16+compile vs float32", "hierarchy: KV cache = full forward"):
        assert any(line.startswith("PASS") and name in line for line in out.splitlines()), (name, out)
    assert "0 failed" in out
