"""The referee at scoring time: are a dataset's context labels the labels
the text's prefix gives?

`multigrid sample` computes a context axis's label for each character it
writes by compiling the text written so far. A score is honest only if the
dataset the model was scored on holds those same labels. The referee draws
validation positions spread over the documents (DEFAULT_POSITIONS), compiles
each document's prefix up to and including the position — exactly what
sampling compiles — and compares the label there with the dataset's:

    result = referee(ds, plan, ["upos_prev", "word_pos"])
    result.positions, result.mismatches, result.example

A mismatch means the dataset reveals what a generating model could not know:
every number from a run reading that axis is labelled LEAKY. `plan` is the
dataset's own spec (model.training.context.spec_plan rebuilds it from the manifest).
Each position costs one compile of its prefix, so the characters compiled are
capped (DEFAULT_BUDGET_CHARS): a corpus of one very long document (a
contiguous split) gets fewer positions, and the result says how many.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np

from grid_dsl.data.prefix_check import CONTEXT_CHARS
from grid_dsl.data.compiler import compile_text
from grid_dsl.data.plan import Plan

DEFAULT_POSITIONS = 2000
DEFAULT_BUDGET_CHARS = 40_000_000


@attrs.frozen
class Referee:
    """What the referee checked, and the first disagreement per axis."""

    positions: int
    mismatches: int
    examples: dict = attrs.field(factory=dict)  # axis -> description of its first mismatch
    requested: int = DEFAULT_POSITIONS

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    @property
    def example(self) -> str | None:
        return next(iter(self.examples.values()), None)

    def to_dict(self) -> dict:
        return {"positions": self.positions, "mismatches": self.mismatches, "axes": sorted(self.examples),
                "example": self.example}

    def describe(self) -> str:
        if self.ok:
            return f"prefix-checked at {self.positions:,} positions: every context label is the prefix's"
        return (f"prefix check FAILED at {self.mismatches:,} of {self.positions:,} positions ("
                f"{', '.join(sorted(self.examples))}): the dataset's labels are not what the text's prefix gives, "
                f"so its numbers are LEAKY; e.g. {self.example}")


def documents(ds, split: str) -> list[tuple[int, int, int]]:
    """(start, end, lead) of each document of `split` in its main stream;
    `lead` counts the positions of the document that precede it in another
    split (a contiguous split cuts one document: its validation part goes on
    from the end of the training stream)."""
    starts = np.asarray(ds.doc_starts(split), dtype=np.int64)
    n = len(ds.main(split))
    ends = np.append(starts[1:], n)
    lead = 0
    if split == "val" and ds.manifest.split.method == "contiguous":
        train_starts = ds.doc_starts("train")
        lead = len(ds.main("train")) - int(train_starts[-1]) if len(train_starts) else 0
    return [(int(s), int(e), lead if i == 0 else 0) for i, (s, e) in enumerate(zip(starts, ends)) if e > s]


def referee(ds, plan: Plan, names: Sequence[str], split: str = "val", positions: int = DEFAULT_POSITIONS,
            seed: int = 0, budget_chars: int = DEFAULT_BUDGET_CHARS) -> Referee:
    """Compare the dataset's labels of `names` with the prefix's at about
    `positions` positions of `split` (see the module docstring)."""
    names = list(names)
    if not names or positions <= 0:
        return Referee(0, 0, requested=positions)
    sub = plan.restricted_to(names)
    docs = documents(ds, split)
    if not docs:
        return Referee(0, 0, requested=positions)
    main = ds.main(split)
    train_tail = None
    rng = np.random.default_rng(seed)
    sizes = np.array([e - s for s, e, _ in docs], dtype=np.float64)
    picked = rng.choice(len(docs), size=positions, p=sizes / sizes.sum())
    chosen: list[tuple[int, int]] = []
    spent = 0
    for i in np.unique(picked):
        start, end, lead = docs[i]
        count = int((picked == i).sum())
        offsets = np.unique(rng.integers(0, end - start, size=count))
        if ds.unit == "bytes":  # a prefix must end on a whole character
            following = np.asarray(main[start + np.minimum(offsets + 1, end - start - 1)])
            offsets = offsets[(offsets == end - start - 1) | ((following & 0xC0) != 0x80)]
        for t in offsets.tolist():
            if spent + lead + t + 1 > budget_chars:
                continue
            spent += lead + t + 1
            chosen.append((i, t))
    examples: dict[str, str] = {}
    mismatches = 0
    stored = {name: ds.axis(split, name) for name in names}
    for i, t in chosen:
        start, end, lead = docs[i]
        if lead and train_tail is None:
            train_tail = np.asarray(ds.main("train")[-lead:])
        ids = np.asarray(main[start : start + t + 1])
        text = ds.decode(np.concatenate([train_tail, ids]) if lead else ids)
        grid = compile_text(sub, text)
        wrong = False
        for name in names:
            ours, theirs = int(grid.ids(name)[-1]), int(stored[name][start + t])
            if ours != theirs:
                wrong = True
                if name not in examples:
                    vocab = plan.axis(name).vocab
                    examples[name] = (f"axis '{name}', document {i} of the {split} split, position {lead + t}: the "
                                      f"dataset has {_label(vocab, theirs)!r}, the prefix gives {_label(vocab, ours)!r}"
                                      f" (text: …{_tail(text)}‖)")
        mismatches += wrong
    return Referee(len(chosen), mismatches, examples, requested=positions)


def _label(vocab: tuple, i: int) -> str:
    return vocab[i] if 0 <= i < len(vocab) else f"id {i}"


def _tail(text: str) -> str:
    from grid_dsl.data.render import visible

    return "".join(visible(c)[0] for c in text[-CONTEXT_CHARS:])
