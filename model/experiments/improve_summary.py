"""summary.md of `multigrid improve` (model/experiments/improve.py): a table of
every candidate of every round, then each accepted axis as its declarations
and a passage of validation text drawn as `multigrid show` draws it, so a
person can read what the loop learnt."""

from __future__ import annotations

import numpy as np

from model.experiments.improve_state import Round

def summary_table(rounds: tuple[Round, ...]) -> str:
    """summary.md: one row per candidate of every round."""
    lines = ["| round | candidate | proposer | bpc_joint (mean) | control | gain | 95% lower bound | prefix checked "
             "| decision |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rounds:
        for c in r.candidates:
            decision = r.decision(c)
            decision = f"**{decision}**" if decision == "accepted" else decision
            lines.append(f"| {r.round} | `{c.name}` | {c.proposer} | {np.mean(c.bpc):.4f} | "
                         f"{np.mean(c.control_bpc):.4f} | {c.gain:+.4f} | {c.lower:+.4f} | "
                         f"{c.prefix_checked} | {decision} |")
        if not r.candidates:
            lines.append(f"| {r.round} | — | — | — | — | — | — | — | no candidate |")
    lines.append("")
    for r in rounds:
        lines.append(f"round {r.round}: current val bpc_joint {r.bpc_joint:.4f}; "
                     + (f"accepted `{r.accepted}`" if r.accepted else "nothing accepted")
                     + "".join(f"\n  skipped: {f}" for f in r.failures))
    learnt = [r for r in rounds if r.accepted and r.declarations is not None]
    if learnt:
        lines.append("\n## What the loop learnt\n")
    for r in learnt:
        c = r.candidate(r.accepted)
        lines += [f"### round {r.round}: `{c.name}` ({c.proposer}, gain {c.gain:+.4f} bits/char)\n",
                  c.description + "\n", "```axes", r.declarations.rstrip(), "```\n", "```text",
                  (r.example or "").rstrip(), "```\n"]
    return "\n".join(lines) + "\n"


def new_declarations(spec_text: str, candidate_text: str) -> str:
    """The statements of `candidate_text` that declare an axis `spec_text` has not, as written there."""
    from grid_dsl.language.parser import parse

    known = {getattr(s, "name", None) for s in parse(spec_text, "<spec>").statements}
    lines = candidate_text.splitlines()
    new = [s for s in parse(candidate_text, "<candidate>").statements if getattr(s, "name", None) not in known]
    return "\n".join("\n".join(lines[s.loc.line - 1 : s.loc.end_line]) for s in new) + "\n"


def example_passage(spec_text: str, name: str, ds, chars: int = 240, width: int = 100) -> str:
    """A passage of the validation text where axis `name` gives a label other
    than its most common one (the first such place, compiled from the start
    of its document: long-range state needs what came before), drawn as
    `multigrid show` draws it: the text, the axes `name` reads, and `name`."""
    from axes.base import Stream
    from grid_dsl import compile_text
    from grid_dsl.data.checker import check
    from grid_dsl.data.grid import Grid
    from grid_dsl.language.parser import parse

    from model.experiments.distill import closure_plan

    plan = closure_plan(check(parse(spec_text, "<accepted>")), name)
    split = "val" if ds.tokens("val") else "train"
    bounds = [int(b) for b in ds.doc_starts(split)] + [ds.tokens(split)]
    for start, end in zip(bounds, bounds[1:]):
        text = ds.decode(ds.main(split)[start : min(end, start + 50_000)])
        grid = compile_text(plan, text)
        ids = grid.ids(name)
        speaks = np.flatnonzero(ids != np.bincount(ids).argmax())
        if len(speaks):
            lo = max(0, int(speaks[0]) - chars // 2)
            hi = min(len(text), lo + chars)
            shown = [*plan.axis(name).inputs[:4], name]
            piece = Grid(plan, text[lo:hi], {n: Stream(grid.char_streams[n].ids[lo:hi]) for n in shown})
            return piece.render(shown, width=width)
    return f"(`{name}` gives one label all through the {split} text)"
