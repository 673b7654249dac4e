"""The table `multigrid check` prints: one row per axis, with what the
checker decided (kind, vocabulary, causality, mode) and what the axis did on
a sample text (coverage, most frequent labels), plus the empirical verdict
when `--verify` ran.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np

from grid_dsl.data.causality import Verdict
from grid_dsl.data.grid import Grid
from grid_dsl.data.plan import Plan

TOP_LABELS = 3


def mode_of(plan: Plan, name: str) -> str:
    """The axis's role in the grid: its feed's mode, or "-" for a helper."""
    feed = plan.feed(name)
    if feed is None:
        return "-"
    return "oracle (forced)" if feed.forced else feed.mode


def causal_text(axis) -> str:
    """"yes", or how far the axis looks ahead (the reason is in lookahead_notes)."""
    return "yes" if axis.causal else f"no: {attrs.evolve(axis.lookahead, note='')}"


def lookahead_notes(plan: Plan) -> list[str]:
    """Why each non-causal axis looks ahead, one line per axis."""
    return [f"  {axis.name}: {axis.lookahead.note}" for axis in plan.axes if not axis.causal and axis.lookahead.note]


def label_stats(grid: Grid, name: str) -> tuple[float, list[tuple[str, float]]]:
    """Share of positions with a label, and the most frequent labels with
    their share of all positions."""
    ids = grid.ids(name)
    if len(ids) == 0:
        return 0.0, []
    counts = np.bincount(ids, minlength=1)
    coverage = 1.0 - counts[0] / len(ids)
    vocab = grid.vocab(name)
    top = [i for i in np.argsort(-counts[1:], kind="stable")[:TOP_LABELS] + 1 if counts[i] > 0]
    return float(coverage), [(vocab[i], counts[i] / len(ids)) for i in top]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; the columns in `right` are right-aligned."""
    widths = [max(len(str(row[c])) for row in [headers, *rows]) for c in range(len(headers))]

    def line(cells) -> str:
        parts = [str(x).rjust(w) if c in right else str(x).ljust(w) for c, (x, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def axis_table(plan: Plan, grid: Grid, verdicts: Sequence[Verdict] | None = None) -> str:
    """The table of axes, in dependency order."""
    headers = ["axis", "kind", "labels", "causal", "mode", "coverage", "top labels"]
    by_axis = {v.axis: v for v in verdicts or ()}
    if verdicts is not None:
        headers.append("verified")
    rows = []
    for axis in plan.axes:
        coverage, top = label_stats(grid, axis.name)
        row = [
            axis.name,
            axis.kind,
            str(len(axis.labels)),
            causal_text(axis),
            mode_of(plan, axis.name),
            f"{100 * coverage:.1f}%",
            ", ".join(f"{label} {100 * share:.1f}%" for label, share in top) or "-",
        ]
        if verdicts is not None:
            verdict = by_axis.get(axis.name)
            row.append(verdict.status if verdict else "-")
        rows.append(row)
    table = format_table(headers, rows, right=(2, 5))
    notes = lookahead_notes(plan)
    return table + ("\n\nwhy the non-causal axes look ahead:\n" + "\n".join(notes) if notes else "")


def summary(plan: Plan) -> list[str]:
    """What a training run of this spec may claim (docs/design.md, "Causality")."""
    oracle = [f.axis + (" (forced context)" if f.forced else "") for f in plan.feeds if f.mode == "oracle"]
    predict = [f.axis for f in plan.feeds if f.mode == "predict"]
    if oracle:
        return [
            f"LEAKY: {', '.join(oracle)} fed as oracle. No number from a run of this spec is an LM score; "
            "every metric is labelled leaky."
        ]
    if not plan.feeds:
        return ["no axis is fed to the model: every axis is a helper (add `feed NAME as context|predict`)"]
    masks = [f.axis for f in plan.feeds if f.mode == "mask"]
    scope = (f"; every score counts only the characters '{masks[0]}' labels (a baseline on the same dataset "
             "is scored on the same characters)") if masks else ""
    if predict:
        return [f"honest: predict axes ({', '.join(predict)}) count in bpc_joint, the number to compare with a baseline"]
    if len(masks) == len(plan.feeds):
        return [f"honest: no axis is read by the model{scope}"]
    return [f"honest: every fed axis is causal context; bpc_main compares directly with a baseline{scope}"]
