"""Exact, vectorised inference for NLTK's averaged-perceptron POS tagger.

`nltk.pos_tag` scores one token at a time in Python. This module runs the
same model (the very `PerceptronTagger` NLTK loads, its weights, classes and
tag dictionary) over many sentences at once: greedy left-to-right decoding
steps over token positions, and at each step every sentence still running
is scored together with numpy.

Bit-identical scores. NLTK's `AveragedPerceptron.predict` starts each
label's score at 0.0 and adds the weights of the features in the order
`_get_features` inserted them (every feature has value 1). A feature is one
row of a (features x classes) float64 matrix here, and the rows are added in
that same order, left to right; a feature the model lacks is a row of zeros
(x + 0.0 == x). Ties go to the greatest label (NLTK takes the max over
(score, label)): the columns are ordered by label, descending, so np.argmax,
which returns the first maximum, picks the same label. Words in the tag
dictionary bypass the model, as in NLTK.

Only the rows a text uses are built, lazily, and kept for later texts.
On construction the engine tags a probe of tricky sentences both ways; if the
results ever differ (a future NLTK changing its features), it warns and lets
NLTK's own tagger tag every sentence (and every cut of it, for prefix
tags) instead: much slower, never wrong.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

# Sentences exercising each feature template: quotes, numbers, years,
# hyphens, punctuation, capitals, tag-dictionary words and unknown words.
PROBE = (
    "`` I do n't know , '' said Mr. Smith-Jones in 1994 ; he paid $ 3.50 for 12 eggs .",
    "The quick brown fox jumps over the lazy dog 's back -- again !",
    "Qwertyish zorbles glimmered , and the well-known ex-king ( aged 42 ) fled to St. Ives ?",
    "Run .",
    "",
    "Yes",
)

_BLOCK = 32768  # rows scored at once (bounds the temporary score matrix)


class PerceptronEngine:
    """Tags tokenised sentences exactly as `tagger.tag` would, in batches.

    Token lists come flat with the number of tokens of each sentence; tags
    come back as ids into `self.tags` (the sorted set of every tag the tagger
    can output: its classes and its tag dictionary's values).
    """

    def __init__(self, tagger, check: bool = True):
        self.tagger = tagger
        model = tagger.model
        self.columns = sorted(model.classes, reverse=True)  # argmax ties -> greatest label
        self.tags = tuple(sorted(set(model.classes) | set(tagger.tagdict.values())))
        self._tag_id = {tag: i for i, tag in enumerate(self.tags)}
        self._column_tag = np.array([self._tag_id[c] for c in self.columns], dtype=np.int32)
        self._column_of = {c: i for i, c in enumerate(self.columns)}
        self._start, self._end = list(tagger.START), list(tagger.END)
        # Previous-tag ids: the tags, then the two start markers.
        self.START, self.START2 = len(self.tags), len(self.tags) + 1
        self._tag_names = list(self.tags) + self._start
        self._weights = model.weights
        self._row_of: dict[str, int] = {}
        self._matrix = np.zeros((1024, len(self.columns)), dtype=np.float64)  # row 0: no feature
        self._n_rows = 1
        names = self._tag_names
        self._bias = int(self._rows(["bias"])[0])
        self._prev_row = self._rows([f"i-1 tag {p}" for p in names])
        self._prev2_row = self._rows([f"i-2 tag {p}" for p in names])
        self._pair_row = self._rows([f"i tag+i-2 tag {p} {q}" for p in names for q in names]).reshape(len(names), -1)
        # "i-1 tag+i word" features, indexed by word, to fill a (tag, word) table per batch.
        self._prev_word: dict[str, list[tuple[int, str]]] = {}
        tag_index = {name: i for i, name in enumerate(names)}
        for key in self._weights:
            if key.startswith("i-1 tag+i word "):
                tag, _, word = key[len("i-1 tag+i word "):].partition(" ")
                if tag in tag_index:
                    self._prev_word.setdefault(word, []).append((tag_index[tag], key))
        self.exact = True  # False: tag through NLTK itself
        if check and not self._probe_agrees():
            warnings.warn(
                "the vectorised POS tagger disagrees with this NLTK version's tagger on a probe; "
                "falling back to NLTK's own (slower) scoring",
                RuntimeWarning,
                stacklevel=2,
            )
            self.exact = False

    # ---------------------------------------------------------------- rows

    def _rows(self, keys) -> np.ndarray:
        """Row index of each feature key (0 when the model lacks it)."""
        out = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            row = self._row_of.get(key)
            if row is None:
                weights = self._weights.get(key)
                row = 0 if weights is None else self._new_row(weights)
                self._row_of[key] = row
            out[i] = row
        return out

    def _new_row(self, weights: dict) -> int:
        if self._n_rows == len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
        row = self._n_rows
        for label, weight in weights.items():
            column = self._column_of.get(label)
            if column is not None:
                self._matrix[row, column] = weight
        self._n_rows += 1
        return row

    # --------------------------------------------------------------- batch

    def _encode(self, tokens: list[str], lengths: np.ndarray) -> "_Batch":
        return _Batch(self, tokens, np.asarray(lengths, dtype=np.int64))

    def tag(self, tokens: list[str], lengths) -> np.ndarray:
        """Greedy tags (ids into self.tags) of sentences given flat."""
        if not self.exact:
            return self._by_nltk(tokens, lengths, prefix=False)
        b = self._encode(tokens, lengths)
        tags = b.tagdict.copy()
        order = np.argsort(-b.lengths, kind="stable")
        starts, minus_length = b.starts[order], -b.lengths[order]  # ascending
        for t in range(-int(minus_length[0]) if len(order) else 0):
            q = starts[: np.searchsorted(minus_length, -t, side="left")] + t  # sentences longer than t
            q = q[tags[q] < 0]  # tag-dictionary words are already tagged
            if len(q) == 0:
                continue
            prev = tags[q - 1] if t >= 1 else np.full(len(q), self.START)
            prev2 = tags[q - 2] if t >= 2 else np.full(len(q), self.START if t == 1 else self.START2)
            p = b.pad[q]
            c = b.ctx
            tags[q] = self._predict(b, b.word[q], c[p - 2], c[p - 1], c[p], c[p + 1], c[p + 2], prev, prev2)
        return tags

    def tag_prefix(self, tokens: list[str], lengths, full: np.ndarray) -> np.ndarray:
        """For each token j of a sentence, the tag it gets when the sentence
        is cut right after it: the last tag of tag(sentence[:j+1]).

        Greedy tags at positions <= j-2 of a run over sentence[:j+1] equal
        the full run's (`full`): the tagger reads two words ahead and its own
        earlier decisions only. So position j-1 is re-scored with an end
        marker after j, then j with end markers after it."""
        if not self.exact:
            return self._by_nltk(tokens, lengths, prefix=True)
        b = self._encode(tokens, lengths)
        n = len(tokens)
        out = b.tagdict.copy()
        index = np.arange(n) - np.repeat(b.starts, b.lengths)  # position in the sentence
        c, END, END2 = b.ctx, b.END, b.END2

        def tag_at(q, i):  # the full run's tag at q (position i), or the start markers
            return np.where(i >= 0, full[np.maximum(q, 0)], np.where(i == -1, self.START, self.START2))

        q = np.flatnonzero(out < 0)
        i, p = index[q], b.pad[q]
        # Position j-1 (only where it exists): its own tag, or re-scored.
        prev = np.full(len(q), self.START)
        has_prev = i >= 1
        qa, ia, pa = q[has_prev] - 1, i[has_prev] - 1, p[has_prev] - 1
        prev_a = b.tagdict[qa]
        score = prev_a < 0
        if score.any():
            qs, is_, ps = qa[score], ia[score], pa[score]
            prev_a[score] = self._predict(b, b.word[qs], c[ps - 2], c[ps - 1], c[ps], c[ps + 1],
                                          np.full(len(qs), END), tag_at(qs - 1, is_ - 1), tag_at(qs - 2, is_ - 2))
        prev[has_prev] = prev_a
        out[q] = self._predict(b, b.word[q], c[p - 2], c[p - 1], c[p], np.full(len(q), END), np.full(len(q), END2),
                               prev, tag_at(q - 2, i - 2))
        return out

    # ------------------------------------------------------------- scoring

    def _predict(self, b, word, cm2, cm1, c0, cp1, cp2, prev, prev2) -> np.ndarray:
        """Tag ids for feature contexts given as parallel arrays (words as
        batch ids, tags as previous-tag ids)."""
        out = np.empty(len(word), dtype=np.int32)
        m = self._matrix
        for lo in range(0, len(word), _BLOCK):
            s = slice(lo, lo + _BLOCK)
            w, pv, pv2, i0 = word[s], prev[s], prev2[s], c0[s]
            rows = (
                b.suffix[w], b.pref1[w], self._prev_row[pv], self._prev2_row[pv2], self._pair_row[pv, pv2],
                b.i_word[i0], b.prev_word[pv, i0], b.m1_word[cm1[s]], b.m1_suffix[cm1[s]], b.m2_word[cm2[s]],
                b.p1_word[cp1[s]], b.p1_suffix[cp1[s]], b.p2_word[cp2[s]],
            )  # NLTK's feature order, after "bias"
            scores = np.repeat(m[self._bias][None, :], len(w), axis=0)
            for r in rows:
                scores += m[r]
            out[s] = self._column_tag[np.argmax(scores, axis=1)]
        return out

    def _by_nltk(self, tokens, lengths, prefix: bool) -> np.ndarray:
        """The same through NLTK's own tagger, sentence by sentence (and,
        for prefix tags, once per cut: quadratic, but right by definition)."""
        out, at = [], 0
        for n in np.asarray(lengths).tolist():
            sentence = tokens[at : at + n]
            at += n
            if prefix:
                out += [self.tagger.tag(sentence[: j + 1])[-1][1] for j in range(n)]
            else:
                out += [tag for _, tag in self.tagger.tag(sentence)]
        return np.array([self._tag_id[t] for t in out], dtype=np.int32)

    def _probe_agrees(self) -> bool:
        sentences = [s.split() for s in PROBE]
        tokens = [t for s in sentences for t in s]
        lengths = [len(s) for s in sentences]
        full = self.tag(tokens, lengths)
        prefix = self.tag_prefix(tokens, lengths, full)
        want_full, want_prefix = [], []
        for s in sentences:
            want_full += [tag for _, tag in self.tagger.tag(s)]
            want_prefix += [self.tagger.tag(s[: j + 1])[-1][1] for j in range(len(s))]
        return [self.tags[t] for t in full] == want_full and [self.tags[t] for t in prefix] == want_prefix


class _Batch:
    """Sentences encoded for scoring: word ids, a padded context array with
    NLTK's start/end markers around each sentence, and per-word row tables."""

    def __init__(self, engine: PerceptronEngine, tokens: list[str], lengths: np.ndarray):
        n = len(tokens)
        self.lengths = lengths
        self.starts = np.cumsum(lengths) - lengths
        vocab: dict[str, int] = {}
        self.word = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int64, count=n)
        self.words = list(vocab)  # distinct tokens, by id
        normalize = engine.tagger.normalize
        markers = engine._start + engine._end
        ctx_vocab = {m: i for i, m in enumerate(markers)}
        word_ctx = np.fromiter((ctx_vocab.setdefault(normalize(w), len(ctx_vocab)) for w in self.words),
                               dtype=np.int64, count=len(self.words))
        strings = list(ctx_vocab)  # distinct context words, by id
        START, START2, self.END, self.END2 = range(4)
        # Context layout: START START2 w0 .. w(n-1) END END2 for each sentence.
        sentence = np.repeat(np.arange(len(lengths)), lengths)
        self.pad = np.arange(n) + 4 * sentence + 2
        ctx = np.empty(n + 4 * len(lengths), dtype=np.int64)
        base = self.starts + 4 * np.arange(len(lengths))
        ctx[base], ctx[base + 1] = START, START2
        ctx[base + 2 + lengths], ctx[base + 3 + lengths] = self.END, self.END2
        ctx[self.pad] = word_ctx[self.word]
        self.ctx = ctx
        tagdict, tag_id = engine.tagger.tagdict, engine._tag_id
        words_tag = np.array([tag_id[tagdict[w]] if tagdict.get(w) else -1 for w in self.words], dtype=np.int32)
        self.tagdict = words_tag[self.word] if n else np.zeros(0, dtype=np.int32)
        rows = engine._rows
        self.suffix = rows([f"i suffix {w[-3:]}" for w in self.words])
        self.pref1 = rows([f"i pref1 {w[0] if w else ''}" for w in self.words])
        self.i_word = rows([f"i word {c}" for c in strings])
        self.m1_word = rows([f"i-1 word {c}" for c in strings])
        self.m1_suffix = rows([f"i-1 suffix {c[-3:]}" for c in strings])
        self.m2_word = rows([f"i-2 word {c}" for c in strings])
        self.p1_word = rows([f"i+1 word {c}" for c in strings])
        self.p1_suffix = rows([f"i+1 suffix {c[-3:]}" for c in strings])
        self.p2_word = rows([f"i+2 word {c}" for c in strings])
        at = [(tag, c, key) for c, string in enumerate(strings) for tag, key in engine._prev_word.get(string, ())]
        self.prev_word = np.zeros((len(engine._tag_names), len(strings)), dtype=np.int32)
        if at:
            tags, cols, keys = zip(*at)
            self.prev_word[list(tags), list(cols)] = rows(keys)


@functools.lru_cache(maxsize=1)
def engine() -> PerceptronEngine:
    """The engine over the tagger `nltk.pos_tag` uses (loaded once)."""
    try:  # share NLTK's cached instance: the same model, loaded once
        from nltk.tag import _get_tagger

        tagger = _get_tagger("eng")
    except ImportError:  # pragma: no cover - older/newer NLTK layouts
        from nltk.tag.perceptron import PerceptronTagger

        tagger = PerceptronTagger()
    return PerceptronEngine(tagger)
