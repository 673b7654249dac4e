"""How a lexicon axis finds its matches: the scan that axes/lexicon.py
defines, done word by word for the word-confined patterns, in one pass over
the text for the others, and merged so that the result is exactly the scan
of all the patterns together.

Why the split is exact. The scan takes, from position p, the match M(q) at
the first position q >= p where some pattern matches, and resumes at its
end. M(q) depends on q alone (a lookbehind or \\b sees the text before q,
wherever the scan started), and is the first declared pattern's match there
(overlap=longest: the longest, ties to the first declared).

- W, the word-confined patterns, never leave a \\w+ word, so W's own scan is
  the concatenation of the scans of each word alone: done once per distinct
  word (cached on the axis), for many words per regex call, without the
  patterns that need a text the word lacks (/\\w+ness/ needs "ness"), and
  placed at every occurrence with numpy.
- G, the other patterns, get their own scan of the text: one regex pass,
  cheap when they are few (a phrase, punctuation).
- A position where W matches is the start of a match of W's own scan or lies
  inside one (that scan would have stopped there otherwise); the same holds
  for G. So when no match of G's scan overlaps (or shares a start with) one
  of W's, the combined scan is the union of the two. Otherwise it runs over
  candidate matches: both scans' own, and, from each candidate's end that
  lies strictly inside a match of W's (G's) own scan, where that scan is out
  of step, W's (G's) first match from there. At a position with candidates
  of both, the rule above picks M(q); the scan then goes from candidate to
  candidate, in Python only where candidates overlap.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left

import attrs
import numpy as np
import regex

from axes.base import Document, span_positions, word_runs
from axes._regex import regex_timeout

_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))


@attrs.frozen
class Alternation:
    """Some of a lexicon's patterns as one regex, each pattern in a named
    group, and the pattern number of each group number (-1: a group inside
    a pattern)."""

    pattern: regex.Pattern
    groups: tuple[int, ...]

    def number(self, m: regex.Match) -> int:
        """The number of the pattern that made this match."""
        return self.groups[m.lastindex]


# Up to this many positions, trying each is cheaper than a search that may
# scan far ahead (see _candidates).
SHORT_STRETCH = 16


def lexicon_matches(axis, doc: Document, chunk: int, cache_limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starts, ends and label ids of the axis's scan over the document,
    `-> _` matches included. `chunk`: characters of text, or of distinct
    words, per time-limited matching call; `cache_limit`: distinct words the
    axis remembers."""
    words = word_scan(axis, doc, chunk, cache_limit) if axis.word is not None else _EMPTY
    if axis.text is None:
        starts, ends, numbers = words
    else:
        others = text_scan(axis.text, doc.text, chunk)
        starts, ends, numbers = merge_scans(axis, doc, words, others)
    return starts, ends, np.asarray(axis.pattern_labels, dtype=np.int32)[numbers]


# ------------------------------------------------------ word by word (W)


def distinct_words(doc: Document) -> tuple[list[str], np.ndarray]:
    """The document's distinct words (in order of first occurrence) and, for
    each word of word_runs(doc), the index of its string in that list."""

    def compute():
        starts, ends = word_runs(doc)
        # Blank out every character outside a word and let str.split cut the
        # words (twice as fast as slicing them one by one). No \w character
        # is whitespace to str.split (checked over all of Unicode), so the
        # pieces are exactly the word runs.
        inside = np.zeros(len(doc) + 1, dtype=np.int8)
        inside[starts], inside[ends] = 1, -1
        inside = np.cumsum(inside[:-1], dtype=np.int8).view(bool)
        masked = doc.codes.copy()
        masked[~inside] = 32
        words = masked.tobytes().decode("utf-32-le", "surrogatepass").split()
        index = {word: i for i, word in enumerate(dict.fromkeys(words))}
        which = np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))
        return list(index), which

    return doc.memo(("lexicon", "distinct words"), compute)


def word_scan(axis, doc: Document, chunk: int, cache_limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W's scan as (starts, ends, pattern numbers): match each distinct word
    once (or take its matches from the axis's cache), then place its matches
    at every occurrence of the word (CSR-style expansion)."""
    words, which = distinct_words(doc)
    cache = axis.word_cache
    tables = list(map(cache.get, words))
    missing = [i for i, table in enumerate(tables) if table is None]
    if missing:
        for i, table in zip(missing, match_words(axis, [words[i] for i in missing], chunk)):
            if len(cache) >= cache_limit:
                cache.clear()
            cache[words[i]] = tables[i] = table
    counts = np.fromiter(map(len, tables), dtype=np.int64, count=len(tables))
    flat = _int_table(list(itertools.chain.from_iterable(tables)), 3)
    per_occurrence = counts[which]
    total = int(per_occurrence.sum())
    occurrence = np.repeat(np.arange(len(which)), per_occurrence)
    # Row of `flat` for each match of each occurrence: the word's first
    # row, plus the match's rank among that occurrence's matches.
    first_row = (np.cumsum(counts) - counts)[which]
    rank = np.arange(total) - np.repeat(np.cumsum(per_occurrence) - per_occurrence, per_occurrence)
    rows = np.repeat(first_row, per_occurrence) + rank
    word_starts = word_runs(doc)[0][occurrence]
    return word_starts + flat[rows, 0], word_starts + flat[rows, 1], flat[rows, 2]


def match_words(axis, words: list[str], chunk: int) -> list[tuple]:
    """Each word's W scan, ((start, end, pattern number), ...), as if the word
    stood alone. Words that contain none of the texts some patterns need
    (axis.word_needs, axis.word_needs_any_case) are matched without those
    patterns, which could not match in them anyway."""
    if axis.light is None:
        return _scan_words(axis.word, words, chunk)
    joined = "\n".join(words)
    full = np.zeros(len(words), dtype=bool)  # words with a needed text: matched with all the patterns
    if axis.word_needs:  # where each text starts: one comparison of codes per character of it
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        hit = np.zeros(len(codes), dtype=bool)
        for needed in axis.word_needs:
            text = np.frombuffer(needed.encode("utf-32-le", "surrogatepass"), dtype="<u4")
            n = len(codes) - len(text) + 1
            if n > 0:
                here = codes[:n] == text[0]
                for i in range(1, len(text)):
                    here &= codes[i : n + i] == text[i]
                hit[:n] |= here
        offsets = np.cumsum([0] + [len(word) + 1 for word in words[:-1]])
        full[np.searchsorted(offsets, np.flatnonzero(hit), side="right") - 1] = True
    if axis.word_needs_any_case is not None:  # mark each text with a NUL (no word has one, no text a newline)
        marked = axis.word_needs_any_case.sub("\0", joined, timeout=regex_timeout()).split("\n")
        full |= np.fromiter(("\0" in word for word in marked), dtype=bool, count=len(words))
    found = [()] * len(words)
    for which, alternation in ((full, axis.word), (~full, axis.light)):
        indices = np.flatnonzero(which).tolist()
        if indices:
            for i, table in zip(indices, _scan_words(alternation, [words[i] for i in indices], chunk)):
                found[i] = table
    return found


def _scan_words(alternation: Alternation, words: list[str], chunk: int) -> list[tuple]:
    """Each word's matches. The words are joined by newlines, which a
    word-confined pattern can neither match nor see but as the edge of a word
    (its only anchors are \\b and \\B; with whole_word, the pattern is
    ^(?:...)$ with MULTILINE: a fullmatch of each line), and scanned by one
    finditer per batch of about `chunk` characters: one call per batch, not
    per word, and the time limit bounds each batch."""
    timeout = regex_timeout()
    sizes = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 1  # with the newline
    offsets = np.cumsum(sizes) - sizes  # where each word starts in the whole joined text
    cuts = np.searchsorted(offsets, np.arange(0, int(offsets[-1]) + 1, max(chunk, 1)), side="left")
    cuts = np.unique(np.r_[cuts, len(words)])
    spans, numbers = [], []
    for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        base = int(offsets[lo])
        for m in alternation.pattern.finditer("\n".join(words[lo:hi]), timeout=timeout):
            span = m.span()
            spans.append((span[0] + base, span[1] + base))
            numbers.append(alternation.number(m))
    table = _int_table(spans, 2)
    word = np.searchsorted(offsets, table[:, 0], side="right") - 1
    rows = list(zip((table[:, 0] - offsets[word]).tolist(), (table[:, 1] - offsets[word]).tolist(), numbers))
    found = [()] * len(words)
    bounds = np.searchsorted(word, np.arange(len(words) + 1)).tolist()
    for k in np.unique(word).tolist():
        found[k] = tuple(rows[bounds[k] : bounds[k + 1]])
    return found


# --------------------------------------------------------- over the text (G)


def text_scan(alternation: Alternation, text: str, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scan over the text, as (starts, ends, pattern numbers). It
    restarts where it stands about every `chunk` characters (the same
    matches: finditer resumes at a match's end), so the time limit bounds
    each stretch of text, not a whole long document."""
    timeout, spans, numbers, pos = regex_timeout(), [], [], 0
    groups = alternation.groups
    single = sum(number >= 0 for number in groups) == 1  # every match is the one pattern's
    while pos is not None:
        start, pos = pos, None
        for m in alternation.pattern.finditer(text, start, timeout=timeout):
            span = m.span()
            spans.append(span)
            if not single:
                numbers.append(m.lastindex)
            if span[1] - start >= chunk and span[1] > span[0]:
                pos = span[1]
                break
    table = _int_table(spans, 2)
    if single:
        return table[:, 0], table[:, 1], np.full(len(spans), max(groups), dtype=np.int64)
    return table[:, 0], table[:, 1], np.asarray(groups, dtype=np.int64)[numbers]


def _int_table(rows: list, width: int) -> np.ndarray:
    """A list of equal-length tuples of ints as a 2-D array (faster than np.array)."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=width * len(rows))
    return flat.reshape(-1, width)


# ----------------------------------------------------------------- merging


def merge_scans(axis, doc: Document, words, others) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The combined scan, from W's own scan (`words`) and G's (`others`),
    each as (starts, ends, pattern numbers)."""
    ws, we, _ = words
    gs, ge, _ = others
    if len(ws) == 0 or len(gs) == 0:
        return others if len(ws) == 0 else words
    # Does some G match meet a W match? The last W match starting before a G
    # match ends is the one reaching furthest (W's matches do not overlap).
    last_w = np.searchsorted(ws, ge, side="left") - 1
    if not np.any((last_w >= 0) & (we[np.maximum(last_w, 0)] > gs)):
        starts, ends, numbers = (np.concatenate(pair) for pair in zip(words, others))
        order = np.argsort(starts, kind="stable")  # disjoint matches: sorting by start orders them
        return starts[order], ends[order], numbers[order]
    starts, ends, numbers = _candidates(axis, doc, words, others)
    return _greedy(starts, ends, numbers, axis.longest)


def _inside(starts: np.ndarray, ends: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which points lie strictly inside one of these (sorted, disjoint)
    matches, and the end of the match each point lies in."""
    i = np.maximum(np.searchsorted(starts, points, side="right") - 1, 0)
    inside = (points > starts[i]) & (points < ends[i])
    return inside, ends[i][inside]


def _candidates(axis, doc: Document, words, others):
    """Matches of W and of G at enough positions for the combined scan: each
    scan's own matches, and, from every end of a candidate that lies strictly
    inside a match of W's (G's) own scan, W's (G's) first match from there,
    until no candidate ends at a position not yet seen. From any position the
    scan can reach, the candidates then hold the first position where W
    matches and the first where G does, with their matches there (see the
    module docstring).

    From a point p inside a match [a, e) of its own scan, W's or G's first
    match starts in [p, e) or is the next match of its own scan (which is
    back in step at e), already a candidate. So W searches p's word, and G
    tries each position of [p, e) when that is short: a search could run far
    past e to find what is already known."""
    text, timeout = doc.text, regex_timeout()
    word_starts, word_ends = word_runs(doc)
    ws, we, _ = words
    gs, ge, _ = others
    found = [words, others]
    seen_w, seen_g = set(), set()
    g_search = (-1, -1, None)  # (from, found at, match) of G's last search: nothing in between matches
    pending = np.concatenate([we, ge])
    while len(pending):
        new = []
        if not axis.whole_word:  # (a whole-word match cannot start inside a word)
            inside, _ = _inside(ws, we, pending)
            points = pending[inside]
            bounds = word_ends[np.searchsorted(word_starts, points, side="right") - 1]
            for p, word_end in zip(points.tolist(), bounds.tolist()):
                if p not in seen_w:
                    seen_w.add(p)
                    m = axis.word.pattern.search(text, p, word_end, timeout=timeout)
                    if m is not None:
                        new.append(m.span() + (axis.word.number(m),))
        inside, bounds = _inside(gs, ge, pending)
        for p, end in zip(pending[inside].tolist(), bounds.tolist()):
            if p in seen_g:
                continue
            seen_g.add(p)
            if end - p <= SHORT_STRETCH:
                m = next(filter(None, (axis.text.pattern.match(text, q, timeout=timeout) for q in range(p, end))), None)
            else:
                searched_from, found_at, m = g_search
                if not searched_from <= p <= found_at:
                    m = axis.text.pattern.search(text, p, timeout=timeout)
                    g_search = (p, len(text) if m is None else m.start(), m)
            if m is not None:
                new.append(m.span() + (axis.text.number(m),))
        table = _int_table(new, 3)
        found.append((table[:, 0], table[:, 1], table[:, 2]))
        pending = table[:, 1]
    return (np.concatenate(column) for column in zip(*found))


def _greedy(starts, ends, numbers, longest: bool):
    """The leftmost, non-overlapping scan over candidate matches: at each
    position keep the match the scan takes there (the first declared
    pattern's, or the longest, ties to the first), then follow the scan from
    the first candidate, each match to the first candidate at or after its
    end."""
    order = np.lexsort((numbers, starts - ends, starts) if longest else (numbers, starts))
    starts, ends, numbers = starts[order], ends[order], numbers[order]
    first = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    starts, ends, numbers = starts[first], ends[first], numbers[first]
    # The scan goes from each candidate to the next one unless they overlap:
    # follow it in Python only across those jumps.
    n = len(starts)
    following = np.searchsorted(starts, ends, side="left")
    jumps = np.flatnonzero(following != np.arange(1, n + 1))
    jumps, targets = jumps.tolist(), following[jumps].tolist()
    runs, i, k = [], 0, 0
    while i < n:
        k = bisect_left(jumps, i, k)
        last = jumps[k] if k < len(jumps) else n - 1
        runs.append((i, last + 1))
        i = targets[k] if k < len(jumps) else n
    run_table = _int_table(runs, 2)
    taken = span_positions(run_table[:, 0], run_table[:, 1])
    return starts[taken], ends[taken], numbers[taken]
