"""One table of several `multigrid compare` directories (flat and hierarchical
runs trained apart, so not paired by seed): per configuration its steps,
FLOPs and seconds, validation bpc_joint mean ± sd [95% interval], and its
difference to the best flat configuration with Welch's 95% interval; with
--plot, the validation curves of every configuration (mean over seeds) against
estimated training FLOPs and against seconds of training.

    python examples/experiments/hierarchy/table.py DIR [DIR ...] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from grid_dsl.language.diagnostics import UserError
from model.experiments import compare_plan
from model.network import metrics
from model.network.metrics import RunMetrics


def runs(folder: Path) -> dict[str, list[RunMetrics]]:
    """The finished runs of every configuration of the comparison in `folder`
    (a damaged plan or metrics.json: UserError, said by main)."""
    found = {}
    for config in compare_plan.load(folder, planned=True).configurations:
        files = sorted((folder / "runs" / config.name).glob("seed*/" + metrics.FILE))  # none yet: not started
        planned = config.train_config
        finished = [m for m in map(metrics.load, (file.parent for file in files)) if m.finished(planned.max_iters)]
        if finished:
            found[("hierarchical " if planned.boundary else "flat ") + config.name] = finished
    return found


def welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Mean of a minus mean of b and Welch's 95% interval."""
    a, b = np.asarray(a), np.asarray(b)
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, dof)) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def plot(table: dict[str, list[RunMetrics]], path: str) -> None:
    """bpc_joint against FLOPs and against seconds; a curve is the mean over
    seeds at each evaluation (seconds: their mean too, as clocks differ)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, ms in table.items():
        n = min(len(m.history) for m in ms)
        points = np.array([[(h.flops, h.wall_time_s, h.bpc_joint) for h in m.history[1:n]] for m in ms])
        flops, seconds, bpc = points.mean(0).T
        for ax, x in zip(axes, (flops, seconds)):
            ax.plot(x, bpc, marker="o", ms=2, ls="--" if name.startswith("flat") else "-", label=name)
    axes[0].set(xlabel="estimated training FLOPs", ylabel="validation bpc_joint", xscale="log")
    axes[1].set(xlabel="seconds of training (this machine, as the runs ran)")
    axes[1].legend(fontsize=7)
    fig.suptitle(f"validation curves, mean over seeds ({', '.join(sorted({str(len(ms)) for ms in table.values()}))} seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def main(folders: list[str], plot_to: str | None = None) -> None:
    table = {}
    for folder in folders:
        table.update(runs(Path(folder)))
    bpc = {name: [m.bpc_joint for m in ms] for name, ms in table.items()}
    flat = [n for n in table if n.startswith("flat") and len(bpc[n]) > 1]
    best = min(flat, key=lambda n: np.mean(bpc[n])) if flat else None
    print("| configuration | seeds | steps | FLOPs | seconds | train bpc_joint | bpc_joint | Δ to the best flat |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ms in table.items():
        values = bpc[name]
        mean, sd = np.mean(values), (np.std(values, ddof=1) if len(values) > 1 else math.nan)
        half = stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values)) if len(values) > 1 else math.nan
        delta = "—"
        if best and name != best and len(values) > 1:
            d, lo, hi = welch(values, bpc[best])
            delta = f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
        train = np.mean([metrics.or_nan(m.train_bpc_joint) for m in ms])
        print(f"| {name} | {len(ms)} | {np.mean([m.step for m in ms]):,.0f} | "
              f"{np.mean([metrics.or_nan(m.flops) for m in ms]):.3g} | "
              f"{np.mean([m.wall_time_s for m in ms]):,.0f} | "
              f"{train:.4f} | {mean:.4f} ± {sd:.4f} [{mean - half:.4f}, {mean + half:.4f}] | {delta} |")
    if best:
        print(f"\nΔ: against {best} (unpaired: Welch's t).")
    if plot_to:
        plot(table, plot_to)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="comparison folders (multigrid compare --out)")
    parser.add_argument("--plot", help="write the validation curves against FLOPs and seconds here (PNG)")
    args = parser.parse_args()
    try:
        main(args.folders, args.plot)
    except UserError as err:  # a run's metrics.json damaged or from another version: named, no traceback
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
