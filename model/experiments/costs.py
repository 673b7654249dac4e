"""What the self-improvement loop and modular expansion cost, against training from scratch.

    multigrid equal-compute IMPROVE_DIR [--out DIR]
    multigrid expansion-cost SCRATCH_RUN EXPANDED_RUN [--old OLD_RUN]

equal-compute: a `multigrid improve` loop spends training steps on its first
model and on every candidate and control expansion. On the loop's round-0
data and config, this trains the starting spec and the baseline (no axes)
from scratch for the loop's total steps, evaluated whenever the loop's
cumulative steps complete a round, and prints each round's model beside both
at the same cumulative steps. Their schedules decay over the whole budget, so
only the last row compares annealed models; the earlier rows favour the loop.

expansion-cost: how many steps (and seconds) an expanded run (`multigrid
expand`) takes to reach the final validation bpc_joint of a run trained from
scratch with the same spec, read from both runs' metrics.json: the first
evaluation at or below the target, so the resolution is eval_interval and
the figure an upper bound (a shorter schedule anneals sooner). With --old,
the old run's own steps are added for the whole path.
"""

from __future__ import annotations

import math
from pathlib import Path

from grid_dsl.language.diagnostics import UserError

from grid_dsl.data.leak import LEAKY_LABEL

from model.experiments.improve_state import ImproveState
from model.network import metrics
from model.network.metrics import RunMetrics


# ----------------------------------------------------------- equal compute


def loop_steps(state: ImproveState) -> list[int]:
    """The loop's cumulative training steps after round 0, 1, 2, ...: the
    first model's, then every candidate's and control's, for every seed."""
    s = state.settings
    totals = [s.steps]
    for r in state.rounds:
        totals.append(totals[-1] + len(r.candidates) * s.seeds * 2 * s.candidate_steps)
    return totals


def equal_compute(improve_dir: str | Path, out: Path) -> list[dict]:
    """Train the from-scratch runs into `out` (resumable) and return one row per round."""
    from grid_dsl.data.dataset import Dataset

    from model.network.config import TrainConfig
    from model.experiments import improve_state
    from model.experiments.improve import train_resumable

    improve_dir = Path(improve_dir)
    state = improve_state.load(improve_dir)
    if not state.rounds:
        raise UserError(f"{improve_dir} has no finished round yet; run (or resume) the loop first")
    totals = loop_steps(state)
    config = TrainConfig.load(None, state.settings.overrides).replace(
        max_iters=totals[-1], eval_interval=math.gcd(*totals), sample_interval=0)
    data = Dataset.open(improve_dir / "data" / "round_0")
    curves = {}
    for name, axes in (("spec", "fed"), ("baseline", "none")):
        run = train_resumable(data, out / name, config.replace(axes=axes))
        if run.step != totals[-1] or TrainConfig.from_dict(run.config).eval_interval != config.eval_interval:
            raise UserError(f"{out / name} was trained for another budget ({run.step:,} steps; the loop "
                            f"now totals {totals[-1]:,}); remove {out} or pass another --out")
        curves[name] = {h.step: h.bpc_joint for h in run.history}
    first = metrics.load(improve_dir / "runs" / "round_0")
    rows, lineage = [], state.settings.steps
    for k, total in enumerate(totals):
        r = state.rounds[k - 1] if k else None
        lineage += state.settings.candidate_steps if r and r.accepted else 0
        rows.append({"round": k, "loop_steps": total, "model_steps": lineage,
                     "bpc_joint": r.bpc_joint if r else first.bpc_joint,
                     "accepted": (r.accepted or "—") if r else "(first model)",
                     "spec_scratch": curves["spec"][total], "baseline_scratch": curves["baseline"][total],
                     "leaky": first.leaky})  # the loop adds causal axes only: leaky iff its start is
    return rows


def equal_compute_table(rows: list[dict]) -> str:
    def score(r, key):
        return f"{LEAKY_LABEL}: {r[key]:.4f}" if r["leaky"] and key != "baseline_scratch" else f"{r[key]:.4f}"

    lines = ["| round | accepted | loop steps so far | the round's model: steps, bpc_joint | start spec from scratch "
             "at the loop's steps | baseline (no axes) at the loop's steps |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['round']} | {r['accepted']} | {r['loop_steps']:,} | {r['model_steps']:,}: "
                     f"{score(r, 'bpc_joint')} | {score(r, 'spec_scratch')} | {score(r, 'baseline_scratch')} |")
    last = rows[-1]
    lines.append("")
    lines.append(f"At equal total compute ({last['loop_steps']:,} steps) the loop's final model scores "
                 f"{score(last, 'bpc_joint')} bits/char; the starting spec trained that long from scratch "
                 f"{score(last, 'spec_scratch')}, the baseline {last['baseline_scratch']:.4f} (validation bpc_joint, the same "
                 "fixed batches). Earlier rows read the longer runs mid-schedule, before their learning rate has decayed.")
    return "\n".join(lines) + "\n"


def run_equal_compute(args) -> int:
    from grid_dsl.data.files import write_atomically

    out = Path(args.out) if args.out else Path(args.improve_dir) / "equal_compute"
    table = equal_compute_table(equal_compute(args.improve_dir, out))
    write_atomically(out / "equal_compute.md", table)
    print(table + f"\nwritten to {out / 'equal_compute.md'}")
    return 0


# ---------------------------------------------------------- expansion cost


def expansion_cost(scratch: RunMetrics, expanded: RunMetrics, old: RunMetrics | None = None) -> dict:
    """Steps and seconds for `expanded` to reach `scratch`'s final
    bpc_joint; UserError unless both were scored alike on one spec."""
    if scratch.spec_hash != expanded.spec_hash:
        raise UserError(f"the runs trained on different specs ({scratch.data} and {expanded.data}); train "
                        "the scratch run on a dataset compiled from the expanded run's spec")
    if scratch.eval != expanded.eval:
        raise UserError(f"the runs were evaluated differently ({scratch.eval} vs {expanded.eval}); give "
                        "them the same eval_iters, eval_seed, batch_size and block_size")
    target = scratch.bpc_joint
    hit = next((h for h in expanded.history if h.bpc_joint <= target), None)
    return {"target": target, "scratch_steps": scratch.step, "scratch_s": scratch.wall_time_s,
            "reached": hit is not None, "steps": hit.step if hit else None, "s": hit.wall_time_s if hit else None,
            "expanded_steps": expanded.step, "expanded_bpc": expanded.bpc_joint,
            "old_steps": old.step if old else None, "old_s": old.wall_time_s if old else None,
            "leaky": scratch.leaky or expanded.leaky}


def expansion_cost_lines(c: dict) -> list[str]:
    label = f"  [{LEAKY_LABEL}]" if c["leaky"] else ""
    lines = [f"from scratch: {c['scratch_steps']:,} steps, {c['scratch_s']:.0f} s, val bpc_joint {c['target']:.4f}{label}"]
    if not c["reached"]:
        lines.append(f"expanded: not reached in {c['expanded_steps']:,} steps (final val bpc_joint "
                     f"{c['expanded_bpc']:.4f}); train it longer (multigrid train --resume with a larger max_iters)")
        return lines
    lines.append(f"expanded: reaches it at step {c['steps']:,} ({c['s']:.0f} s): "
                 f"{c['steps'] / c['scratch_steps']:.0%} of the steps, {c['s'] / c['scratch_s']:.0%} of the wall-clock")
    if c["old_steps"] is not None:
        steps, seconds = c["old_steps"] + c["steps"], c["old_s"] + c["s"]
        lines.append(f"with the old run's own {c['old_steps']:,} steps: {steps:,} steps, {seconds:.0f} s "
                     f"({steps / c['scratch_steps']:.0%} of the steps, {seconds / c['scratch_s']:.0%} of the wall-clock)")
    return lines


def run_expansion_cost(args) -> int:
    old = metrics.load(args.old) if args.old else None
    print("\n".join(expansion_cost_lines(expansion_cost(metrics.load(args.scratch), metrics.load(args.expanded), old))))
    return 0
