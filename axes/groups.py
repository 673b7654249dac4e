"""group NAME = SEGMENTER [within PARENT] [(label=L, encoding=span|bio)]

Segmentations of the text into spans:

    words       maximal runs of word characters (\\w+)
    tokens      maximal runs of non-space characters (\\S+)
    lines       the text of each line (without its newline)
    paragraphs  text separated by blank lines (first to last visible character)
    sentences   NLTK's punkt sentence splitter
    matches /re/   the matches of a regular expression
    split /re/     the text between the matches of a regular expression

`within PARENT` segments each span of the parent grouping on its own, so
child spans never cross a parent boundary. The group's stream is the span
label on every character of a span (or B-/I- labels with encoding=bio).
"""

from __future__ import annotations

import re

import attrs
import numpy as np
import regex

from grid_dsl.language import nodes
from grid_dsl.language.kinds.group import GroupDecl, Segment

from axes import _nltk
from axes.base import (
    CAUSAL,
    Axis,
    NEXT_CHAR,
    Lookahead,
    Spans,
    Stream,
    bio_labels,
    builds,
    class_runs,
    NONSPACE_CHAR,
    WORD_CHAR,
    paint,
    paint_bio,
)
from axes._regex import regex_timeout, timed

DEFAULT_LABELS = {
    "words": "WORD",
    "tokens": "TOKEN",
    "lines": "LINE",
    "paragraphs": "PARA",
    "sentences": "SENT",
    "matches": "MATCH",
    "split": "SPAN",
}
# A run of one character class (\w+, [a-z]+, ...) is decided character by
# character: its starts, membership and ends are all known causally.
_CLASS_RUN = re.compile(r"(\\[wWdDsS]|\[(?:[^\]\\]|\\.)+\])\+")
_SEGMENT_OF_RUN = {r"\w": "word", r"\S": "token"}
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")


@attrs.frozen(kw_only=True)
class GroupAxis(Axis):
    kind = "group"
    segmenter: str
    pattern: regex.Pattern | None = None
    run_class: regex.Pattern | None = None  # for class-run patterns: one character of the class
    pattern_loc: object = None
    parent: str | None = None
    encoding: str = "span"

    def _segment(self, doc, text: str, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Spans of `text` (a slice of the document starting at `offset`)."""
        if self.run_class is not None:
            starts, ends = class_runs(doc.codes[offset : offset + len(text)], self.run_class)
        elif self.segmenter == "lines":
            breaks = np.flatnonzero(doc.codes[offset : offset + len(text)] == 10)
            starts = np.concatenate([[0], breaks + 1]).astype(np.int64)
            ends = np.concatenate([breaks, [len(text)]]).astype(np.int64)
        elif self.segmenter == "paragraphs":
            starts, ends = _visible(text, _split_spans(_PARAGRAPH_BREAK, text))
        elif self.segmenter == "sentences":
            pairs = _nltk.doc_sentences(doc) if offset == 0 and len(text) == len(doc) else _nltk.sentence_spans(text)
            starts = np.array([s for s, _ in pairs], dtype=np.int64)
            ends = np.array([e for _, e in pairs], dtype=np.int64)
        else:
            with timed(self.pattern_loc, self.name):
                if self.segmenter == "matches":
                    found = [m.span() for m in self.pattern.finditer(text, timeout=regex_timeout())]
                    starts = np.array([s for s, _ in found], dtype=np.int64)
                    ends = np.array([e for _, e in found], dtype=np.int64)
                else:
                    starts, ends = _split_spans(self.pattern, text)
        keep = ends > starts
        return starts[keep] + offset, ends[keep] + offset

    def compute(self, doc, inputs) -> Stream:
        if self.parent is None:
            starts, ends = self._segment(doc, doc.text, 0)
            parents = np.full(len(starts), -1, dtype=np.int64)
        else:
            outer = inputs[self.parent].spans
            parts = [self._segment(doc, doc.text[s:e], s) for s, e in zip(outer.start.tolist(), outer.end.tolist())]
            starts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
            ends = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
            parents = np.repeat(np.arange(len(parts)), [len(p[0]) for p in parts]).astype(np.int64)
            order = np.lexsort((-ends, starts))  # nested parents: keep start order
            starts, ends, parents = starts[order], ends[order], parents[order]
        labels = np.ones(len(starts), dtype=np.int32)
        n = len(doc)
        if self.encoding == "bio":  # span labels stay ids of this axis's vocabulary: B-<label>
            return Stream(paint_bio(n, starts, ends, labels), Spans(starts, ends, labels, parent=parents))
        return Stream(paint(n, starts, ends, labels), Spans(starts, ends, labels, parent=parents))


def _split_spans(pattern, text: str) -> tuple[np.ndarray, np.ndarray]:
    """The pieces of text between the matches of `pattern`."""
    cuts = [m.span() for m in pattern.finditer(text, **({"timeout": regex_timeout()} if isinstance(pattern, regex.Pattern) else {}))]
    starts = np.array([0] + [e for _, e in cuts], dtype=np.int64)
    ends = np.array([s for s, _ in cuts] + [len(text)], dtype=np.int64)
    return starts, ends


def _visible(text: str, spans: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Shrink spans to their first and last non-space characters."""
    starts, ends = [], []
    for s, e in zip(*spans):
        piece = text[s:e]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            starts.append(s + lead)
            ends.append(s + lead + len(stripped))
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def _lookahead(segmenter: str) -> Lookahead:
    """The span facts of a segmenter that decides spans from later text."""
    return Lookahead(
        "unbounded",
        note={
            "sentences": "punkt decides where a sentence ends from the word after it",
            "paragraphs": "a paragraph ends at a blank line, seen only after it",
        }.get(segmenter, "whether a character is in a match can depend on later text"),
    )


@builds(GroupDecl)
def build_group(node: GroupDecl, ctx) -> GroupAxis | None:
    kind = node.segment.kind
    opts = ctx.options(
        node.options,
        {"label": ctx.opt("name", DEFAULT_LABELS[kind]), "encoding": ctx.opt("name", "span", choices=("span", "bio"))},
    )
    if opts is None:
        return None
    has_pattern = kind in ("matches", "split")
    if has_pattern != (node.segment.pattern is not None):
        ctx.error(node.segment.loc, f"`{kind}` {'needs' if has_pattern else 'takes no'} /regex/",
                  f"write `group {node.name} = {kind}{' /…/' if has_pattern else ''}`")
        return None
    pattern = run_class = None
    if kind in ("words", "tokens"):
        source = r"\w" if kind == "words" else r"\S"
        run_class = WORD_CHAR if kind == "words" else NONSPACE_CHAR
        segment = _SEGMENT_OF_RUN[source]
    elif has_pattern:
        pattern = ctx.regex(node.segment.pattern)
        if pattern is None:
            return None
        if pattern.search("") is not None and kind == "split":
            ctx.error(node.segment.pattern.loc, "a split pattern must not match the empty string", "use + instead of *")
            return None
        run = _CLASS_RUN.fullmatch(node.segment.pattern.source) if kind == "matches" else None
        if run:
            run_class = ctx.regex(attrs.evolve(node.segment.pattern, source=run.group(1)))
        segment = _SEGMENT_OF_RUN.get(run.group(1)) if run else None
    else:
        segment = "line" if kind == "lines" else None
    if kind == "sentences":
        absent = _nltk.missing("punkt_tab")
        if absent:
            ctx.error(node.loc, *_nltk.missing_message(absent))
            return None
    # A group's stream is its spans painted: its labels look ahead exactly as
    # far as span membership does.
    decided_per_char = run_class is not None or kind == "lines"
    if decided_per_char:
        span_start, span_end = CAUSAL, NEXT_CHAR
    else:
        span_start = span_end = _lookahead(kind)
    level = 1
    parent = None
    if node.parent is not None:
        parent = ctx.axis(node.parent)
        if not parent.has_spans:
            ctx.error(node.parent.loc, f"'{parent.name}' has no spans to group within")
            return None
        # Children are cut at the parent's spans: membership needs the
        # parent's membership, and a child may end where its parent ends.
        span_start = span_start.combine(parent.span_start)
        span_end = span_end.combine(parent.span_end)
        level = parent.level + 1
    label = opts["label"]
    return GroupAxis(
        name=node.name,
        labels=bio_labels((label,)) if opts["encoding"] == "bio" else (label,),
        lookahead=span_start,
        inputs=(parent.name,) if parent else (),
        has_spans=True,
        level=level,
        segment=segment,
        span_start=span_start,
        span_end=span_end,
        segmenter=kind,
        pattern=pattern,
        run_class=run_class,
        pattern_loc=node.segment.pattern.loc if node.segment.pattern else None,
        parent=parent.name if parent else None,
        encoding=opts["encoding"],
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return True


def strategy(known, name: str, pieces):
    """Any segmenter (sentences when NLTK data is there), within any grouping declared before."""
    from hypothesis import strategies as st

    segmenters = ["words", "tokens", "lines", "paragraphs", "matches", "split"] + (["sentences"] if known.nltk else [])

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(segmenters))
        pattern = None
        if kind == "matches":
            pattern = draw(pieces.regex(pieces.match_patterns))
        elif kind == "split":
            pattern = draw(pieces.regex(pieces.split_patterns))
        parents = known.names(spans=True)
        parent = draw(st.none() | st.sampled_from(parents).map(nodes.Ref)) if parents else None
        opts = draw(pieces.options(("label", pieces.ident.map(nodes.Ident)), ("encoding", pieces.name_choice("span", "bio"))))
        return GroupDecl(name, Segment(kind, pattern), parent, opts)

    return build()
