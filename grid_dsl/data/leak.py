"""The figures of `multigrid stats`: label counts, entropies and leak estimates.

    ds = grid_dsl.data.dataset.Dataset.open("data/tales")
    (train,) = dataset_stats(ds, ["train"])
    [(a.name, a.leak_bits, a.lagged_leak_bits, a.flag) for a in train.axes]

For each axis of a split: the label distribution (most frequent labels and
their share of all positions), coverage (share of positions with a label,
id != 0), the entropy of the labels (over all positions, "_" included), and
a leak estimate in bits,

    leak(a) = H(m[t+1] | m[t]) - H(m[t+1] | m[t], a[t]),

how much the axis label at t tells about the next main symbol beyond what the
current symbol already tells. It is shown beside the same figure for the
axis lagged to be causal, `leak(lag(a))`, where lag(a) is derived from the
stream itself: every maximal run of one non-zero label is a span, and each
span's label is shown from the first position after the span until the next
span ends (the label of the previous complete span; docs/design.md, "Leaks are
subtler than they look"). Runs and the lag restart at every document start,
and the pairs (t, t+1) counted never cross a document boundary.

Every entropy is a plug-in estimate from counts (frequencies as
probabilities), as the figures of ../shared/data/README.md are. Plug-in
entropies are biased low, the more so the more cells (distinct combinations)
there are per observation, so a conditional entropy given more context is
underestimated more and the leak figures are biased UP on small data (on
the examples here the lagged figure most: its label goes with more different
characters). The Miller-Madow estimate of that bias, with N the pairs counted, is

    bias(a) = (cells(m0,a,m1) - cells(m0,a) - cells(m0,m1) + cells(m0)) / (2 N ln 2)

bits (`leak_bias_bits`, `lagged_bias_bits`; the report of grid_dsl.cli.stats
warns when it exceeds 0.05 bits).

An axis is flagged LEAK when (the rule, `leak_flag`, on the figures less
their estimated bias, L = leak - bias(a) and G = lagged - bias(lag(a))):
  it is fed in `context` or `oracle` mode, it is not declared causal, and
  L - G > 0.05 bits and L > 1.5 x G; or it is fed in `context` mode and
  failed the compile-time prefix check (grid_dsl.data.prefix_check).
A non-causal axis meeting the figures but fed in `predict` mode (or not fed)
is marked "looks ahead": honest as fed, a leak in any other mode. A
declared-causal context axis meeting the figures is marked "hint": the
estimate is only a hint (the honest "position in word" axis meets it on
Grimm: 0.43 bits against 0.25 lagged, because the window it summarises is
informative), and the prefix check is the referee.

The split is read in chunks (counts of combined integer keys merged chunk by
chunk), so memory is bounded by a chunk, not by the dataset.
"""

from __future__ import annotations

import math
from typing import Sequence

import attrs
import numpy as np

from grid_dsl.data.manifest import AxisCheck
from grid_dsl.language.diagnostics import UserError

LEAKY_LABEL = "LEAKY — not an LM score"  # what every number from a leaky run carries
LEAK_MIN_BITS = 0.05  # leak - lagged must exceed this ...
LEAK_MIN_RATIO = 1.5  # ... and leak must exceed this multiple of lagged
BIAS_WARN_BITS = 0.05  # warn when the estimated upward bias of a leak figure exceeds this
FED_WITHOUT_COST = ("context", "oracle")  # modes whose input at t is a[t] and whose cost is not scored
CHUNK = 1 << 21  # positions per chunk
TOP_LABELS = 5


# ------------------------------------------------------------ counting


def combine(columns: Sequence[np.ndarray], radices: Sequence[int]) -> np.ndarray:
    """One int64 key per row of the columns (each 0 <= value < its radix), in
    mixed radix: equal keys <=> equal rows."""
    if math.prod(radices) >= 2**63:
        raise UserError(f"vocabularies too large to count their combinations in 64 bits: sizes {list(radices)}")
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column, radix in zip(columns, radices):
        key *= radix
        key += np.asarray(column, dtype=np.int64)
    return key


def entropy_of_counts(counts: np.ndarray) -> float:
    """Plug-in entropy in bits of the distribution the counts describe."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts > 0]
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts / total
    return float(max(0.0, -(p * np.log2(p)).sum()))


class KeyCounts:
    """Counts of int64 keys, added chunk by chunk."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.counts = np.zeros(0, dtype=np.int64)

    def add(self, keys: np.ndarray) -> None:
        keys, counts = np.unique(keys, return_counts=True)
        if len(self.keys):
            keys, where = np.unique(np.concatenate([self.keys, keys]), return_inverse=True)
            counts = np.bincount(where, weights=np.concatenate([self.counts, counts])).astype(np.int64)
        self.keys, self.counts = keys, counts

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def cells(self) -> int:
        return len(self.keys)

    def entropy(self) -> float:
        return entropy_of_counts(self.counts)


class NextSymbolCounts:
    """Counts for H(m[t+1] | m[t] [, context]): of (m[t]) and (m[t], m[t+1]),
    each with the context symbol when there is one."""

    def __init__(self) -> None:
        self.given = KeyCounts()
        self.joint = KeyCounts()

    def add(self, m0, m1, main_size: int, context=None, context_size: int = 1) -> None:
        c = np.zeros(len(m0), dtype=np.int64) if context is None else context
        self.given.add(combine([m0, c], [main_size, context_size]))
        self.joint.add(combine([m0, c, m1], [main_size, context_size, main_size]))

    def entropy(self) -> float:
        """H(m[t+1] | m[t], context) = H(m[t], context, m[t+1]) - H(m[t], context)."""
        return self.joint.entropy() - self.given.entropy()

    def bias(self) -> float:
        """Miller-Madow estimate of how much the plug-in conditional entropy
        is too LOW: (cells(joint) - cells(given)) / (2 N ln 2)."""
        n = self.joint.total
        return (self.joint.cells - self.given.cells) / (2 * n * math.log(2)) if n else 0.0


# ---------------------------------------------------- on whole arrays


def pair_mask(n: int, doc_starts: Sequence[int] = ()) -> np.ndarray:
    """Which pairs (t, t+1), t < n - 1, stay inside one document."""
    valid = np.ones(max(n - 1, 0), dtype=bool)
    starts = np.asarray(doc_starts, dtype=np.int64)
    starts = starts[(starts >= 1) & (starts < n)]
    valid[starts - 1] = False
    return valid


def next_entropy(main: np.ndarray, axis: np.ndarray | None = None, doc_starts: Sequence[int] = ()) -> float:
    """H(m[t+1] | m[t]) or, with an axis, H(m[t+1] | m[t], a[t]), in bits,
    over the pairs inside one document."""
    main = np.asarray(main, dtype=np.int64)
    keep = pair_mask(len(main), doc_starts)
    if not keep.any():
        return 0.0
    counts = NextSymbolCounts()
    context = None if axis is None else np.asarray(axis, dtype=np.int64)[:-1][keep]
    size = int(main.max()) + 1
    counts.add(main[:-1][keep], main[1:][keep], size, context, 1 if context is None else int(context.max()) + 1)
    return counts.entropy()


def leak_bits(main: np.ndarray, axis: np.ndarray, doc_starts: Sequence[int] = ()) -> float:
    """H(m[t+1] | m[t]) - H(m[t+1] | m[t], a[t]) in bits (plug-in)."""
    return next_entropy(main, None, doc_starts) - next_entropy(main, axis, doc_starts)


def causal_lag(ids: np.ndarray, doc_starts: Sequence[int] = (), *, previous: int = 0, carry: int = 0) -> np.ndarray:
    """The label of the previous complete span at every position.

    A span is a maximal run of one non-zero label; it ends at the first
    position p with ids[p] != its label, and its label is shown from p until
    the next span ends. Document starts end every span and reset the lag to 0
    (no label). For a stream cut in chunks, `previous` is the id just before
    `ids` and `carry` the lag there."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    before = np.concatenate([[previous], ids[:-1]]) if n else ids
    ends = (before != ids) & (before != 0)
    shown = np.where(ends, before, 0)
    starts = np.asarray(doc_starts, dtype=np.int64)
    starts = starts[(starts >= 0) & (starts < n)]
    ends[starts] = True
    shown[starts] = 0
    last = np.maximum.accumulate(np.where(ends, np.arange(n), -1)) if n else np.zeros(0, dtype=np.int64)
    return np.where(last >= 0, shown[np.maximum(last, 0)], carry)


def leak_flag(mode: str | None, causal: bool, leak: float, lagged: float, prefix_failed: bool = False) -> str:
    """"LEAK" (a non-causal axis fed without cost, or one that failed the
    prefix check), "looks ahead" (the same figures, fed honestly), "hint"
    (a declared-causal axis with the figures of a leak: the estimate cannot
    tell an axis that summarises the window from one that looks ahead; the
    prefix check decides) or ""."""
    if prefix_failed and mode in FED_WITHOUT_COST:
        return "LEAK"
    if leak - lagged <= LEAK_MIN_BITS or leak <= LEAK_MIN_RATIO * lagged:
        return ""
    if causal:
        return "hint" if mode in FED_WITHOUT_COST else ""
    return "LEAK" if mode in FED_WITHOUT_COST else "looks ahead"


# ------------------------------------------------------- the dataset


@attrs.frozen
class AxisStats:
    name: str
    kind: str
    mode: str | None
    causal: bool
    lookahead: str
    labels: int  # vocabulary size, "_" included
    coverage: float
    entropy_bits: float
    top: list[tuple[str, float]]
    leak_bits: float
    lagged_leak_bits: float
    leak_bias_bits: float  # estimated upward bias of leak_bits
    lagged_bias_bits: float
    flag: str
    prefix_check: AxisCheck | None = None  # the manifest's compile-time prefix check of the axis (context axes)


@attrs.frozen
class SplitStats:
    split: str
    positions: int
    documents: int
    pairs: int  # (t, t+1) inside one document
    main_entropy_bits: float  # H(m[t])
    next_entropy_bits: float  # H(m[t+1] | m[t])
    axes: list[AxisStats]

    @property
    def leaks(self) -> list[str]:
        return [a.name for a in self.axes if a.flag == "LEAK"]

    @property
    def unreliable(self) -> list[str]:
        return [a.name for a in self.axes if max(a.leak_bias_bits, a.lagged_bias_bits) > BIAS_WARN_BITS]


def _checked(ids: np.ndarray, size: int, what: str, split: str) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) and int(ids.max()) >= size:
        raise UserError(f"{what} in split '{split}' has id {int(ids.max())}, outside its vocabulary of {size}: "
                        "the dataset is corrupt; compile it again")
    return ids


def split_stats(ds, split: str, top: int = TOP_LABELS, chunk: int = CHUNK) -> SplitStats:
    """The figures of one split of an open dataset (grid_dsl.data.dataset.Dataset
    or anything with its reader API), read `chunk` positions at a time."""
    main = ds.main(split)
    n = len(main)
    main_size = len(ds.main_vocab)
    docs = np.asarray(ds.doc_starts(split), dtype=np.int64)
    streams = [ds.axis(split, a.name) for a in ds.axes]
    sizes = [len(a.vocab) for a in ds.axes]
    main_counts = np.zeros(main_size, dtype=np.int64)
    label_counts = [np.zeros(s, dtype=np.int64) for s in sizes]
    base = NextSymbolCounts()
    painted = [NextSymbolCounts() for _ in streams]
    lagged = [NextSymbolCounts() for _ in streams]
    carry = [0] * len(streams)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        m = _checked(main[s : min(n, e + 1)], main_size, "the main stream", split)
        main_counts += np.bincount(m[: e - s], minlength=main_size)
        pe = min(e, n - 1)  # pairs (t, t+1) for t in [s, pe)
        keep = ~np.isin(np.arange(s + 1, pe + 1), docs)
        m0, m1 = m[: pe - s][keep], m[1 : pe - s + 1][keep]
        base.add(m0, m1, main_size)
        local_docs = docs[(docs >= s) & (docs < e)] - s
        for k, (stream, size) in enumerate(zip(streams, sizes)):
            a = _checked(stream[s:e], size, f"axis '{ds.axes[k].name}'", split)
            label_counts[k] += np.bincount(a, minlength=size)
            lag = causal_lag(a, local_docs, previous=int(stream[s - 1]) if s else 0, carry=carry[k])
            carry[k] = int(lag[-1])
            painted[k].add(m0, m1, main_size, a[: pe - s][keep], size)
            lagged[k].add(m0, m1, main_size, lag[: pe - s][keep], size)
    h_next = base.entropy()
    axes = []
    for k, info in enumerate(ds.axes):
        counts = label_counts[k]
        order = [i for i in np.argsort(-counts[1:], kind="stable")[:top] + 1 if counts[i] > 0]
        leak = h_next - painted[k].entropy() if n > 1 else 0.0
        lag_leak = h_next - lagged[k].entropy() if n > 1 else 0.0
        leak_bias = max(0.0, painted[k].bias() - base.bias())
        lag_bias = max(0.0, lagged[k].bias() - base.bias())
        axes.append(AxisStats(
            name=info.name, kind=info.kind, mode=info.mode, causal=info.causal,
            lookahead=info.lookahead, labels=sizes[k],
            coverage=float(1 - counts[0] / n) if n else 0.0,
            entropy_bits=entropy_of_counts(counts),
            top=[(str(info.vocab[i]), float(counts[i] / n)) for i in order],
            leak_bits=leak, lagged_leak_bits=lag_leak,
            leak_bias_bits=leak_bias, lagged_bias_bits=lag_bias,
            flag=leak_flag(info.mode, info.causal, leak - leak_bias, lag_leak - lag_bias, info.prefix_failed),
            prefix_check=info.prefix_check,
        ))
    return SplitStats(split=split, positions=n, documents=len(docs), pairs=base.joint.total,
                      main_entropy_bits=entropy_of_counts(main_counts), next_entropy_bits=h_next, axes=axes)


def dataset_stats(ds, splits: Sequence[str], top: int = TOP_LABELS, chunk: int = CHUNK) -> list[SplitStats]:
    known = list(ds.manifest.splits)
    for split in splits:
        if split not in known:
            raise UserError(f"the dataset has no split '{split}' (it has {', '.join(known) or 'none'})")
    return [split_stats(ds, split, top, chunk) for split in splits]
