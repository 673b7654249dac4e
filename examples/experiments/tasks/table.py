"""Exact match by size across seeds, from `multigrid eval-task` results (issue 18).

    python examples/experiments/tasks/table.py experiments/dyck experiments/dyck-capped \
        --kind dyck --ranges 1-6,7-12 --plot docs/results/dyck.png

Reads COMPARE/runs/CONFIG/seedN/eval-task/KIND/results.json under each comparison
folder and prints, per configuration, the mean ± sd over seeds of the exact-match
rate in each size range (the rate of a range: its correct prompts over its
prompts, per seed), then draws accuracy against size (the mean over seeds, the
band one sd). A configuration whose runs read leaky axes is labelled LEAKY.
With --positions, a second table says where answers go wrong: in each range,
the share of prompts wrong at the answer's first character and, on average,
at each later one (eval-task's `wrong_at`, mean over sizes and seeds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from grid_dsl.language.diagnostics import UserError
from model.experiments.tasks import TaskResults, read


def load(folders: list[str], kind: str) -> dict[str, list[TaskResults]]:
    """{configuration: [results.json of each seed]}, in the order found
    (a damaged one: UserError, said by main)."""
    found: dict[str, list[TaskResults]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob(f"runs/*/seed*/eval-task/{kind}/results.json")):
            found.setdefault(path.parents[3].name, []).append(read(path.parent))
    if not found:
        raise SystemExit(f"no eval-task/{kind}/results.json under runs/*/seed* of {', '.join(folders)}")
    return found


def sd(values: np.ndarray) -> np.ndarray:
    """The sample standard deviation over seeds (axis 0); 0 for one seed."""
    return values.std(0, ddof=1) if len(values) > 1 else np.zeros_like(values[0])


def rate(result: TaskResults, lo: int, hi: int) -> float:
    sizes = [s for s in result.sizes if lo <= s.size <= hi]
    return sum(s.correct for s in sizes) / max(1, sum(s.prompts for s in sizes))


def wrong_shares(result: TaskResults, lo: int, hi: int) -> tuple[float, float]:
    """Share wrong at the first answer character, and the mean share at the
    later ones, over the sizes in lo..hi (each size weighted alike)."""
    sizes = [s.wrong_at for s in result.sizes if lo <= s.size <= hi and s.wrong_at]
    if not sizes:
        raise SystemExit(f"{result.run}: no wrong_at in its results (written by an older eval-task); run eval-task again")
    later = [np.mean(w[1:]) for w in sizes if len(w) > 1]
    return float(np.mean([w[0] for w in sizes])), float(np.mean(later)) if later else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="comparison folders (multigrid compare --out)")
    parser.add_argument("--kind", required=True, help="the task kind: addition, multiplication or dyck")
    parser.add_argument("--ranges", required=True, help="size ranges of the table, e.g. 1-10,11-20,21-30")
    parser.add_argument("--plot", help="write accuracy against size here (PNG)")
    parser.add_argument("--positions", action="store_true", help="also where answers go wrong: first character or later")
    args = parser.parse_args()
    ranges = [tuple(int(x) for x in r.split("-")) for r in args.ranges.split(",")]
    try:
        found = load(args.folders, args.kind)
    except UserError as err:  # a results.json damaged or from another version: named, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2

    print("| configuration | seeds | " + " | ".join(f"exact {lo}–{hi}" for lo, hi in ranges) + " |")
    print("|---|---|" + "---|" * len(ranges))
    leaky = {name: "LEAKY: " if any(r.leaky for r in results) else "" for name, results in found.items()}
    for name, results in found.items():
        cells = []
        for lo, hi in ranges:
            rates = np.array([rate(r, lo, hi) for r in results]) * 100
            cells.append(f"{leaky[name]}{rates.mean():.1f}% ± {sd(rates):.1f}")
        print(f"| {name} | {len(results)} | " + " | ".join(cells) + " |")

    if args.positions:
        print("\n| configuration | " + " | ".join(f"wrong at character 1, {lo}–{hi} | at each later one, {lo}–{hi}"
                                              for lo, hi in ranges) + " |")
        print("|---|" + "---|---|" * len(ranges))
        for name, results in found.items():
            cells = []
            for lo, hi in ranges:
                first, later = np.array([wrong_shares(r, lo, hi) for r in results]).mean(0) * 100
                cells += [f"{leaky[name]}{first:.1f}%", f"{leaky[name]}{later:.1f}%"]
            print(f"| {name} | " + " | ".join(cells) + " |")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for name, results in found.items():
            sizes = [s.size for s in results[0].sizes]
            acc = np.array([[s.accuracy for s in r.sizes] for r in results])
            mean, spread = acc.mean(0), sd(acc)
            ax.plot(sizes, mean, marker="o", ms=3, label=name + (" (LEAKY)" if results[0].leaky else ""))
            ax.fill_between(sizes, mean - spread, mean + spread, alpha=0.15)
        for lo, hi in ranges[1:]:
            ax.axvline(lo - 0.5, color="grey", lw=0.8, ls="--")
        ax.set(xlabel="depth" if args.kind == "dyck" else "digits", ylabel="exact match", ylim=(-0.02, 1.02),
               title=f"{args.kind}: exact match by size ({len(next(iter(found.values())))} seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
