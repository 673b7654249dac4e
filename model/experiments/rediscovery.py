"""Rediscovery: how much of the synthetic corpus's planted structure a distilled axis recovers.

    python -m model.experiments.rediscovery IMPROVE_DIR [--stories N] [--seed S]

For every candidate axis an `improve` loop measured (IMPROVE_DIR/improve.json),
the axis is compiled on held-out synthetic tales (a corpus seed the loop did
not train on) beside the planted annotations, and its labels are compared
with each planted layer by adjusted mutual information (scikit-learn): over
every character for `stage`, and over the characters inside a planted span
for `role` (character mentions) and `speaker` (quoted lines). 0 is what a
labelling independent of the structure scores; 1 is the structure itself.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.synthetic_lexicon import ROLES, STAGES

from model.experiments import improve_state

LAYERS = {"role": ROLES, "stage": STAGES, "speaker": ROLES}
EVERY_CHARACTER = {"stage"}  # the others are measured inside their spans only


def planted_spec(spec_text: str) -> str:
    """The spec plus one annotation axis per planted layer (names that cannot clash)."""
    lines = [f"annotation planted_{layer} (layer={layer}, labels=[{', '.join(labels)}])"
             for layer, labels in LAYERS.items()]
    return spec_text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"


def recovery(spec_text: str, axis: str, documents) -> dict[str, float]:
    """AMI between `axis` of the spec and each planted layer over `documents`."""
    from sklearn.metrics import adjusted_mutual_info_score

    from grid_dsl import compile_text, loads_spec

    plan = loads_spec(planted_spec(spec_text), "<rediscovery>")
    ours, planted = [], {layer: [] for layer in LAYERS}
    for doc in documents:
        grid = compile_text(plan, doc.text, doc.annotations)
        ours.append(grid.ids(axis))
        for layer in LAYERS:
            planted[layer].append(grid.ids(f"planted_{layer}"))
    ours = np.concatenate(ours)
    scores = {}
    for layer, ids in planted.items():
        ids = np.concatenate(ids)
        inside = slice(None) if layer in EVERY_CHARACTER else ids > 0
        scores[layer] = float(adjusted_mutual_info_score(ids[inside], ours[inside]))
    return scores


def main(argv: list[str] | None = None) -> int:
    from grid_dsl.data.synthetic import synthetic_corpus

    parser = argparse.ArgumentParser(prog="python -m model.experiments.rediscovery", description=__doc__.splitlines()[0])
    parser.add_argument("improve_dir", metavar="IMPROVE_DIR")
    parser.add_argument("--stories", type=int, default=40, help="held-out synthetic tales (40)")
    parser.add_argument("--seed", type=int, default=1, help="their corpus seed (1; the loop's `synthetic` is 0)")
    args = parser.parse_args(argv)
    try:
        state = improve_state.load(args.improve_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    documents = list(synthetic_corpus(stories=args.stories, seed=args.seed).documents())
    print("| round | candidate | proposer | decision | AMI role | AMI stage | AMI speaker |")
    print("|---|---|---|---|---|---|---|")
    for r in state.rounds:
        for c in r.candidates:
            try:
                s = recovery(c.spec, c.name, documents)
            except UserError as err:
                print(f"error: candidate {c.name}: {err}", file=sys.stderr)
                return 2
            print(f"| {r.round} | `{c.name}` | {c.proposer} | {r.decision(c)} | "
                  f"{s['role']:.3f} | {s['stage']:.3f} | {s['speaker']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
