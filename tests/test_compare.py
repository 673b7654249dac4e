"""`multigrid compare` end to end on a tiny synthetic corpus and tiny models (CPU)."""

import csv
import json
import shutil
import statistics
from types import SimpleNamespace

import pytest

import model.training.train
from model.cli.main import main
from grid_dsl.data.dataset import Dataset
from model.experiments import compare_plan, report
from model.experiments.compare_plan import FORMAT, Configuration, Matched
from model.network.config import TrainConfig
from model.training.evaluate import LEAKY_LABEL

PREDICT = """main chars
group words = words
tagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])
feed shape as context
feed words as predict (weight=0.5)
"""
ORACLE = PREDICT.replace("feed words as predict (weight=0.5)", "feed words as oracle")
TINY = ["prefix_check=200", "n_layer=1", "n_head=2", "n_embd=32", "block_size=16", "batch_size=4", "eval_iters=2", "eval_interval=5",
        "log_interval=5", "warmup_iters=2", "sample_interval=0", "device=cpu"]


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # end to end; conftest: tiny models, one thread


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("specs")
    lower = PREDICT.replace("main chars", "main chars (lowercase)")
    for name, text in {"predict": PREDICT, "oracle": ORACLE, "lower": lower}.items():
        (folder / f"{name}.axes").write_text(text, encoding="utf-8")
    return folder


def command(specs, out, *extra, names=("predict", "oracle"), seeds="2"):
    spec_args = [arg for name in names for arg in ("--spec", str(specs / f"{name}.axes"))]
    return ["compare", "--corpus", "synthetic:stories=10,seed=0", *spec_args, "--seeds", seeds, "--val-fraction", "0.2",
            "--out", str(out), *extra, *TINY]


@pytest.fixture(scope="module")
def compared(specs, tmp_path_factory):
    """baseline, predict and oracle, 2 seeds, 10 steps: the comparison most tests read."""
    out = tmp_path_factory.mktemp("compare") / "cmp"
    args = command(specs, out, "--baseline", "--steps", "10")
    assert main(args) == 0
    return out, args


def metrics(out, config, seed):
    return json.loads((out / "runs" / config / f"seed{seed}" / "metrics.json").read_text())


def rows(out):
    with open(out / "results.csv", newline="", encoding="utf-8") as handle:
        return {row["config"]: row for row in csv.DictReader(handle)}


def counting(monkeypatch):
    """Replace train() by one that records (run directory, resume) and trains."""
    calls, real = [], model.training.train.train

    def train(data, out, config, **kwargs):
        calls.append((out.parent.name + "/" + out.name, kwargs["resume"]))
        return real(data, out, config, **kwargs)

    monkeypatch.setattr(model.training.train, "train", train)
    return calls


# -------------------------------------------------------------- the results


def test_results_match_every_run(compared):
    out, _ = compared
    table = rows(out)
    with open(out / "results.csv", encoding="utf-8") as handle:
        assert handle.readline().strip().split(",") == report.COLUMNS
    assert list(table) == ["baseline", "predict", "oracle"]
    for config, row in table.items():
        runs = [metrics(out, config, i) for i in range(2)]
        assert [m["config"]["seed"] for m in runs] == [1337, 1338] and all(m["step"] == 10 for m in runs)
        assert all(m["eval"]["seed"] == 0 for m in runs)
        assert int(row["seeds"]) == 2 and int(row["parameters"]) == runs[0]["parameters"]
        for score in ("bpc_joint", "bpc_main"):
            values = [m[score] for m in runs]
            assert float(row[f"{score}_mean"]) == pytest.approx(statistics.mean(values), abs=1e-12)
            assert float(row[f"{score}_std"]) == pytest.approx(statistics.stdev(values), abs=1e-12)
            half = 12.706204736 * statistics.stdev(values) / 2 ** 0.5  # t(0.975, 1 degree of freedom)
            assert float(row[f"{score}_ci95_high"]) == pytest.approx(statistics.mean(values) + half, rel=1e-9)
            if config == "baseline":
                assert row[f"diff_{score}_mean"] == "" and row["baseline"] == ""
            else:
                base = [metrics(out, "baseline", i)[score] for i in range(2)]
                paired = [v - b for v, b in zip(values, base)]
                assert float(row[f"diff_{score}_mean"]) == pytest.approx(statistics.mean(paired), abs=1e-12)
                assert float(row[f"diff_{score}_ci95_low"]) == pytest.approx(
                    statistics.mean(paired) - 12.706204736 * statistics.stdev(paired) / 2 ** 0.5, rel=1e-9)
        assert float(row["tokens_per_s"]) == pytest.approx(statistics.mean(m["tokens_per_s"] for m in runs))
        # the lowest validation point on the way: best.pt's
        lowest = [min(h["bpc_joint"] for h in m["history"]) for m in runs]
        assert float(row["lowest_bpc_joint_mean"]) == pytest.approx(statistics.mean(lowest), abs=1e-12)
        assert float(row["lowest_step"]) == statistics.mean(
            min(m["history"], key=lambda h: h["bpc_joint"])["step"] for m in runs)
        if config != "baseline":
            base = [min(h["bpc_joint"] for h in metrics(out, "baseline", i)["history"]) for i in range(2)]
            assert float(row["diff_lowest_bpc_joint_mean"]) == pytest.approx(
                statistics.mean(v - b for v, b in zip(lowest, base)), abs=1e-12)
    assert table["predict"]["axes"] == "shape=context words=predict" and table["baseline"]["axes"] == ""
    # the baseline trains on the first spec's dataset, reading no axis
    assert metrics(out, "baseline", 0)["data"] == str(out / "data" / "predict")
    assert metrics(out, "baseline", 0)["config"]["axes"] == "none"
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(list((out / "runs" / c / "seed0").glob("events.out.tfevents.*")) for c in table)


def test_oracle_rows_are_leaky(compared):
    out, _ = compared
    table = rows(out)
    assert (table["oracle"]["leaky"], table["oracle"]["label"]) == ("True", LEAKY_LABEL)
    assert (table["predict"]["leaky"], table["predict"]["label"]) == ("False", "honest")
    lines = {line.split(" | ")[0][2:]: line for line in (out / "results.md").read_text().splitlines() if line.startswith("| ")}
    oracle_mean = float(table["oracle"]["bpc_joint_mean"])
    assert f"{LEAKY_LABEL}: {oracle_mean:.4f} ± " in lines["oracle"]
    # bpc_joint, bpc_main, the lowest bpc_joint, their differences, and the train split's bpc_joint
    assert lines["oracle"].count(LEAKY_LABEL) == 7
    train = float(table["baseline"]["train_bpc_joint_mean"])
    assert f"| {train:.4f} ± " in lines["baseline"]
    seeds = [metrics(out, "baseline", i)["train_bpc_joint"] for i in range(2)]
    assert abs(train - sum(seeds) / 2) < 1e-9 and seeds[0] != seeds[1]
    assert "LEAKY" not in lines["predict"] and "LEAKY" not in lines["baseline"]


def test_history_gives_the_curves(compared):
    out, _ = compared
    history = metrics(out, "predict", 1)["history"]
    assert [h["step"] for h in history] == [0, 5, 10]
    assert history[-1]["bpc_joint"] == metrics(out, "predict", 1)["bpc_joint"]
    x, mean, low, high = report.band([([0, 5, 10], [3.0, 2.0, 1.0]), ([0, 4, 8], [4.0, 2.0, 2.0])])
    assert x.tolist() == [0, 4, 5, 8]
    assert mean.tolist() == pytest.approx([3.5, 2.1, 2.0, 1.7]) and high.tolist() == pytest.approx([4, 2.2, 2, 2])


# ---------------------------------------------------------------- resuming


def test_rerun_skips_finished_and_resumes_unfinished(compared, tmp_path, monkeypatch, capsys):
    done, args = compared
    out = tmp_path / "cmp"
    shutil.copytree(done, out)
    args = [str(out) if a == str(done) else a for a in args]
    # predict/seed1 stopped after its checkpoint at step 5; oracle/seed0 was killed before its first one
    partial = out / "runs" / "predict" / "seed1"
    shutil.rmtree(partial)
    config = TrainConfig.load(None, TINY + ["max_iters=5", "seed=1338"])
    model.training.train.train(Dataset.open(out / "data" / "predict"), partial, config, progress=False)
    killed = out / "runs" / "oracle" / "seed0"
    shutil.rmtree(killed)
    killed.mkdir()
    (killed / "metrics.json").write_text(json.dumps({"step": 0, "stopped": "running"}))
    calls = counting(monkeypatch)
    assert main(args) == 0
    assert calls == [("predict/seed1", True), ("oracle/seed0", False)]
    assert "predict/seed1: resuming from step 5" in capsys.readouterr().err
    resumed = metrics(out, "predict", 1)
    assert resumed["step"] == 10 and [h["step"] for h in resumed["history"]] == [0, 5, 10]
    assert metrics(out, "oracle", 0)["step"] == 10
    assert float(rows(out)["predict"]["bpc_joint_mean"]) == pytest.approx(
        statistics.mean([metrics(out, "predict", 0)["bpc_joint"], resumed["bpc_joint"]]), abs=1e-12)
    calls.clear()
    assert main(args) == 0 and calls == []  # everything finished: nothing trains


def test_other_settings_for_the_same_out_are_refused(compared, monkeypatch, capsys):
    out, args = compared
    calls = counting(monkeypatch)
    changed = [a if a != "2" else "3" for a in args]  # --seeds 3
    assert main(changed) == 2
    err = capsys.readouterr().err
    assert "seeds 2 -> 3" in err and "choose another --out" in err and "Traceback" not in err
    assert main(args + ["learning_rate=0.003"]) == 2
    assert "learning_rate 0.001 -> 0.003" in capsys.readouterr().err
    assert calls == [] and json.loads((out / "compare.json").read_text())["settings"]["seeds"] == 2
    assert json.loads((out / "compare.json").read_text())["format"] == FORMAT


@pytest.mark.parametrize("edit, message", [
    (lambda plan: {**plan, "format": "multigrid-compare/0"},
     "not a comparison this version of multigrid reads (format 'multigrid-compare/0', this version of multigrid reads "
     "'multigrid-compare/1'); run it again with this version into a new --out"),
    (lambda plan: {**plan, "settings": {**plan["settings"], "seeds": "2"}},
     "is damaged or was edited (settings.seeds: expected int, found str); mend the file, or run the comparison again "
     "into a new --out"),
    (lambda plan: {**plan, "configurations": [{**plan["configurations"][0], "matched": {"by": "width"}}]},
     "is damaged or was edited (configurations[0].matched.key: missing)"),
])
def test_a_damaged_or_foreign_plan_is_named_with_exit_2(compared, tmp_path, capsys, edit, message):
    done, args = compared
    out = tmp_path / "cmp"
    shutil.copytree(done, out)
    file = out / "compare.json"
    file.write_text(json.dumps(edit(json.loads(file.read_text()))))
    assert main([str(out) if a == str(done) else a for a in args]) == 2
    err = capsys.readouterr().err
    assert f"{file}: {message}" in err or f"{file} {message}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------ the options


def test_match_params_brings_parameter_counts_close(specs, tmp_path):
    out = tmp_path / "cmp"
    assert main(command(specs, out, "--baseline", "--steps", "1", "--match-params", "width", "fusion=cross",
                        names=("predict",), seeds="1")) == 0
    plan = json.loads((out / "compare.json").read_text())
    baseline, grid = plan["configurations"]
    matched = grid["matched"]
    assert (matched["by"], matched["key"], matched["from"]) == ("width", "n_embd", 32)
    assert matched["to"] < 32 and matched["to"] % 2 == 0 and grid["config"]["n_embd"] == matched["to"]
    target = baseline["parameters"]
    assert matched["baseline_parameters"] == target == metrics(out, "baseline", 0)["parameters"]
    assert grid["parameters"] == metrics(out, "predict", 0)["parameters"]
    assert abs(grid["parameters"] - target) / target < abs(matched["unmatched_parameters"] - target) / target
    assert rows(out)["predict"]["matched"] == f"n_embd 32->{matched['to']}"
    read = compare_plan.load(out).configurations[1].matched  # "from" in the file, from_ in the record
    assert (read.from_, read.to, read.baseline_parameters) == (32, matched["to"], target)
    assert f"n_embd 32 → {matched['to']}, {grid['parameters']:,} parameters (baseline {target:,};" in (
        out / "results.md").read_text()


def test_sweep_runs_every_point_against_its_baseline(specs, tmp_path):
    out = tmp_path / "cmp"
    assert main(command(specs, out, "--baseline", "--steps", "1", "--sweep", "learning_rate=1e-3,3e-3",
                        "--sweep", "fusion=sum,concat", names=("predict",), seeds="1")) == 0
    table = rows(out)
    # the baseline has no axes: fusion changes nothing in it, so it trains once per learning rate
    assert list(table) == ["baseline,learning_rate=1e-3", "predict,learning_rate=1e-3,fusion=sum",
                           "predict,learning_rate=1e-3,fusion=concat", "baseline,learning_rate=3e-3",
                           "predict,learning_rate=3e-3,fusion=sum", "predict,learning_rate=3e-3,fusion=concat"]
    assert table["predict,learning_rate=3e-3,fusion=concat"]["baseline"] == "baseline,learning_rate=3e-3"
    config = metrics(out, "predict,learning_rate=3e-3,fusion=concat", 0)["config"]
    assert (config["learning_rate"], config["fusion"]) == (0.003, "concat")


@pytest.mark.parametrize("extra, message", [
    (["--sweep", "lerning_rate=1e-3,3e-3"],
     "--sweep 'lerning_rate=1e-3,3e-3': unknown key 'lerning_rate'; did you mean 'learning_rate'?"),
    (["--sweep", "seed=1,2"], "seed is set by the comparison"),
    (["--sweep", "n_layer=1,two"], "--sweep 'n_layer=1,two': n_layer expects a whole number, got 'two'"),
    (["--sweep", "n_layer"], "expected key=v1,v2"),
    (["--match-params", "depth"],
     "--match-params matches each configuration to the baseline's parameter count: add --baseline"),
])
def test_bad_options_exit_2(specs, tmp_path, capsys, extra, message):
    out = tmp_path / "cmp"
    assert main(command(specs, out, "--steps", "1", *extra)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_specs_with_different_main_streams_are_refused(specs, tmp_path, capsys):
    assert main(command(specs, tmp_path / "cmp", "--steps", "1", names=("predict", "lower"))) == 2
    assert "give different main streams" in capsys.readouterr().err
    assert not (tmp_path / "cmp" / "runs").exists()


def test_interval_uses_students_t():
    mean, std, low, high = report.interval([1.0, 2.0, 3.0])
    assert (mean, std) == (2.0, 1.0) and high - mean == pytest.approx(4.302652730 / 3 ** 0.5, rel=1e-9)
    assert report.interval([1.5])[0] == 1.5 and all(v != v for v in report.interval([1.5])[1:])  # nan: no spread


def test_match_params_says_when_it_adjusted_nothing():
    from model.experiments.report import matched_lines

    def config(name, before, after, matched=True):
        return Configuration(name, "spec", "data/spec", {}, {}, 1000, matched=Matched(
            by="width", key="n_embd", from_=before, to=after, baseline_parameters=990,
            unmatched_parameters=1000) if matched else None)

    kept = matched_lines([config("a", 32, 32)])
    assert "nothing adjusted: every configuration was already the closest" in kept[1]
    assert kept[2] == "- a: n_embd 32 kept (nothing adjusted), 1,000 parameters (baseline 990; 1,000 unmatched)"
    changed = matched_lines([config("a", 32, 32), config("b", 32, 28)])
    assert "(n_embd adjusted)" in changed[1] and "n_embd 32 → 28" in changed[3]
    assert matched_lines([config("a", 32, 32, matched=False)])[1].startswith("Parameters not matched")


def test_equal_flops_buys_cheaper_models_more_steps(specs, tmp_path):
    """--flops F: every configuration trains the steps whose estimated FLOPs come
    closest to F, so a model of half the FLOPs per step runs about twice the steps,
    and what each run records (metrics.json flops) is F within one step."""
    out = tmp_path / "cmp"
    budget = 3e8
    args = command(specs, out, "--baseline", "--flops", str(budget), "--sweep", "n_embd=32,64",
                   names=("predict",), seeds="1")
    assert main(args) == 0
    plan = json.loads((out / "compare.json").read_text())
    steps = {}
    for c in plan["configurations"]:
        run = metrics(out, c["name"], 0)
        steps[c["name"]] = run["step"]
        assert run["step"] == c["flops"]["steps"] == round(budget / c["flops"]["per_step"])
        assert abs(run["flops"] - budget) <= run["flops_per_char"] * 4 * 16  # one step of 4 x 16 characters
        assert run["flops_per_char"] == pytest.approx(c["flops"]["per_char"])
    assert steps["baseline,n_embd=32"] > 2 * steps["baseline,n_embd=64"]
    table = (out / "results.md").read_text()
    assert "3e+08 estimated training FLOPs" in table
    # FLOPs recorded per evaluation: the plot's third panel has its x values
    assert all("flops" in h for h in metrics(out, "predict,n_embd=32", 0)["history"])


def test_flops_is_one_budget_among_steps_and_time(specs, tmp_path, capsys):
    assert main(command(specs, tmp_path / "x", "--flops", "1e9", "--steps", "5")) == 2
    assert "argument --steps: not allowed with argument --flops" in capsys.readouterr().err
    assert main(command(specs, tmp_path / "y", "--flops", "many")) == 2
    assert "a number of FLOPs" in capsys.readouterr().err


def test_steps_within_counts_steps_and_evaluations():
    from model.experiments.wallclock import SHARE, seconds_per_step_and_eval, steps_within
    from model.network.metrics import Evaluation

    def at(*points):
        return tuple(Evaluation(step=s, wall_time_s=t, bpc_joint=3.0, bpc_main=3.0) for s, t in points)

    # evaluations at 0, 10 and 20: 2 s each; 20 steps at 0.5 s
    assert seconds_per_step_and_eval(at((0, 2.0), (10, 9.0), (20, 16.0))) == (0.5, 2.0)
    # a first evaluation slower than the rest of the probe leaves no training time: the whole clock is
    assert seconds_per_step_and_eval(at((0, 5.0), (10, 8.0))) == (0.8, 5.0)
    # T = 100 s, SHARE 0.95: 95 s; m steps cost 0.5 m + 2 (1 + ceil(m / 10)) s:
    # 130 steps 65 + 28 = 93 s, 131 steps 65.5 + 30 = 95.5 s
    assert SHARE == 0.95
    assert steps_within(100, 0.5, 2.0, 10) == 130
    assert steps_within(1000, 0.5, 0.0, 10) == 1900
    assert steps_within(3, 0.5, 2.0, 10) == 0  # the evaluations alone take the budget
    with pytest.raises(ValueError):
        seconds_per_step_and_eval(at((5, 1.0)))


def test_probe_steps_fit_each_schedule_into_the_time(specs, tmp_path, monkeypatch):
    """--max-time T --probe-steps N: each configuration's max_iters is what its
    probe's timings fit into 0.95 T; the plan records the probe; a rerun reads the
    kept probe (no new probe run) and plans the same steps."""
    from model.experiments.wallclock import seconds_per_step_and_eval, steps_within
    from model.network import metrics as run_metrics

    out = tmp_path / "cmp"
    args = command(specs, out, "--baseline", "--max-time", "3", "--probe-steps", "6", names=("predict",), seeds="1")
    assert main(args) == 0
    plan = json.loads((out / "compare.json").read_text())
    for c in plan["configurations"]:
        probe = run_metrics.load(out / "probe" / c["name"])
        assert probe.step == 6 == c["probe"]["steps"]
        per_step, per_eval = seconds_per_step_and_eval(probe.history)
        assert c["config"]["max_iters"] == c["probe"]["max_iters"] == steps_within(3, per_step, per_eval, 5) > 6
        assert metrics(out, c["name"], 0)["config"]["max_iters"] == c["config"]["max_iters"]
    assert "6-step probe of its speed" in (out / "results.md").read_text()
    calls = counting(monkeypatch)
    assert main(args) == 0
    assert calls == []  # probes kept, runs finished
    assert json.loads((out / "compare.json").read_text())["configurations"] == plan["configurations"]


def test_probe_steps_need_max_time(specs, tmp_path, capsys):
    assert main(command(specs, tmp_path / "cmp", "--steps", "3", "--probe-steps", "5")) == 2
    assert "--probe-steps times each configuration to fit its steps into --max-time T: add --max-time" in (
        capsys.readouterr().err)
    assert not (tmp_path / "cmp").exists()


def test_runs_the_clock_cut_short_are_listed():
    from model.experiments.report import cut_short_lines

    configs = [Configuration(name, "spec", "data/spec", {}, {"max_iters": steps}, 1) for name, steps in (("a", 100), ("b", 50))]
    def run(stopped, step):  # what cut_short_lines reads of a RunMetrics
        return SimpleNamespace(stopped=stopped, step=step)

    runs = {"a": [run("max_time", 80), run("max_iters", 100)], "b": [run("max_time", 50), run("max_iters", 50)]}
    lines = cut_short_lines(configs, runs)
    assert lines[1].startswith("Stopped by the clock before the end of their learning-rate schedule")
    assert lines[3:] == ["- a/seed0: step 80 of 100"]  # b/seed0's clock ran out at its last step: not cut short
    runs["a"][0] = run("max_iters", 100)
    assert cut_short_lines(configs, runs) == []
