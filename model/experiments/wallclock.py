"""Equal wall clock with schedules that fit: `multigrid compare --max-time T --probe-steps N`.

--max-time T stops a run's loop after T seconds, but the learning rate decays
over max_iters: a configuration given more steps than T allows stops before
its rate has decayed and loses by it, and how much it loses depends on its
speed, which is what the comparison measures. So each configuration is first
trained N steps (DIR/probe/<config>, seed 0 of the comparison), its seconds a
step and an evaluation are read from that run's history, and its max_iters
becomes the steps whose estimated run time comes to SHARE of T. The probe's
run is kept: a rerun reads it again and plans the same steps. The probes time
this machine: run them, like the comparison, with nothing else running.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import attrs

from grid_dsl.language.diagnostics import UserError

from model.experiments.compare_plan import Configuration, ProbePlan
from model.network import metrics
from model.network.metrics import Evaluation, RunMetrics
from model.network.config import TrainConfig

SHARE = 0.95  # of T: the estimate's margin, so the schedule ends before the clock does
PROBE_DIR = "probe"


def seconds_per_step_and_eval(history: tuple[Evaluation, ...]) -> tuple[float, float]:
    """(seconds a training step, seconds an evaluation) from a run's history
    (an evaluation at step 0, before any training, then at the others): the
    step-0 evaluation times one evaluation, and the rest of the run's clock,
    less its other evaluations at that cost, is training (the whole clock, if
    a slow first evaluation leaves none: a step is never free)."""
    first, last = history[0], history[-1]
    if first.step != 0 or last.step <= 0:
        raise ValueError("a probe's history runs from an evaluation at step 0 to one after training")
    per_eval = first.wall_time_s
    training = last.wall_time_s - len(history) * per_eval
    return (training if training > 0 else last.wall_time_s) / last.step, per_eval


def steps_within(seconds: float, per_step: float, per_eval: float, eval_interval: int) -> int:
    """The most steps M whose run time, M steps and evaluations at step 0,
    every eval_interval steps and at M, comes to at most SHARE x seconds
    (0 when not even one step does)."""
    budget = SHARE * seconds

    def run_time(m: int) -> float:
        return m * per_step + (1 + math.ceil(m / eval_interval)) * per_eval

    low, high = 0, 1
    while run_time(high) <= budget:
        low, high = high, high * 2
    while high - low > 1:  # run_time(low) <= budget < run_time(high), or low = 0
        middle = (low + high) // 2
        low, high = (middle, high) if run_time(middle) <= budget else (low, middle)
    return low if run_time(low) <= budget else 0


def probe(ds, run_dir: Path, config: TrainConfig, steps: int) -> RunMetrics:
    """The metrics of `config` trained `steps` steps in run_dir: the one
    there when it ran exactly those, else a new run (a probe is short: no
    resume)."""
    from model.training.train import train

    done = metrics.read(run_dir)
    if done is not None and done.stopped == "max_iters" and done.step == steps:
        return done
    if run_dir.exists():
        shutil.rmtree(run_dir)
    return train(ds, run_dir, config.replace(max_iters=steps), sample_fn=None)


def at_wall_clock(entry: Configuration, ds, seconds: float, probe_steps: int, out: Path) -> Configuration:
    """`entry` with the max_iters (and so the learning-rate schedule) that its
    probe says fit SHARE of `seconds`, and the probe's figures (`probe`)."""
    config = entry.train_config
    print(f"probe {entry.name}: {probe_steps} steps to time a step", file=sys.stderr)
    probed = probe(ds, out / PROBE_DIR / entry.name, config, probe_steps)
    per_step, per_eval = seconds_per_step_and_eval(probed.history)
    steps = steps_within(seconds, per_step, per_eval, config.eval_interval)
    if steps < 1:
        raise UserError(f"configuration {entry.name}: its probe took {per_step:.3g} s a step and {per_eval:.3g} s "
                        f"an evaluation, so not one step fits {SHARE:g} x --max-time {seconds:g}; raise --max-time "
                        "(or raise eval_interval, lower eval_iters)")
    return attrs.evolve(entry, config=config.replace(max_iters=steps).to_dict(),
                        probe=ProbePlan(steps=probe_steps, seconds_per_step=per_step, seconds_per_eval=per_eval,
                                        share=SHARE, max_iters=steps))
