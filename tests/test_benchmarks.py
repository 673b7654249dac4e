"""benchmarks/run_all.py: rows, verdicts, the table, --only and --json, on stubbed benchmarks (no timing)."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
run_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_all)


def stub_train(quick):
    return [run_all.row("step: minimal GPT", 50.0, "ms"),
            run_all.row("step: baseline", 52.0, "ms", ratio=1.04, of="minimal GPT", target=1.05),
            run_all.row("step: sum, 3 axes", 60.0, "ms", ratio=60 / 52, of="baseline", target=1.08)]


def stub_memory(quick):
    return [run_all.row(f"peak RSS{' (quick)' if quick else ''}", 450.0, "MB", target=1000.0, on="value"),
            run_all.row("KV cache speed-up", 6.0, "x", target=5.0, sense=">=", on="value")]


@pytest.fixture
def stubbed(monkeypatch):
    called = []

    def record(name, fn):
        def bench(quick):
            called.append((name, quick))
            return fn(quick)
        return bench

    monkeypatch.setattr(run_all, "BENCHES", {"train": record("train", stub_train),
                                             "memory": record("memory", stub_memory)})
    monkeypatch.setattr(run_all, "machine", lambda: {"cpu": "Test CPU", "cores": 2, "torch": "9.9", "python": "3.x",
                                                     "os": "TestOS", "load_average": [0.5, 0.25, 0.0],
                                                     "date": "2000-01-01 00:00 UTC"})
    return called


def test_absolute_target_gets_ratio_to_target():
    r = run_all.row("peak RSS", 450.0, "MB", target=1000.0, on="value")
    assert (r["ratio"], r["of"]) == (0.45, "target")
    assert run_all.verdict(r) is True
    assert run_all.verdict({**r, "value": 1001.0}) is False


def test_verdicts_follow_sense_and_what_the_target_is_on():
    assert run_all.verdict(run_all.row("a", 52.0, "ms", ratio=1.06, of="x", target=1.05)) is False
    assert run_all.verdict(run_all.row("b", 4.9, "x", target=5.0, sense=">=", on="value")) is False
    assert run_all.verdict(run_all.row("c", 5.0, "x", target=5.0, sense=">=", on="value")) is True
    assert run_all.verdict(run_all.row("d", 1.0, "s")) is None


def test_table_has_every_column(stubbed, capsys):
    assert run_all.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("machine: Test CPU, 2 cores; torch 9.9, Python 3.x; TestOS; "
                      "load average 0.50, 0.25, 0.00 at start; 2000-01-01 00:00 UTC")
    assert out[1:] == [
        "bench   what               value    ratio              target",
        "train   step: minimal GPT  50.0 ms  -                  -",
        "train   step: baseline     52.0 ms  1.04x minimal GPT  <= 1.05x minimal GPT  ok",
        "train   step: sum, 3 axes  60.0 ms  1.15x baseline     <= 1.08x baseline     MISSED",
        "memory  peak RSS           450 MB   0.45x target       <= 1000 MB            ok",
        "memory  KV cache speed-up  6.00x    -                  >= 5x                 ok",
    ]
    assert stubbed == [("train", False), ("memory", False)]


def test_only_runs_the_named_benchmarks_and_quick_reaches_them(stubbed, capsys):
    assert run_all.main(["--only", "memory", "--quick"]) == 0
    out = capsys.readouterr().out
    assert stubbed == [("memory", True)]
    assert "[--quick: rough numbers]" in out.splitlines()[0]
    assert "peak RSS (quick)" in out and "step: baseline" not in out


def test_only_with_an_unknown_name_is_a_usage_error(stubbed, capsys):
    with pytest.raises(SystemExit) as stop:
        run_all.main(["--only", "train,trian"])
    assert stop.value.code == 2
    assert "--only train,trian: unknown benchmark trian; choose from train, memory" in capsys.readouterr().err
    assert stubbed == []


def test_json_holds_machine_and_rows_with_verdicts(stubbed, tmp_path, capsys):
    out = tmp_path / "sub" / "bench.json"
    assert run_all.main(["--only", "train", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["machine"]["cpu"] == "Test CPU" and report["quick"] is False and report["failed"] == {}
    assert [(r["bench"], r["name"], r["ok"]) for r in report["rows"]] == [
        ("train", "step: minimal GPT", None), ("train", "step: baseline", True), ("train", "step: sum, 3 axes", False)]
    assert [p.name for p in out.parent.iterdir()] == ["bench.json"]  # no temporary file left


def test_a_failing_benchmark_is_reported_and_the_others_still_run(stubbed, monkeypatch, capsys):
    def broken(quick):
        raise RuntimeError("corpus missing")

    monkeypatch.setitem(run_all.BENCHES, "broken", broken)
    assert run_all.main(["--only", "broken,memory"]) == 1
    captured = capsys.readouterr()
    assert "RuntimeError: corpus missing" in captured.err
    assert "failed: broken" in captured.out and "peak RSS" in captured.out
