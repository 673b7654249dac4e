"""The scripts that turn experiment folders into README tables:
examples/experiments/hierarchy/table.py (runs compared at equal FLOPs, unpaired)
and examples/experiments/tasks/table.py (eval-task exact match over seeds)."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from conftest import run_metrics
from grid_dsl.data.tasks import parse_task
from model.experiments.compare_plan import ComparePlan, Configuration, Settings
from model.experiments.tasks import SizeResult, Written, write
from model.network.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
HIERARCHY = ROOT / "examples" / "experiments" / "hierarchy" / "table.py"
TASKS = ROOT / "examples" / "experiments" / "tasks" / "table.py"


def script(path: Path, *args) -> str:
    done = subprocess.run([sys.executable, str(path), *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def comparison(folder: Path, config: str, finals: list[float], boundary: str = "", stopped: str = "max_iters",
               max_iters: int = 4):
    """A `multigrid compare` folder as the table reads it: compare.json and one metrics.json a seed."""
    folder.mkdir(parents=True)
    planned = TrainConfig(boundary=boundary, max_iters=max_iters).to_dict()  # every run stops at step 4
    settings = Settings(corpus="grimm", specs=(), baseline=False, seeds=len(finals), steps=None, max_time=None,
                        val_fraction=0.1, data_seed=0, sweep={}, config=planned, flops=4e9)
    ComparePlan(settings, (Configuration(config, config, f"data/{config}", {}, planned, 1),)).write(folder)
    for i, final in enumerate(finals):
        history = [{"step": s, "flops": 1e9 * s, "wall_time_s": 2.0 * s, "bpc_joint": final + 1.0 / s} for s in (1, 2, 4)]
        run = folder / "runs" / config / f"seed{i}"
        run.mkdir(parents=True)
        run_metrics(history, stopped=stopped, config={"boundary": boundary, "max_iters": 4}, bpc_joint=final,
                    train_bpc_joint=final - 0.1, flops=4e9).write(run)


def test_the_hierarchy_table_gives_welch_s_interval_against_the_best_flat_model(tmp_path):
    comparison(tmp_path / "flat", "flat64", [2.0, 2.2])
    comparison(tmp_path / "worse", "flat256", [3.0, 3.1])
    comparison(tmp_path / "hier", "words", [1.9, 1.95, 2.0], boundary="words")
    comparison(tmp_path / "unfinished", "half", [1.0], boundary="words", stopped="running")
    comparison(tmp_path / "short", "cut", [1.0], boundary="words", max_iters=8)  # stopped at 4 of its plan's 8
    out = script(HIERARCHY, tmp_path / "flat", tmp_path / "worse", tmp_path / "hier", tmp_path / "unfinished",
                 tmp_path / "short", "--plot", tmp_path / "curves.png")

    a, b = np.array([1.9, 1.95, 2.0]), np.array([2.0, 2.2])
    va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 2
    dof = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 1)
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    diff = a.mean() - b.mean()
    assert "| hierarchical words | 3 | 4 | 4e+09 | 8 | 1.8500 | 1.9500 ± 0.0500 " in out
    assert f"| {diff:+.4f} [{diff - half:+.4f}, {diff + half:+.4f}] |" in out
    assert "| flat flat64 | 2 | 4 | 4e+09 | 8 | 2.0000 | 2.1000 ± 0.1414 " in out and "| — |" in out
    assert "Δ: against flat flat64" in out  # the better flat model, not the first or the worse
    assert "half" not in out and "cut" not in out  # a run still training, or short of its plan's steps, is no result
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_hierarchy_table_names_a_damaged_run_or_plan_and_exits_2(tmp_path):
    comparison(tmp_path / "flat", "flat64", [2.0, 2.2])
    bad = tmp_path / "flat" / "runs" / "flat64" / "seed1" / "metrics.json"
    bad.write_text(bad.read_text().replace('"step": 4,', '"step": "4",', 1))
    done = subprocess.run([sys.executable, str(HIERARCHY), str(tmp_path / "flat")], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: {bad} is damaged or was edited (step: expected int, found str)" in done.stderr
    plan = tmp_path / "flat" / "compare.json"
    plan.write_text(plan.read_text().replace('"seeds": 2', '"seeds": "2"', 1))
    done = subprocess.run([sys.executable, str(HIERARCHY), str(tmp_path / "flat")], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: {plan} is damaged or was edited (settings.seeds: expected int, found str)" in done.stderr


def test_the_task_table_gives_exact_match_by_range_over_seeds(tmp_path):
    task = parse_task("addition:digits=1-4")
    example = Written("1+2=", "3", "3")
    for config, rights in (("baseline", [(4, 0, 0, 0), (4, 2, 0, 0)]), ("digits", [(4, 4, 3, 1), (4, 4, 4, 2)])):
        for seed, correct in enumerate(rights):
            # wrong at the first answer character in 1-c/4 of the prompts; the later ones 0.1 (seed 0) or 0.3 (seed 1)
            results = [SizeResult(size=i + 1, prompts=4, correct=c, example=example,
                                  wrong_at=(1 - c / 4, *[0.1 + 0.2 * seed] * (i + 1)))
                       for i, c in enumerate(correct)]
            write(tmp_path / "cmp" / "runs" / config / f"seed{seed}" / "eval-task" / "addition", results, task,
                  run=f"{config}/seed{seed}", n=4, seed=0)
    oracle = [SizeResult(size=i + 1, prompts=4, correct=4, example=example, wrong_at=(0.0,) * (i + 2)) for i in range(4)]
    write(tmp_path / "cmp" / "runs" / "oracle" / "seed0" / "eval-task" / "addition", oracle, task, run="oracle/seed0",
          n=4, seed=0, label="LEAKY — not an LM score")
    out = script(TASKS, tmp_path / "cmp", "--kind", "addition", "--ranges", "1-2,3-4", "--plot", tmp_path / "acc.png",
                 "--positions")
    # baseline: 1-2 is 4/8 and 6/8 right (62.5% ± 17.7), 3-4 none; digits: 1-2 all, 3-4 4/8 and 6/8
    assert "| baseline | 2 | 62.5% ± 17.7 | 0.0% ± 0.0 |" in out
    assert "| digits | 2 | 100.0% ± 0.0 | 62.5% ± 17.7 |" in out
    assert (tmp_path / "acc.png").read_bytes()[:4] == b"\x89PNG"
    # first character: baseline 1-2 wrong in 0, 1 (seed 0) and 0, 0.5 (seed 1): 37.5%; later ones 20% on average
    assert "| baseline | 37.5% | 20.0% | 100.0% | 20.0% |" in out
    assert "| digits | 0.0% | 20.0% | 37.5% | 20.0% |" in out
    # a run that reads leaky axes is labelled in both tables
    assert "| oracle | 1 | LEAKY: 100.0% ± 0.0 | LEAKY: 100.0% ± 0.0 |" in out
    assert "| oracle | LEAKY: 0.0% | LEAKY: 0.0% | LEAKY: 0.0% | LEAKY: 0.0% |" in out


def test_the_task_table_names_damaged_results_and_exits_2(tmp_path):
    example = Written("1+2=", "3", "3")
    folder = tmp_path / "cmp" / "runs" / "digits" / "seed0" / "eval-task" / "addition"
    write(folder, [SizeResult(1, 4, 2, example, (0.5, 0.0))], parse_task("addition:digits=1-1"), run="digits/seed0",
          n=4, seed=0)
    bad = folder / "results.json"
    bad.write_text(bad.read_text().replace('"correct": 2', '"correct": "2"', 1))
    done = subprocess.run([sys.executable, str(TASKS), str(tmp_path / "cmp"), "--kind", "addition", "--ranges", "1-1"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: {bad} is damaged or was edited (sizes[0].correct: expected int, found str)" in done.stderr
