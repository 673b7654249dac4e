"""multigrid stats DIR: look at a compiled dataset before training.

    multigrid stats data/tales                  # the train split, as a table
    multigrid stats data/tales --split all --json

For each axis: label distribution, coverage, entropy and a leak estimate in
bits, leak = H(m[t+1] | m[t]) - H(m[t+1] | m[t], a[t]), beside the same
figure for the axis lagged to be causal, and the compile-time prefix check
of each context axis beside them: the estimate is a hint, the prefix check
is the referee. The figures, how they are estimated and the flag rule are
in grid_dsl.data.leak; this module prints them (a table, or --json). The
report covers the train split by default (`--split`), the largest one.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Sequence

import attrs

from grid_dsl.data.leak import (BIAS_WARN_BITS, FED_WITHOUT_COST, LEAK_MIN_BITS, LEAK_MIN_RATIO, TOP_LABELS, SplitStats,
                   dataset_stats)
from grid_dsl.data.manifest import AxisCheck

NOTE_WIDTH = 100

DESCRIPTION = f"""\
Per axis of a compiled dataset: label distribution, coverage, entropy, and a
leak estimate in bits, leak = H(m[t+1] | m[t]) - H(m[t+1] | m[t], a[t]): how
much the label at t tells about the next character beyond the current one,
beside the same figure for the axis lagged to be causal (each run of one
label shown from the position after it). An axis fed as context or oracle,
not declared causal, whose leak exceeds its lagged figure by more than
{LEAK_MIN_BITS} bits and {LEAK_MIN_RATIO} times (both less their estimated plug-in bias)
is flagged LEAK: numbers from training on it are not language-model scores.
A declared-causal context axis with such figures is flagged "hint": the
estimate cannot tell an axis that summarises the window (position in word)
from one that looks ahead. The referee is the prefix check, shown beside it:
`compile` compares each context axis's labels with those compiled from
prefixes of the corpus's documents; an axis that failed it (compiled with
--allow-leaks) is flagged LEAK.
Exit code 0 (LEAK flags included); 2 when DIR is not a readable dataset."""


# ------------------------------------------------------------ report


def _bits(x: float) -> str:
    return f"{x:.3f}"


def _header(ds, path: str) -> list[str]:
    m = ds.manifest
    lines = [f"dataset {path}: spec {m.spec.hash[:12]}, corpus {m.corpus.name} "
             f"({m.corpus.documents} documents), main {m.main.unit} ({len(ds.main_vocab)} symbols)"]
    if m.leaky:
        lines.append(f"the manifest marks this dataset leaky: {m.leaky_reason or 'an axis is fed as oracle'} "
                     "(no language-model score from it)")
    return lines


def prefix_cell(entry: AxisCheck | None, mode: str | None) -> str:
    """The prefix-check column: its result for a context axis."""
    if mode != "context":
        return "-"
    if entry is None:
        return "not run"
    return f"FAILED ({entry.cuts} cuts)" if entry.mismatches else f"ok ({entry.cuts} cuts)"


def render(ds, path: str, stats: Sequence[SplitStats], color: bool = False) -> str:
    from grid_dsl.data.report import format_table

    def paint(text: str) -> str:
        return f"\x1b[1;31m{text}\x1b[0m" if color and text == "LEAK" else text

    out = _header(ds, path)
    for st in stats:
        out += ["", f"split {st.split}: {st.positions:,} positions, {st.documents:,} documents; "
                    f"H(m) = {_bits(st.main_entropy_bits)} bits, H(m[t+1] | m[t]) = {_bits(st.next_entropy_bits)} bits"]
        if not st.axes:
            out.append("no axes stored")
            continue
        headers = ["axis", "kind", "mode", "causal", "labels", "coverage", "H(a)", "leak", "lagged", "prefix check", "flag"]
        rows = [[a.name, a.kind, a.mode or "-", "yes" if a.causal else "no", str(a.labels), f"{a.coverage:.1%}",
                 _bits(a.entropy_bits), _bits(a.leak_bits), _bits(a.lagged_leak_bits),
                 prefix_cell(a.prefix_check, a.mode), a.flag] for a in st.axes]
        table = format_table(headers, rows, right=(4, 5, 6, 7, 8)).split("\n")
        # colour after padding, so the columns stay aligned
        out += [line[: -len("LEAK")] + paint("LEAK") if line.endswith("LEAK") else line for line in table]
        out += ["", "most frequent labels (share of all positions):"]
        width = max(len(a.name) for a in st.axes)
        for a in st.axes:
            shown = ", ".join(f"{label} {share:.1%}" for label, share in a.top) or "(no labels)"
            out.append(f"  {a.name.ljust(width)}  {shown}")
        if st.unreliable:
            out += ["", textwrap.fill(
                f"caution: few positions for the label combinations of {', '.join(st.unreliable)}: their leak "
                f"figures may be too high by more than {BIAS_WARN_BITS} bits (plug-in bias; see --json)", NOTE_WIDTH)]
    ahead = [(a.name, a.lookahead) for a in (stats[0].axes if stats else []) if not a.causal]
    if ahead:
        out += ["", "declared look-ahead of the axes that are not causal:"]
        out += [textwrap.fill(f"{name}: {lookahead}", NOTE_WIDTH, initial_indent="  ", subsequent_indent="    ")
                for name, lookahead in ahead]
    notes = [
        "leak = H(m[t+1] | m[t]) - H(m[t+1] | m[t], a[t]) in bits, from counts (plug-in: biased up on small data); "
        "lagged = the same for the label of the previous complete run of one label, shown from the position after it.",
        f"LEAK = fed as context or oracle, not declared causal, leak - lagged > {LEAK_MIN_BITS} bits "
        f"and leak > {LEAK_MIN_RATIO} x lagged, each figure less its estimated bias (Miller-Madow; in --json); "
        "or fed as context and failed the prefix check.",
        "The leak estimate is a hint, not a verdict: an honest axis that summarises the window (position in word) "
        "can meet it too (flag 'hint' on a declared-causal axis). The referee is the prefix check ('prefix check'): "
        "compile compares every context axis with the labels compiled from prefixes of the corpus's documents, "
        "and train and eval compare validation labels with their prefix's again.",
    ]
    out.append("")
    out += [textwrap.fill(note, NOTE_WIDTH) for note in notes]
    flagged = sorted({name for st in stats for name in st.leaks})
    if flagged:
        warning = textwrap.fill(
            f"LEAK: {', '.join(flagged)}: the label at t reveals characters the model has to predict; every number "
            "from training on this dataset is leaky, not a language-model score (feed a lagged, causal version "
            "as context, or the axis in predict mode).", NOTE_WIDTH)
        out += ["", paint("LEAK") + warning[len("LEAK"):]]
    return "\n".join(out)


def to_json(ds, path: str, stats: Sequence[SplitStats]) -> dict:
    m = ds.manifest
    return {
        "dataset": str(path),
        "spec_hash": m.spec.hash,
        "corpus": m.corpus.to_dict(),
        "main": {"unit": m.main.unit, "symbols": len(ds.main_vocab)},
        "leaky": m.leaky,
        "leaky_reason": m.leaky_reason,
        "prefix_check": m.prefix_check and m.prefix_check.to_dict(),
        "rule": {"min_bits": LEAK_MIN_BITS, "min_ratio": LEAK_MIN_RATIO, "modes": list(FED_WITHOUT_COST)},
        "splits": {st.split: {**attrs.asdict(st, filter=lambda att, _: att.name != "axes"),
                              "axes": [{**attrs.asdict(a), "top": [{"label": l, "share": s} for l, s in a.top]}
                                       for a in st.axes],
                              "leaks": st.leaks}
                   for st in stats},
        "leaks": sorted({name for st in stats for name in st.leaks}),
    }


# ----------------------------------------------------------- command


def run_stats(args) -> int:
    from grid_dsl.cli.spec import use_color
    from grid_dsl.data.dataset import Dataset

    ds = Dataset.open(args.dir)
    splits = list(ds.manifest.splits) if args.split == "all" else [args.split]
    stats = dataset_stats(ds, splits, args.top)
    if args.json:
        json.dump(to_json(ds, args.dir, stats), sys.stdout, indent=2)
        print()
    else:
        print(render(ds, args.dir, stats, color=use_color(args.color)))
    return 0


def _top(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}")
    return number


def add_commands(subparsers) -> None:
    cmd = subparsers.add_parser("stats", help="label distributions and leak estimates of a compiled dataset",
                                description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("dir", metavar="DIR", help="a compiled dataset directory (multigrid compile)")
    cmd.add_argument("--split", default="train", metavar="S",
                     help="the split to report: train (default, the largest), val, or all")
    cmd.add_argument("--top", type=_top, default=TOP_LABELS, metavar="N", help=f"labels listed per axis ({TOP_LABELS})")
    cmd.add_argument("--json", action="store_true", help="print the figures as JSON")
    cmd.add_argument("--color", action=argparse.BooleanOptionalAction, default=None,
                     help="colour the LEAK flags (default: on a terminal, unless NO_COLOR is set)")
    cmd.set_defaults(run=run_stats)
