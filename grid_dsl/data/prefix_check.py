"""The compile-time prefix check: the corpus itself referees the checker.

The checker declares causality from each axis's kind (the static algebra);
`multigrid compile` then confirms the declaration on the documents it
compiles. For each axis a `context` feed depends on (the fed axis and every
axis it reads), and for each fact that axis claims — its labels, where its
spans start, that they end — cut points are drawn over whole documents:

    early     within the first characters of a document
    middle    anywhere in its middle half
    late      in its last tenth
    last      its last character

and the document compiled up to the cut is compared with the whole
document at every position before the cut. Every other cut puts a
different continuation (the opening of another document) after the prefix
instead of ending there, so a label that depends on what follows, or on the
document's length, disagrees too. The longest and the shortest documents
are cut late and last first, then one cut per document at a time, within a
budget of compiled characters (a share of the corpus, DEFAULT_BUDGET);
a cut the budget cannot afford is skipped (a corpus of one long document
gets uniform cuts within the budget's reach instead: raise the budget to
check its end).

    cuts = choose_cuts(lengths, budget=budget_chars(sum(lengths)), seed=0)
    targets = check_targets(plan)
    for mismatch in check_document(plan, text, cuts_of_this_doc, continuation, targets):
        print(mismatch.describe())

A fact whose look-ahead is bounded by n characters is compared at the
positions at least n before the cut; unbounded facts are not claims and
are not compared.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np

from axes.base import Lookahead, Spans, span_positions

from grid_dsl.data.compiler import Annotations, compile_text, normalise
from grid_dsl.data.manifest import AxisCheck, PrefixCheck
from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.plan import Plan
from grid_dsl.data.render import visible

DEFAULT_BUDGET = 0.2  # characters compiled for the check, as a share of the corpus
MIN_BUDGET_CHARS = 20_000  # ... but at least this many: a small corpus is checked thoroughly
CONTINUATION_CHARS = 600  # length of the other document's text put after a prefix
EARLY_CHARS = 200
CATEGORIES = ("early", "middle", "late", "last")
CONTEXT_CHARS = 24  # characters of text shown on each side of a disagreement
MIN_CUTS = 64  # cuts drawn uniformly within the budget's reach when the categories give fewer


@attrs.frozen
class Cut:
    """Compile document[:at] (+ another document's opening, if continued)."""

    at: int
    category: str
    continued: bool


@attrs.frozen
class Targets:
    """What is compared: label streams and span facts, with the number of
    positions before a cut that a fact may still look past."""

    labels: dict  # axis -> horizon (0 for causal)
    span_starts: dict
    span_ends: dict
    fed: dict  # context-fed axis -> the checked axes it depends on (itself included)

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.labels, *self.span_starts, *self.span_ends]))

    def __bool__(self) -> bool:
        return bool(self.labels or self.span_starts or self.span_ends)


@attrs.frozen
class Mismatch:
    """A position whose fact changed when the document was cut after it."""

    axis: str
    fact: str  # "labels", "span starts" or "span ends"
    document: str
    cut: int
    position: int
    whole: str  # what the whole document gives
    prefix: str  # what the prefix (and continuation) gives
    context: str
    continued: bool

    def describe(self) -> str:
        prefix = "the prefix followed by another document's text" if self.continued else "the prefix alone"
        what = {"labels": "label", "span starts": "span start", "span ends": "span end"}[self.fact]
        return (f"axis '{self.axis}' ({self.fact}): document {self.document}, position {self.position}, cut at "
                f"{self.cut}: the whole document gives {what} {self.whole!r}, {prefix} gives {self.prefix!r}\n"
                f"    text: {self.context}")


def horizon(lookahead: Lookahead) -> int | None:
    """Positions before a cut a fact may still depend on text past it
    (None: the fact is not bounded, so there is nothing to check)."""
    if lookahead.causal:
        return 0
    return lookahead.n if lookahead.kind == "chars" else None


def check_targets(plan: Plan) -> Targets:
    """The axes every `context` feed reads, and the facts each claims."""
    return claimed_targets(plan, {feed.axis: plan.needs([feed.axis]) for feed in plan.feeds if feed.mode == "context"})


def claimed_targets(plan: Plan, closure: dict | None = None) -> Targets:
    """Every bounded claim of the axes in `closure` ({fed axis: the axes it
    reads}; default: every axis of the plan, each on its own)."""
    if closure is None:
        closure = {axis.name: (axis.name,) for axis in plan.axes}
    labels, starts, ends = {}, {}, {}
    for name in dict.fromkeys(n for names in closure.values() for n in names):
        axis = plan.axis(name)
        for facts, lookahead in ((labels, axis.lookahead), (starts, axis.span_start), (ends, axis.span_end)):
            if facts is labels or axis.has_spans:
                bound = horizon(lookahead)
                if bound is not None:
                    facts[name] = bound
    checked = set(labels) | set(starts) | set(ends)
    return Targets(labels, starts, ends, {fed: tuple(n for n in names if n in checked) for fed, names in closure.items()})


def budget_chars(total_chars: int, share: float = DEFAULT_BUDGET) -> int:
    return max(int(share * total_chars), MIN_BUDGET_CHARS)


def choose_cuts(lengths: Sequence[int], budget: int, seed: int = 0) -> dict[int, list[Cut]]:
    """Cut points per document index, deterministic for `seed`: the late and
    last cuts of the longest and the shortest document first, then one cut
    per document in a random order, round after round (each document's
    categories in a random order), each taken if the compiled characters
    still fit the budget. Every other cut is continued with another
    document's opening."""
    lengths = np.asarray(lengths, dtype=np.int64)
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(len(lengths)) if lengths[i] >= 2]
    if not order:
        return {}
    points = {}
    for i in order:
        n = int(lengths[i])
        at = {"early": rng.integers(1, min(n - 1, EARLY_CHARS) + 1), "middle": rng.integers(n // 4, 3 * n // 4 + 1),
              "late": rng.integers(n - n // 10 - 1, n), "last": n - 1}
        points[i] = [(CATEGORIES[j], int(np.clip(at[CATEGORIES[j]], 1, n - 1))) for j in rng.permutation(len(CATEGORIES))]
    by_length = sorted(order, key=lambda i: lengths[i])
    extremes = list(dict.fromkeys([by_length[-1], by_length[0]]))
    forced = [(i, c) for i in extremes for c in points[i] if c[0] in ("late", "last")]
    rounds = [(i, points[i][r]) for r in range(len(CATEGORIES)) for i in order if (i, points[i][r]) not in forced]
    chosen: dict[int, dict[int, Cut]] = {}
    spent = 0

    def take(i: int, category: str, at: int) -> None:
        nonlocal spent
        cut = Cut(at, category, continued=sum(map(len, chosen.values())) % 2 == 1)
        cost = at + (CONTINUATION_CHARS if cut.continued else 0)
        if spent + cost <= budget and at not in chosen.get(i, {}):
            spent += cost
            chosen.setdefault(i, {})[at] = cut

    for i, (category, at) in forced + rounds:
        take(i, category, at)
    # What no category could afford (a corpus of a few long documents):
    # uniform cuts within the reach of the budget left.
    for _ in range(MIN_CUTS * 4):
        if sum(map(len, chosen.values())) >= MIN_CUTS or budget - spent < 2:
            break
        i = order[int(rng.integers(len(order)))]
        share = 2 * (budget - spent) // max(MIN_CUTS - sum(map(len, chosen.values())), 1)  # mean cost about half
        reach = min(int(lengths[i]) - 1, share - CONTINUATION_CHARS)
        if reach >= 1:
            take(i, "uniform", int(rng.integers(1, reach + 1)))
    return {i: sorted(cuts.values(), key=lambda c: c.at) for i, cuts in chosen.items()}


# ------------------------------------------------------------- a corpus


@attrs.frozen
class CorpusCheck:
    """The check of one compile: the plan of the checked axes, what to
    compare, the cuts per document index and the texts that continue a cut."""

    plan: Plan
    targets: Targets
    cuts: dict
    openings: tuple[str, ...]

    def run(self, index: int, text: str, layers, whole) -> tuple[list, int]:
        """(mismatches, cuts checked) of document `index`, compiled whole as `whole`."""
        cuts = self.cuts.get(index)
        if not cuts:
            return [], 0
        continuation = self.openings[(index + 1) % len(self.openings)] if self.openings else ""
        return check_document(self.plan, text, cuts, continuation, self.targets, layers, str(index), whole), len(cuts)

    def report(self, found: list, cuts: int, allow_leaks: bool) -> PrefixCheck:
        """The manifest's record of the check; UserError (nothing written)
        when an axis failed it and leaks were not allowed."""
        failed = {}
        for mismatch in found:
            failed.setdefault(mismatch.axis, mismatch)
        fed = {name: [failed[n] for n in names if n in failed] for name, names in self.targets.fed.items()}
        if failed and not allow_leaks:
            shown = "\n".join("  " + m.describe() for m in list(failed.values())[:6])
            leaking = ", ".join(name for name, bad in fed.items() if bad)
            raise UserError(
                f"prefix check failed: {_count(len(failed), 'axis', 'axes')} declared causal changed when the text "
                f"after a position changed, so the context axes {leaking} would reveal upcoming characters "
                f"({cuts} cuts checked):\n{shown}\nnothing was written. Feed these axes as predict (or a causal lag of "
                "them), fix the spec or plug-in that claims causality, or compile with --allow-leaks: the dataset, "
                "and every run reading these axes, is then labelled LEAKY")
        axes = {name: AxisCheck(cuts, len(bad), bad[0].describe() if bad else None) for name, bad in fed.items()}
        return PrefixCheck(cuts=cuts, documents=len(self.cuts), allow_leaks=allow_leaks, axes=axes)


def plan_corpus_check(plan: Plan, lengths: np.ndarray, openings: tuple[str, ...], lo: int, hi: int,
                      budget: float, seed: int) -> CorpusCheck | None:
    """The check of documents lo..hi-1 (None when no axis fed as context
    claims anything checkable). The cuts are chosen over the whole corpus,
    so shards check between them what compiling it whole checks."""
    targets = check_targets(plan)
    if not targets:
        return None
    cuts = choose_cuts(lengths, budget_chars(int(lengths.sum()), budget), seed)
    return CorpusCheck(plan.restricted_to(targets.axes), targets, {i: c for i, c in cuts.items() if lo <= i < hi},
                       openings)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# ----------------------------------------------------------------- checking


def check_document(plan: Plan, text: str, cuts: Sequence[Cut], continuation: str, targets: Targets,
                   annotations: Annotations | None = None, name: str = "0", whole=None) -> list[Mismatch]:
    """Every fact of `targets` that changes at one of `cuts` of the document
    (first mismatch per axis and fact). `whole` is the document's Grid when
    the caller has compiled it already."""
    normalised, annotations = normalise(plan, text, annotations)
    whole = whole if whole is not None and whole.text == normalised else compile_text(plan, normalised, annotations)
    continuation = normalise(plan, continuation)[0]
    found: dict[tuple[str, str], Mismatch] = {}
    for cut in cuts:
        k = cut.at
        piece = normalised[:k] + (continuation if cut.continued else "")
        part = compile_text(plan, piece, clip_annotations(annotations, k))
        if part.text[:k] != whole.text[:k]:  # normalisation reached across the cut
            continue
        for axis, bound in targets.labels.items():
            if (axis, "labels") not in found:
                upto = max(k - bound, 0)  # characters: a `main bytes` grid's byte streams derive from these
                a, b = whole.char_streams[axis].ids[:upto], part.char_streams[axis].ids[:upto]
                differ = np.flatnonzero(a != b)
                if len(differ):
                    p = int(differ[0])
                    vocab = whole.vocab(axis)
                    found[axis, "labels"] = Mismatch(axis, "labels", name, k, p, vocab[a[p]], vocab[b[p]],
                                                     shown_around(whole.text, p, k), cut.continued)
        for axis, bound in targets.span_starts.items():
            if (axis, "span starts") not in found:
                upto = max(k - bound, 0)
                a, b = innermost_start(whole.spans(axis), len(whole))[:upto], innermost_start(part.spans(axis), len(part))[:upto]
                differ = np.flatnonzero(a != b)
                if len(differ):
                    p = int(differ[0])
                    found[axis, "span starts"] = Mismatch(axis, "span starts", name, k, p, _start(a[p]), _start(b[p]),
                                                          shown_around(whole.text, p, k), cut.continued)
        for axis, bound in targets.span_ends.items():
            if (axis, "span ends") not in found:
                a, b = _ends(whole.spans(axis), k - bound), _ends(part.spans(axis), k - bound)
                if not np.array_equal(a, b):
                    p = int(np.setxor1d(a, b)[0]) - 1
                    found[axis, "span ends"] = Mismatch(
                        axis, "span ends", name, k, p, "ends here" if p + 1 in a else "none",
                        "ends here" if p + 1 in b else "none", shown_around(whole.text, p, k), cut.continued)
    return list(found.values())


def innermost_start(spans: Spans | None, n: int) -> np.ndarray:
    """For each character, where the innermost span holding it starts
    (-1 outside every span), and so which spans hold it."""
    out = np.full(n, -1, dtype=np.int64)
    if spans is None or len(spans) == 0:
        return out
    for depth in np.unique(spans.depth):  # outermost first, inner spans overwrite
        at = (spans.depth == depth) & (spans.end > spans.start)
        starts, ends = spans.start[at], np.minimum(spans.end[at], n)
        out[span_positions(starts, ends)] = np.repeat(starts, ends - starts)
    return out


def _ends(spans: Spans | None, limit: int) -> np.ndarray:
    """The distinct span ends e (exclusive) with e <= limit."""
    if spans is None or len(spans) == 0:
        return np.zeros(0, dtype=np.int64)
    ends = spans.end[spans.end > spans.start]
    return np.unique(ends[ends <= limit])


def _start(value: int) -> str:
    return "outside every span" if value < 0 else f"in a span from {value}"


def clip_annotations(annotations: Annotations | None, cut: int) -> dict | None:
    """The annotations of text[:cut]: spans past the cut are cut too."""
    if not annotations:
        return None
    return {layer: [(s, min(e, cut), label) for s, e, label in spans if s < cut] for layer, spans in annotations.items()}


def shown_around(text: str, position: int, cut: int) -> str:
    """The text around `position`: the position in [brackets], the cut
    marked ‖, control characters shown as symbols (⏎ for a newline)."""
    left = max(0, position - CONTEXT_CHARS)
    right = min(len(text), cut + CONTEXT_CHARS)

    def show(piece: str) -> str:
        return "".join(visible(c)[0] for c in piece)

    return (
        show(text[left:position]) + "[" + show(text[position]) + "]"
        + show(text[position + 1 : cut]) + "‖" + show(text[cut:right])
    )
