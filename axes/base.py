"""The small interface every kind of axis implements, and the vectorised
helpers that turn spans into streams.

A kind of axis is one module in this package that registers a builder for its
AST node with `@builds(NodeClass)`. The builder validates the node (reporting
problems through the BuildContext) and returns an `Axis`: a frozen object
holding the axis's vocabulary, its declared look-ahead and everything it
needs to compute its stream from a document. `Axis.compute` is a pure
function of the document and of the streams of the axes it reads.
"""

from __future__ import annotations

import abc
import functools
import sys
from types import ModuleType
from typing import Callable, ClassVar, Mapping

import attrs
import numpy as np
import regex

from grid_dsl.language.nodes import AxisDecl

NONE_ID = 0
NONE_LABEL = "_"  # how id 0 ("no label") is shown
# Ceilings on what one line of a spec can make the tool build (each checked,
# with a located error, before anything that size exists):
MAX_LABELS = 1_000_000  # labels of one axis: its label strings and, fed, its embedding rows
MAX_SHIFT = 100_000  # characters a lag moves a stream, or a rule condition reads back or ahead

# ------------------------------------------------------------------ causality

# Segments that a span of another segment always lies inside: a \w+ word is
# inside a whitespace-delimited token, which is inside a line.
_SEGMENT_ORDER = {"word": 0, "token": 1, "line": 2}


def segment_within(inner: str, outer: str) -> bool:
    if inner == outer:
        return True
    return inner in _SEGMENT_ORDER and outer in _SEGMENT_ORDER and _SEGMENT_ORDER[inner] <= _SEGMENT_ORDER[outer]


@attrs.frozen
class Lookahead:
    """How far past position t an axis's value at t may depend on the text.

    kind: "none" (causal), "chars" (at most n characters ahead), "span" (to
    the end of the current span of `segment`, and the character right after
    it), or "unbounded". `note` says why, for reports.
    """

    kind: str = "none"
    n: int = 0
    segment: str | None = None
    note: str = ""

    @property
    def causal(self) -> bool:
        return self.kind == "none"

    def __str__(self) -> str:
        text = {
            "none": "none (causal)",
            "chars": f"{self.n} char{'s' if self.n != 1 else ''}",
            "span": f"to the end of the current {self.segment} span",
            "unbounded": "unbounded",
        }[self.kind]
        return f"{text} ({self.note})" if self.note and self.kind != "none" else text

    def combine(self, other: "Lookahead") -> "Lookahead":
        """The look-ahead of a value that depends on both (conservative)."""
        a, b = self, other
        if a.causal:
            return b
        if b.causal:
            return a
        if a.kind == b.kind == "chars":
            return a if a.n >= b.n else b
        if a.kind == b.kind == "span":
            if segment_within(a.segment, b.segment):
                return b
            if segment_within(b.segment, a.segment):
                return a
        if {a.kind, b.kind} == {"chars", "span"}:
            span = a if a.kind == "span" else b
            chars = b if span is a else a
            if chars.n <= 1:
                return span
        notes = dict.fromkeys(note for x in (a, b) for note in x.note.split("; ") if note)
        return Lookahead("unbounded", note="; ".join(notes))

    def covered_by_chars(self, n: int) -> bool:
        """Is the value, shown n characters later, causal?"""
        return self.causal or (self.kind == "chars" and self.n <= n)

    def covered_by_span(self, group: "Axis") -> bool:
        """Is the value at a span's last character, shown from the character
        after that span of `group`, causal?"""
        if not group.boundary_causal:
            return False
        if self.causal or (self.kind == "chars" and self.n <= 1):
            return True
        return self.kind == "span" and group.segment is not None and segment_within(self.segment, group.segment)


CAUSAL = Lookahead()
UNBOUNDED = Lookahead("unbounded")
NEXT_CHAR = Lookahead("chars", 1, note="a span's end shows at the character after it")
# The span facts of spans decided character by character (runs of a class,
# lines, causal plug-ins): starts known at once, ends one character later.
SPAN_FACTS_CAUSAL = {"span_start": CAUSAL, "span_end": NEXT_CHAR}

# ------------------------------------------------------------- data classes


@attrs.frozen(eq=False)
class Spans:
    """Spans over a document: [start, end) character offsets with a label id,
    the nesting depth inside this axis (1 = outermost) and the index of the
    enclosing span of the parent grouping (-1 when there is none). Sorted by
    start, outer spans before the spans they contain."""

    start: np.ndarray
    end: np.ndarray
    label: np.ndarray
    depth: np.ndarray = None
    parent: np.ndarray = None

    def __attrs_post_init__(self):
        n = len(self.start)
        if self.depth is None:
            object.__setattr__(self, "depth", np.ones(n, dtype=np.int32))
        if self.parent is None:
            object.__setattr__(self, "parent", np.full(n, -1, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def empty(cls) -> "Spans":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), np.zeros(0, dtype=np.int32))

    @classmethod
    def from_lists(cls, starts, ends, labels, depth=None, parent=None) -> "Spans":
        return cls(
            np.asarray(starts, dtype=np.int64),
            np.asarray(ends, dtype=np.int64),
            np.asarray(labels, dtype=np.int32),
            None if depth is None else np.asarray(depth, dtype=np.int32),
            None if parent is None else np.asarray(parent, dtype=np.int64),
        )


@attrs.frozen(eq=False)
class Stream:
    """One axis over one document: a label id per character, and the spans
    behind it when the axis has spans (groupings, taggers, lexicons)."""

    ids: np.ndarray
    spans: Spans | None = None


class Document:
    """A normalised text being compiled, with its aligned annotations and a
    memo that lets axes share expensive analyses (e.g. NLTK tokens)."""

    def __init__(self, text: str, annotations: Mapping[str, list] | None = None, name: str | None = None):
        self.text = text
        self.annotations = dict(annotations or {})
        self.name = name
        self._memo: dict = {}

    def __len__(self) -> int:
        return len(self.text)

    @functools.cached_property
    def codes(self) -> np.ndarray:
        """Code points as uint32, one per character."""
        return np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype="<u4")

    def memo(self, key, compute: Callable):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


@attrs.frozen(kw_only=True)
class Axis(abc.ABC):
    """A checked, ready-to-run axis. Subclasses add their own fields."""

    kind: ClassVar[str] = "axis"

    name: str
    labels: tuple[str, ...]  # id i+1 is labels[i]; id 0 is "no label"
    lookahead: Lookahead
    inputs: tuple[str, ...] = ()  # names of the axes whose streams compute() reads
    # For axes with spans (groupings, taggers, lexicons, annotations): what
    # lag-after and the position/index/depth views need to know.
    has_spans: bool = False
    level: int = 1  # groupings enclosing these spans, this one included (for depth)
    segment: str | None = None  # containment key ("word", "token", "line") if any
    # A label stream and its spans are different facts: an `encoding=after`
    # lexicon's labels are causal, but where its matches start depends on how
    # the word ends. Every consumer of spans takes its look-ahead from these:
    #   span_start  which spans hold a character, and where they started,
    #               known from the text up to that character plus this much;
    #   span_end    that a span ends, known from its last character plus this.
    # Unbounded unless the kind proves better (SPAN_FACTS_CAUSAL below).
    span_start: Lookahead = attrs.field(default=None)
    span_end: Lookahead = attrs.field(default=None)
    # A training-time augmentation (views' `train_offset=K`): each training
    # window adds one random 0..K to the axis's non-empty ids (capped at its
    # last label), so labels beyond the training texts' get trained; scoring
    # and sampling add nothing. Constant over a window: it reveals no text.
    train_offset: int = 0

    def __attrs_post_init__(self):
        unknown = Lookahead("unbounded", note=f"the spans of '{self.name}' may depend on later text")
        for fact in ("span_start", "span_end"):
            if getattr(self, fact) is None:
                object.__setattr__(self, fact, unknown)

    @property
    def causal(self) -> bool:
        return self.lookahead.causal

    @property
    def start_causal(self) -> bool:
        """Span starts and membership are known at the character itself."""
        return self.span_start.causal

    @property
    def boundary_causal(self) -> bool:
        """A span's end is known at the character after it."""
        return self.span_end.covered_by_chars(1)

    @property
    def vocab(self) -> tuple[str, ...]:
        return (NONE_LABEL,) + tuple(self.labels)

    def label_id(self, label: str) -> int:
        return self._ids[label]

    @functools.cached_property
    def _ids(self) -> dict[str, int]:
        return {label: i + 1 for i, label in enumerate(self.labels)}

    @abc.abstractmethod
    def compute(self, doc: Document, inputs: Mapping[str, Stream]) -> Stream:
        """This axis's stream over `doc`, given the streams of `self.inputs`."""


# ----------------------------------------------------------------- registry

BUILDERS: dict[type, Callable] = {}  # node class -> its builder: the main axis's and each kind's


def builds(node_type: type):
    """Register `fn(node, ctx) -> Axis | None` as the builder of a node type."""

    def register(fn):
        BUILDERS[node_type] = fn
        return fn

    return register


def kinds() -> dict[str, type]:
    """Every kind of axis, by name (`lexicon`, ...), with its node class: the
    one list that the spec strategies and the tests iterate. The main axis
    has a builder too but is no kind: a spec has one, declared by `main`."""
    return {node_type.kind: node_type for node_type in BUILDERS if issubclass(node_type, AxisDecl)}


def kind_module(node_type: type) -> ModuleType:
    """The module of a kind (its builder's): its docstring is the kind's
    reference, and its `strategy(known, name, pieces)` and `can_declare(known)`
    draw random valid declarations for the property tests (grid_dsl.testing)."""
    return sys.modules[BUILDERS[node_type].__module__]


# ------------------------------------------------------- vectorised helpers


def span_positions(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """All positions covered by the spans, span after span."""
    lengths = (ends - starts).astype(np.int64)
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(lengths.sum(), dtype=np.int64)


def paint(n: int, starts: np.ndarray, ends: np.ndarray, labels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Label every character of each span. Spans must not overlap each other
    (paint nested spans one depth at a time, outermost first)."""
    ids = np.zeros(n, dtype=np.int32) if out is None else out
    lengths = (ends - starts).astype(np.int64)
    ids[span_positions(starts, ends)] = np.repeat(np.asarray(labels, dtype=np.int32), lengths)
    return ids


def paint_nested(n: int, spans: Spans) -> np.ndarray:
    """Label each character with its innermost span's label."""
    ids = np.zeros(n, dtype=np.int32)
    for depth in np.unique(spans.depth):
        at = spans.depth == depth
        paint(n, spans.start[at], spans.end[at], spans.label[at], out=ids)
    return ids


def bio_labels(labels: tuple[str, ...]) -> tuple[str, ...]:
    """The BIO vocabulary of a label set: B-X has id 2i-1 and I-X id 2i for X = labels[i-1]."""
    return tuple(f"{tag}-{label}" for label in labels for tag in ("B", "I"))


def paint_bio(n: int, starts: np.ndarray, ends: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """BIO ids (see bio_labels) for non-overlapping spans."""
    labels = np.asarray(labels, dtype=np.int32)
    ids = paint(n, starts, ends, 2 * labels)
    nonempty = ends > starts
    ids[starts[nonempty]] = 2 * labels[nonempty] - 1
    return ids


def mark(n: int, positions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Label single characters (positions past the end are dropped)."""
    ids = np.zeros(n, dtype=np.int32)
    keep = (positions >= 0) & (positions < n)
    ids[positions[keep]] = np.asarray(labels, dtype=np.int32)[keep]
    return ids


def hold(n: int, positions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Show each label from its position until the next label's position.
    Positions must be increasing; positions past the end are dropped."""
    keep = (positions >= 0) & (positions < n)
    positions, labels = positions[keep], np.asarray(labels, dtype=np.int32)[keep]
    ids = np.zeros(n, dtype=np.int32)
    if len(positions) == 0:
        return ids
    which = np.full(n, -1, dtype=np.int64)
    which[positions] = np.arange(len(positions))
    which = np.maximum.accumulate(which)
    seen = which >= 0
    ids[seen] = labels[which[seen]]
    return ids


def position_in_spans(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Offset of each character inside its span (spans must not overlap); -1 outside."""
    pos = np.full(n, -1, dtype=np.int64)
    covered = span_positions(starts, ends)
    lengths = (ends - starts).astype(np.int64)
    pos[covered] = covered - np.repeat(starts, lengths)
    return pos


def cap_labels(maximum: int) -> tuple[str, ...]:
    """Labels "0" .. "max-1" and "max+" for bounded integer values."""
    return tuple(str(i) for i in range(maximum)) + (f"{maximum}+",)


def capped_ids(values: np.ndarray, maximum: int) -> np.ndarray:
    """Ids for integer values (negative = no label) under cap_labels(maximum)."""
    ids = np.minimum(values, maximum) + 1
    return np.where(values < 0, 0, ids).astype(np.int32)


# One definition of "word" and "token" for every axis (groups, lexicons, lags):
# a word is a maximal run of \w characters, a token of non-space characters,
# both in the sense of the `regex` module.
WORD_CHAR = regex.compile(r"\w")
NONSPACE_CHAR = regex.compile(r"\S")


@functools.lru_cache(maxsize=None)
def _bmp_members(char_class) -> np.ndarray:
    """Which characters of the Basic Multilingual Plane match `char_class`:
    one table per pattern and process, so a text costs one lookup per char."""
    return np.fromiter((char_class.fullmatch(chr(c)) is not None for c in range(0x10000)), dtype=bool, count=0x10000)


def class_runs(codes: np.ndarray, char_class) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of maximal runs of characters matching `char_class`
    (a compiled one-character pattern)."""
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    member = _bmp_members(char_class)[np.minimum(codes, 0xFFFF)]
    astral = np.flatnonzero(codes > 0xFFFF)
    if len(astral):  # rare: classify each distinct astral character once
        uniques, inverse = np.unique(codes[astral], return_inverse=True)
        member[astral] = np.fromiter((char_class.fullmatch(chr(c)) is not None for c in uniques), bool, len(uniques))[inverse]
    inside = np.concatenate([[False], member, [False]])
    edges = np.flatnonzero(inside[1:] != inside[:-1])
    return edges[0::2].astype(np.int64), edges[1::2].astype(np.int64)


def word_runs(doc: Document) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the document's words (shared through the memo)."""
    return doc.memo(("runs", "word"), lambda: class_runs(doc.codes, WORD_CHAR))


def token_runs(doc: Document) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the document's whitespace-delimited tokens."""
    return doc.memo(("runs", "token"), lambda: class_runs(doc.codes, NONSPACE_CHAR))
