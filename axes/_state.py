"""Vectorised state over a document: the kernels behind the long-range
operators (axes/state.py, axes/nesting.py).

Each takes per-position arrays and returns per-position arrays in one pass
of numpy (no Python loop per character). `resets` marks where state starts
afresh (the span starts of a `within G` grouping; position 0 always does).
"""

from __future__ import annotations

import numpy as np


def reset_marks(n: int, starts: np.ndarray | None) -> np.ndarray:
    """A boolean per position: does state start afresh here?"""
    marks = np.zeros(n, dtype=bool)
    if n:
        marks[0] = True
    if starts is not None and len(starts):
        starts = starts[(starts >= 0) & (starts < n)]
        marks[starts] = True
    return marks


def segment_first(resets: np.ndarray) -> np.ndarray:
    """For each position, the position where its segment started."""
    return np.maximum.accumulate(np.where(resets, np.arange(len(resets)), 0))


def last_event(events: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """For each position, the latest event position at or before it in its
    segment; -1 where the segment has had none yet."""
    n = len(events)
    latest = np.maximum.accumulate(np.where(events, np.arange(n), -1)) if n else np.zeros(0, np.int64)
    return np.where(latest >= segment_first(resets), latest, -1)


def latest_ids(ids: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """The most recent non-empty id at or before each position, held until the next."""
    at = last_event(ids != 0, resets)
    return np.where(at >= 0, ids[np.maximum(at, 0)], 0).astype(np.int32)


def first_ids(ids: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """The first non-empty id of each segment, from where it appears to the segment's end."""
    n = len(ids)
    if n == 0:
        return np.zeros(0, np.int32)
    segment = np.cumsum(resets) - 1
    labelled = np.flatnonzero(ids != 0)
    first_of = np.full(segment[-1] + 1, n, dtype=np.int64)  # per segment: its first labelled position
    segments, where = np.unique(segment[labelled], return_index=True)
    first_of[segments] = labelled[where]
    at = first_of[segment]
    return np.where(at <= np.arange(n), ids[np.minimum(at, n - 1)], 0).astype(np.int32)


def count_events(events: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """How many events have happened at or before each position, in its segment."""
    total = np.cumsum(events, dtype=np.int64)
    before = total - events  # events strictly before each position
    return total - before[segment_first(resets)]


def distance_since(events: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """Positions since the latest event in the segment (0 at the event); -1 before any."""
    at = last_event(events, resets)
    return np.where(at >= 0, np.arange(len(events)) - at, -1)


def run_bounds(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the maximal runs of one non-empty id: the spans of an axis without spans."""
    padded = np.concatenate([[0], ids, [0]])
    change = np.flatnonzero(padded[1:] != padded[:-1])  # boundaries: between positions change-1 and change
    starts = change[(change < len(ids)) & (padded[np.minimum(change + 1, len(padded) - 1)] != 0)]
    ends = change[padded[change] != 0]
    return starts.astype(np.int64), ends.astype(np.int64)


# ------------------------------------------------------------------ buckets


def linear_labels(maximum: int) -> tuple[str, ...]:
    """"0" .. "max-1" and "max+"."""
    return tuple(str(i) for i in range(maximum)) + (f"{maximum}+",)


def log_labels(maximum: int) -> tuple[str, ...]:
    """"0", "1", "2-3", "4-7", ... up to the bucket holding `maximum`, then "2^k+"."""
    labels, low = ["0", "1"], 2
    while low * 2 <= maximum:
        labels.append(f"{low}-{2 * low - 1}")
        low *= 2
    labels.append(f"{low}+")
    return tuple(labels)


def bucket_ids(values: np.ndarray, maximum: int, scale: str) -> np.ndarray:
    """Ids under linear_labels or log_labels (negative values: no label)."""
    if scale == "linear":
        ids = np.minimum(values, maximum) + 1
    else:
        top = len(log_labels(maximum))  # the last label's id
        safe = np.maximum(values, 1)
        ids = np.where(values <= 0, 1, np.minimum(2 + np.floor(np.log2(safe)).astype(np.int64), top))
    return np.where(values < 0, 0, ids).astype(np.int32)


def bucket_value(label: str) -> int:
    """The least value a bucket label stands for ("4-7" -> 4, "16+" -> 16)."""
    return int(label.split("-")[0].rstrip("+"))
