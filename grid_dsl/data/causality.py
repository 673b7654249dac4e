"""The empirical causality check: are the axes declared causal prefix-stable?

An axis is causal when compiling any prefix text[:k] gives, at every
position below k, the same label as compiling the whole text (docs/design.md).
The checker declares causality from each axis's kind and options; this
module is the referee. It compiles a text, then prefixes of it cut where
leaks show, and compares:

    verdicts = verify(plan, text, cuts=64, seed=0)
    for v in verdicts:
        print(v.axis, v.status)

Cut points are chosen where look-ahead becomes visible: inside words and
tokens (a lexicon match "the" inside "then"), at a word's last character
(the boundary leak), right after a word, and after sentence punctuation
(punkt, the tagger's next words), mixed with uniform random cuts. Long texts
are checked on a few excerpts that start at paragraph starts, each treated
as a document of its own, so checking a whole book costs a few seconds.

Positions are compared on the character-level streams of the main axis's
normalised text (the text every axis computes over), which is what the
declaration is about; a `main bytes` grid derives its byte streams from them.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np
import regex

from grid_dsl.data.compiler import Annotations, normalise
from grid_dsl.data.plan import Plan
from grid_dsl.data.prefix_check import Cut, Targets, check_document

EXCERPT_CHARS = 3000  # length of the excerpts a long text is checked on
MAX_EXCERPTS = 4

_WORD = regex.compile(r"\w+")
_TOKEN = regex.compile(r"\S{2,}")
_SENTENCE_END = regex.compile(r"[.!?;:]+[\"'’”)\]]*")
_PARAGRAPH_START = regex.compile(r"(?:^|\n[^\S\n]*\n)\s*(?=\S)")


@attrs.frozen
class Counterexample:
    """A position whose label changed when the text was cut after it."""

    axis: str
    cut: int  # the prefix is text[:cut] (offsets in the normalised text)
    position: int  # < cut
    full_label: str
    prefix_label: str
    context: str  # the text around the position, cut point marked with ‖
    window: tuple[int, int] | None = None  # the excerpt [start, end) compiled as a document, if not all

    def reproduce(self, text: str) -> tuple[str, str]:
        """The (document, prefix) texts whose compilations disagree, from the
        normalised text the check ran on."""
        start, end = self.window or (0, len(text))
        return text[start:end], text[start : self.cut]

    def describe(self) -> str:
        where = f" of the excerpt {self.window[0]}:{self.window[1]}" if self.window else ""
        return (
            f"axis '{self.axis}': cut at {self.cut}{where}, position {self.position}: "
            f"the whole document gives {self.full_label!r}, the prefix gives {self.prefix_label!r}\n"
            f"    context: {self.context}"
        )


@attrs.frozen
class Verdict:
    """The empirical check of one axis's declared causality."""

    axis: str
    declared_causal: bool
    counterexample: Counterexample | None
    cuts: int  # cut points tried

    @property
    def ok(self) -> bool:
        """False only when an axis declared causal was caught looking ahead."""
        return not (self.declared_causal and self.counterexample is not None)

    @property
    def status(self) -> str:
        if self.declared_causal:
            return "causal (confirmed)" if self.counterexample is None else "VIOLATION: looks ahead"
        if self.counterexample is not None:
            return "non-causal (confirmed)"
        return f"non-causal (no counterexample in {self.cuts} cuts)"


# ------------------------------------------------------------- cut points


def cut_points(text: str, count: int, seed: int = 0) -> np.ndarray:
    """About `count` cut points k (0 < k < len(text)), sorted and distinct,
    chosen deterministically for `seed`: an equal share from each place a
    leak shows, the rest uniform. Short texts are cut everywhere."""
    n = len(text)
    if n < 2 or count <= 0:
        return np.zeros(0, dtype=np.int64)
    if count >= n - 1:
        return np.arange(1, n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    words = np.array([m.span() for m in _WORD.finditer(text)], dtype=np.int64).reshape(-1, 2)
    tokens = np.array([m.span() for m in _TOKEN.finditer(text)], dtype=np.int64).reshape(-1, 2)
    sentence_ends = np.array([m.end() for m in _SENTENCE_END.finditer(text)], dtype=np.int64)
    candidates = [
        words[:, 1],  # the prefix ends on a word's last character
        words[:, 1] + 1,  # ... on the character right after a word
        _inside(words, rng),  # ... inside a word
        _inside(tokens, rng),  # ... inside a token (words with punctuation, numbers)
        np.concatenate([sentence_ends, sentence_ends + 1]),  # ... after sentence punctuation
    ]
    share = max(1, count // (len(candidates) + 1))
    chosen = []
    for group in candidates:
        group = np.unique(group[(group > 0) & (group < n)])
        if len(group):
            chosen.append(rng.choice(group, size=min(share, len(group)), replace=False))
    taken = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    rest = np.setdiff1d(np.arange(1, n, dtype=np.int64), taken)
    extra = rng.choice(rest, size=min(max(count - len(taken), 0), len(rest)), replace=False)
    return np.unique(np.concatenate([taken, extra])).astype(np.int64)


def _inside(spans: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random cut strictly inside each span of length >= 2."""
    lengths = spans[:, 1] - spans[:, 0]
    long = spans[lengths >= 2]
    if len(long) == 0:
        return np.zeros(0, dtype=np.int64)
    return long[:, 0] + 1 + (rng.random(len(long)) * (long[:, 1] - long[:, 0] - 1)).astype(np.int64)


# ----------------------------------------------------------------- checks


def prefix_violations(
    plan: Plan, text: str, cut_points: Sequence[int], annotations: Annotations | None = None
) -> dict[str, Counterexample]:
    """For each axis whose labels change when `text` is cut, its first
    counterexample. `text` should already be normalised by the main axis
    (verify() does that); annotations are clipped at each cut. Every axis's
    labels are compared, whatever it declares (grid_dsl.data.prefix_check does
    the comparing)."""
    targets = Targets({axis.name: 0 for axis in plan.axes}, {}, {}, {})
    cuts = [Cut(k, "chosen", False) for k in sorted(set(int(k) for k in cut_points)) if 0 < k <= len(text)]
    return {m.axis: Counterexample(m.axis, m.cut, m.position, m.whole, m.prefix, m.context)
            for m in check_document(plan, text, cuts, "", targets, annotations)}


def verify(
    plan: Plan, text: str, *, cuts: int = 64, seed: int = 0, annotations: Annotations | None = None
) -> list[Verdict]:
    """Check every axis of `plan` for prefix stability on `text`, about
    `cuts` cut points in all; one Verdict per axis, in plan order."""
    normalised, annotations = normalise(plan, text, annotations)
    found: dict[str, Counterexample] = {}
    tried = 0
    pieces = excerpts(normalised, seed)
    for i, (start, end) in enumerate(pieces):
        share = cuts // len(pieces) + (1 if i < cuts % len(pieces) else 0)
        piece = normalised[start:end]
        points = cut_points(piece, share, seed + i)
        tried += len(points)
        for name, example in prefix_violations(plan, piece, points, _shift(annotations, start, end)).items():
            if name not in found:
                window = (start, end) if (start, end) != (0, len(normalised)) else None
                found[name] = attrs.evolve(
                    example, cut=example.cut + start, position=example.position + start, window=window
                )
    return [Verdict(axis.name, axis.causal, found.get(axis.name), tried) for axis in plan.axes]


def excerpts(text: str, seed: int = 0) -> list[tuple[int, int]]:
    """The [start, end) windows a text is checked on: the whole text when it
    is short, otherwise up to MAX_EXCERPTS windows of about EXCERPT_CHARS
    characters starting at paragraph starts (ending at a space)."""
    if len(text) <= 2 * EXCERPT_CHARS:
        return [(0, len(text))]
    starts = np.array([m.end() for m in _PARAGRAPH_START.finditer(text)], dtype=np.int64)
    starts = starts[starts < len(text) - EXCERPT_CHARS]
    if len(starts) == 0:
        starts = np.array([0], dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(starts, size=min(MAX_EXCERPTS, len(starts)), replace=False))
    windows = []
    for start in chosen.tolist():
        space = text.find(" ", start + EXCERPT_CHARS)
        windows.append((start, space if space > 0 else len(text)))
    return windows


def _shift(annotations: Annotations | None, start: int, end: int) -> dict | None:
    """The annotations of text[start:end], in the excerpt's offsets."""
    if not annotations:
        return None
    return {
        layer: [(max(s, start) - start, min(e, end) - start, label) for s, e, label in spans if s < end and e > start]
        for layer, spans in annotations.items()
    }
