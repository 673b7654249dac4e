"""The results of `multigrid compare` (model/experiments/compare.py): a table, a CSV, a plot.

    >>> markdown = write_report("runs/cmp")     # doctest: +SKIP
    DIR/results.csv   one row per configuration, full precision
    DIR/results.md    the same as a table, with how it was measured
    DIR/results.png   validation bpc_joint against steps, wall clock and training FLOPs

Per configuration, over its seeds: the mean, the standard deviation (n-1)
and a 95% interval from Student's t of bpc_joint and bpc_main; the mean
parameters and tokens/s; the mode of every axis; `leaky` (an oracle axis, or
a non-causal axis forced as context); the lowest validation bpc_joint on the
way and its step (optimistic: chosen on the validation batches; it shows
overfitting, e.g. on a small train split). The difference to the baseline at the
same sweep point is paired by seed: seed i of the configuration minus seed i
of the baseline, which start from the same backbone and draw the same
batches; its interval is Student's t on the n differences. A leaky row's
numbers all carry "LEAKY — not an LM score". One seed gives no interval.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
from scipy import stats  # a dependency of scikit-learn, which the project requires

from grid_dsl.data.files import write_atomically

from model.experiments import compare_plan
from model.experiments.compare_plan import ComparePlan, Configuration
from model.experiments.wallclock import SHARE
from model.network import metrics
from model.network.metrics import RunMetrics
from model.training.evaluate import LEAKY_LABEL

# score -> its value in a run's metrics.json. `lowest_bpc_joint` is the best
# validation point on the way (checkpoint best.pt): chosen on the validation
# batches themselves, so optimistic, but it tells learning from overfitting.
SCORES = {
    "bpc_joint": lambda m: m.bpc_joint,
    "bpc_main": lambda m: m.bpc_main,
    "lowest_bpc_joint": lambda m: m.best.bpc_joint if m.best else math.nan,
    # the same fixed batches drawn from the train split (runs before it was recorded: nan)
    "train_bpc_joint": lambda m: metrics.or_nan(m.train_bpc_joint),
}
COLUMNS = ["config", "spec", "sweep", "baseline", "seeds", "leaky", "label", "prefix_checked", "axes", "parameters",
           "matched", "steps", "wall_time_s", "tokens_per_s", "flops", "lowest_step"]
COLUMNS += [f"{s}_{part}" for s in SCORES for part in ("mean", "std", "ci95_low", "ci95_high")]
COLUMNS += [f"diff_{s}_{part}" for s in SCORES for part in ("mean", "ci95_low", "ci95_high")]


def write_report(out: str | Path) -> str:
    """Write results.csv, results.md and results.png of the comparison in
    `out` (every run finished); returns the markdown."""
    out = Path(out)
    plan = compare_plan.load(out, planned=True)
    configurations, seeds = plan.configurations, plan.settings.seeds
    runs = {c.name: load_runs(out, c.name, seeds) for c in configurations}
    rows = [summarise(c, runs) for c in configurations]
    write_atomically(out / "results.csv", to_csv(rows))
    markdown = to_markdown(rows, plan, runs)
    write_atomically(out / "results.md", markdown)
    buffer = io.BytesIO()
    plot(configurations, runs, seeds).savefig(buffer, format="png", dpi=120)
    write_atomically(out / "results.png", buffer.getvalue())
    return markdown


def load_runs(out: Path, name: str, seeds: int) -> list[RunMetrics]:
    return [metrics.load(out / "runs" / name / f"seed{i}") for i in range(seeds)]




# ---------------------------------------------------------------- numbers


def interval(values) -> tuple[float, float, float, float]:
    """Mean, standard deviation (n-1) and the 95% Student's t interval of
    the mean; nan where one value gives none."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(values) - 1)) * std / math.sqrt(len(values))
    return mean, std, mean - half, mean + half


def prefix_checked_cell(runs: list[RunMetrics]) -> str:
    """The referee's result over a configuration's runs: "positions/mismatches"
    added up over seeds, "-" when they read no context axis."""
    checks = [m.prefix_checked for m in runs if m.prefix_checked]
    if not checks:
        return "-"
    return f"{sum(c.positions for c in checks)}/{sum(c.mismatches for c in checks)}"


def summarise(config: Configuration, runs: dict) -> dict:
    """One row of the table: `config`'s runs over seeds, against its baseline."""
    own = runs[config.name]
    leaky = any(m.leaky for m in own)
    matched = config.matched
    row = {
        "config": config.name, "spec": config.spec or "", "baseline": config.baseline or "",
        "sweep": " ".join(f"{k}={v}" for k, v in config.sweep.items()), "seeds": len(own),
        "leaky": leaky, "label": LEAKY_LABEL if leaky else "honest",
        "prefix_checked": prefix_checked_cell(own),
        "axes": " ".join(f"{a.name}={a.mode}" for a in own[0].axes),
        "parameters": own[0].parameters,
        "matched": f"{matched.key} {matched.from_}->{matched.to}" if matched else "",
        "steps": float(np.mean([m.step for m in own])),
        "wall_time_s": float(np.mean([m.wall_time_s for m in own])),
        "tokens_per_s": float(np.mean([m.tokens_per_s for m in own])),
        "flops": float(np.mean([metrics.or_nan(m.flops) for m in own])),  # estimated training FLOPs (flops.py)
        "lowest_step": float(np.mean([m.best.step if m.best else math.nan for m in own])),
    }
    for score, value in SCORES.items():
        values = [value(m) for m in own]
        row |= dict(zip([f"{score}_{p}" for p in ("mean", "std", "ci95_low", "ci95_high")], interval(values)))
        if config.baseline:
            paired = [value(m) - value(b) for m, b in zip(own, runs[config.baseline])]
            mean, _, low, high = interval(paired)
            row |= {f"diff_{score}_mean": mean, f"diff_{score}_ci95_low": low, f"diff_{score}_ci95_high": high}
    return row


# ----------------------------------------------------------------- tables


def matched_lines(configurations: tuple[Configuration, ...]) -> list[str]:
    """What --match-params did to each configuration, saying so when it
    changed nothing (the configuration was already the closest)."""
    matched = [c for c in configurations if c.matched]
    if not matched:
        return ["", "Parameters not matched: each configuration has the config's shape."]
    m = matched[0].matched
    changed = [c for c in matched if c.matched.from_ != c.matched.to]
    lines = ["", f"Parameters matched to the baseline by {m.by} ("
                 + (f"{m.key} adjusted" if changed else "nothing adjusted: every configuration was already the closest")
                 + "):"]
    for c in matched:
        mc = c.matched
        change = (f"{mc.key} {mc.from_} → {mc.to}" if mc.from_ != mc.to
                  else f"{mc.key} {mc.from_} kept (nothing adjusted)")
        lines.append(f"- {c.name}: {change}, {c.parameters:,} parameters (baseline "
                     f"{mc.baseline_parameters:,}; {mc.unmatched_parameters:,} unmatched)")
    return lines



def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()})
    return buffer.getvalue()


def score_cell(row: dict, prefix: str, with_std: bool) -> str:
    """`mean ± std [low, high]` (a difference: `+mean [low, high]`)."""
    mean = row.get(f"{prefix}_mean")
    if mean is None or math.isnan(mean):
        return "—"
    text = f"{mean:.4f}" if with_std else f"{mean:+.4f}"
    if with_std and not math.isnan(row[f"{prefix}_std"]):
        text += f" ± {row[f'{prefix}_std']:.4f}"
    if not math.isnan(row[f"{prefix}_ci95_low"]):
        text += f" [{row[f'{prefix}_ci95_low']:.4f}, {row[f'{prefix}_ci95_high']:.4f}]"
    return f"{LEAKY_LABEL}: {text}" if row["leaky"] else text


def cut_short_lines(configurations: tuple[Configuration, ...], runs: dict) -> list[str]:
    """Runs the clock (--max-time) stopped before their max_iters: their
    learning rate had not decayed, a handicap the table does not show."""
    short = [f"- {c.name}/seed{i}: step {m.step:,} of {c.train_config.max_iters:,}"
             for c in configurations for i, m in enumerate(runs[c.name])
             if m.stopped == "max_time" and m.step < c.train_config.max_iters]
    if not short:
        return []
    return ["", "Stopped by the clock before the end of their learning-rate schedule (their rate had not decayed, "
            "so they are handicapped against runs that finished theirs; give each configuration the steps T "
            "allows: `--probe-steps N`, a longer N for a steadier figure):", "", *short]


def to_markdown(rows: list[dict], plan: ComparePlan, runs: dict) -> str:
    s = plan.settings
    config = s.train_config
    if s.flops:
        budget = f"{s.flops:.3g} estimated training FLOPs (each configuration the steps that come closest: column steps)"
    elif s.steps:
        budget = f"{s.steps:,} steps"
    elif s.probe_steps:
        budget = (f"{s.max_time:g} s of wall clock (each configuration's max_iters, and so its learning-rate "
                  f"schedule, the steps that {SHARE:g} of it allows by a {s.probe_steps:,}-step probe of its "
                  "speed: column steps)")
    else:
        budget = f"{s.max_time:g} s of wall clock (at most {config.max_iters:,} steps)"
    lines = [
        f"# multigrid compare: {', '.join(spec.name for spec in s.specs)}"
        + (" against the baseline" if s.baseline else ""), "",
        f"Corpus `{s.corpus}`, one split for every configuration (val_fraction {s.val_fraction:g}, seed "
        f"{s.data_seed}); {s.seeds} seed(s) per configuration ({config.seed}..{config.seed + s.seeds - 1}), "
        f"{budget} each; every run scored on the same {config.eval_iters} validation batches of "
        f"{config.batch_size} × {config.block_size} (eval_seed {config.eval_seed}).", "",
        "Cells: mean ± standard deviation [95% interval, Student's t] over seeds. Δ: the difference to the "
        "baseline at the same sweep point, paired by seed (same initial backbone, same batches), with its 95% "
        "interval; negative is better. Compare `bpc_joint`; `bpc_main` alone compares only when every axis is "
        f"`context`. Rows with an oracle axis, or whose context labels the referee found differing from their "
        f"prefix's, are leaky: their numbers are marked {LEAKY_LABEL}. `prefix checked`: validation positions whose "
        "context labels were compiled again from the document's prefix / mismatches, over the seeds. `lowest`: the "
        "lowest validation bpc_joint on the way (mean step), chosen on these validation batches, so optimistic; "
        "far below the final score, the run overfitted. `train`: bpc_joint on as many fixed batches of the train "
        "split; far below the validation score, the model has learnt its corpus by heart."
        + (" One seed: no spread, no interval." if s.seeds == 1 else ""), "",
        "| configuration | leaky | prefix checked | axes (mode) | parameters | steps | tokens/s | FLOPs "
        "| bpc_joint | Δ bpc_joint | bpc_main | Δ bpc_main | lowest bpc_joint (step) | Δ lowest | train bpc_joint |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        axes = ", ".join(a.replace("=", " ") for a in row["axes"].split()) or "none"
        cells = [row["config"], "**yes**" if row["leaky"] else "no", row["prefix_checked"], axes, f"{row['parameters']:,}",
                 f"{row['steps']:,.0f}", f"{row['tokens_per_s']:,.0f}",
                 "—" if math.isnan(row["flops"]) else f"{row['flops']:.3g}",
                 score_cell(row, "bpc_joint", True), score_cell(row, "diff_bpc_joint", False),
                 score_cell(row, "bpc_main", True), score_cell(row, "diff_bpc_main", False),
                 f"{score_cell(row, 'lowest_bpc_joint', True)} ({row['lowest_step']:,.0f})",
                 score_cell(row, "diff_lowest_bpc_joint", False), score_cell(row, "train_bpc_joint", True)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += matched_lines(plan.configurations)
    lines += cut_short_lines(plan.configurations, runs)
    lines += ["", "![validation bpc_joint](results.png)", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------- plot


def band(curves: list[tuple[list, list]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Curves (x, y) of several seeds on the x values of them all, within
    the range every seed covers: x, mean, min, max (linear interpolation)."""
    start, end = max(x[0] for x, _ in curves), min(x[-1] for x, _ in curves)
    grid = np.unique(np.concatenate([np.asarray(x, dtype=float) for x, _ in curves]))
    grid = grid[(grid >= start) & (grid <= end)]
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    return grid, ys.mean(0), ys.min(0), ys.max(0)


def plot(configs: tuple[Configuration, ...], runs: dict, seeds: int):
    """Validation bpc_joint against steps and wall clock: the mean over seeds,
    shaded from the lowest to the highest seed; leaky configurations dashed."""
    from matplotlib.figure import Figure  # no pyplot: no global figures, no GUI backend

    figure = Figure(figsize=(18, 4.5))
    axes = figure.subplots(1, 3, sharey=True)
    for index, config in enumerate(configs):
        histories = [m.history for m in runs[config.name]]
        leaky = any(m.leaky for m in runs[config.name])
        label = config.name + (f" [{LEAKY_LABEL}]" if leaky else "")
        colour = f"C{index % 10}"
        for ax, key in zip(axes, ("step", "wall_time_s", "flops")):
            if any(getattr(h, key) is None for hist in histories for h in hist):
                continue  # runs from before FLOPs were recorded
            x, mean, low, high = band([([getattr(h, key) for h in hist], [h.bpc_joint for h in hist])
                                       for hist in histories])
            ax.plot(x, mean, color=colour, linestyle="--" if leaky else "-", label=label)
            ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
    axes[0].set(xlabel="step", ylabel="validation bpc_joint", title=f"against steps (band: min..max over {seeds} seeds)")
    axes[1].set(xlabel="wall clock (s)", title="against wall clock")
    axes[2].set(xlabel="estimated training FLOPs", title="against compute")
    axes[0].legend(fontsize="small")
    figure.tight_layout()
    return figure
