"""pos NAME [(tagset=penn|universal, prefix)]: NLTK part-of-speech tags.

    pos ptb                              Penn Treebank tags (the default tagset)
    pos upos (tagset=universal)          the 12 universal tags
    pos upos_prefix (tagset=universal, prefix)   causal once lagged after tokens

Exactly `nltk.pos_tag`. The text is split into sentences by punkt (the
spans of the `sentences` grouping); each sentence is tokenised by
`nltk.word_tokenize`'s tokenizer (so `"` becomes `` or ''); each sentence's
tokens are tagged by `nltk.pos_tag`, and universal tags are
`nltk.tag.map_tag('en-ptb', 'universal', tag)`. Every token is mapped back to
its exact characters in the text, and every character of a token carries the
token's tag; whitespace and characters in no token carry no label ("_").
The vocabulary is fixed by the tagger, not by the text: Penn is the sorted
set of all tags the tagger can output, universal the 12 universal tags. The
axis has spans: its tokens, labelled with their tags.

A tag is not causal: the tagger reads the next two words of the sentence,
and punkt decides where a sentence ends from the text after it. Lagging it
after tokens does not make it causal (docs/design.md, "The tagger's look-ahead").

`prefix`: each word is tagged from the words up to it only. Literally: for
each whitespace-delimited token c (a maximal run of non-space characters, as
in `group t = tokens`) ending at offset e, let P = text[:e]. Split P into
punkt sentences; for every sentence S of P and every word token u of S
(word_tokenize's tokens of S) lying inside c, u's tag is the LAST tag of
`nltk.pos_tag(tokens of S up to and including u)`. These tokens and tags are
painted over c. The value at every character of c thus depends only on the
text up to the end of c: `lag x = upos_prefix after tokens` is causal.

How the prefix tags are computed fast (tests compare them to the literal
definition): punkt's and the tokenizer's decisions are local, so P's
sentences and tokens up to c are the whole text's, except in two cases
detected and recomputed literally: (1) c ends a sentence only in P and the
tokenizer's sentence-final-period rule splits it (or the token before it)
differently, e.g. "Mr." in "Mr. Smith"; (2) punkt's overlap rule for two
candidate sentence ends with no ASCII whitespace between them (e.g. "?!").
Elsewhere, a greedy run over a sentence cut after word j gives the full
run's tags up to j-2 (the tagger looks two words ahead), so the tag of j is
two re-scorings of the full run's context (see _perceptron.tag_prefix).
"""

from __future__ import annotations

import functools
import json
import re

import attrs
import numpy as np

from grid_dsl.language.kinds.pos import PosDecl

from axes import _nltk
from axes._perceptron import engine
from axes._tokens import Words, doc_words, tokenize
from axes.base import Axis, Lookahead, Spans, Stream, builds, paint, token_runs

UNIVERSAL = (".", "ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", "X")
TAGGER = "averaged_perceptron_tagger_eng"

FULL_LOOKAHEAD = Lookahead("unbounded", note="the tagger reads the next two words, and punkt ends a sentence from the text after it")
PREFIX_LOOKAHEAD = Lookahead("span", segment="token", note="tokenisation needs the whole whitespace-delimited token")

# A period followed only by closing brackets/quotes and spaces: where the
# tokenizer's sentence-final-period rule can split differently at the end of P.
_PERIOD_TAIL = re.compile(r"""\.[\]\)}>"'\u00bb\u201d\u2019\s]*""")
_ASCII_SPACE = np.array([ord(c) for c in " \t\n\r\x0b\x0c"], dtype=np.uint32)


@functools.lru_cache(maxsize=1)
def penn_tags() -> tuple[str, ...]:
    """Every tag the tagger can output (its classes and tag dictionary's
    values), read from the model's small files without loading its weights."""
    import nltk
    from nltk.tag.perceptron import PerceptronTagger

    try:
        _, tagdict_file, classes_file = PerceptronTagger(load=False).param_files("eng")
        folder = f"taggers/{TAGGER}/"
        with open(nltk.data.find(folder + classes_file), encoding="utf-8") as f:
            classes = json.load(f)
        with open(nltk.data.find(folder + tagdict_file), encoding="utf-8") as f:
            tagdict = json.load(f)
        return tuple(sorted(set(classes) | set(tagdict.values())))
    except (LookupError, OSError, ValueError, TypeError, AttributeError):  # another layout: load the tagger
        return engine().tags


def doc_tags(doc) -> np.ndarray:
    """Penn tags (ids into engine().tags) of doc_words(doc), once per document."""
    def tag():
        words = doc_words(doc)
        return engine().tag(words.tokens, words.lengths)

    return doc.memo(("nltk", "pos"), tag)


def doc_prefix_tags(doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, Penn tag id) of the prefix-tagged tokens, once per document."""
    return doc.memo(("nltk", "pos-prefix"), lambda: _prefix_tags(doc))


@attrs.frozen(kw_only=True)
class PosAxis(Axis):
    kind = "pos"
    tagset: str = "penn"
    prefix: bool = False

    @functools.cached_property
    def _table(self) -> np.ndarray:
        """Engine tag id -> this axis's label id."""
        ids = self._ids
        if self.tagset == "universal":
            from nltk.tag import map_tag

            return np.array([ids[map_tag("en-ptb", "universal", t)] for t in engine().tags], dtype=np.int32)
        return np.array([ids[t] for t in engine().tags], dtype=np.int32)

    def compute(self, doc, inputs) -> Stream:
        if self.prefix:
            start, end, tags = doc_prefix_tags(doc)
        else:
            words = doc_words(doc)
            start, end, tags = words.start, words.end, doc_tags(doc)
        labels = self._table[tags] if len(tags) else np.zeros(0, dtype=np.int32)
        return Stream(paint(len(doc), start, end, labels), Spans(start, end, labels))


# ------------------------------------------------------------ prefix tags


def _prefix_tags(doc):
    words = doc_words(doc)
    tags = engine().tag_prefix(words.tokens, words.lengths, doc_tags(doc))
    run_start, run_end = token_runs(doc)
    unsafe = _unsafe_runs(doc, words, run_end)
    if not unsafe.any():
        return words.start, words.end, tags
    # Drop the tokens of unsafe runs and tag those runs literally.
    run = np.searchsorted(run_start, words.start, side="right") - 1
    inside = (run >= 0) & (words.start < run_end[np.maximum(run, 0)]) & (words.end > words.start)
    keep = ~(inside & unsafe[np.maximum(run, 0)])
    start, end, literal = _literal(doc.text, words, run_start[unsafe], run_end[unsafe])
    start = np.concatenate([words.start[keep], start])
    end = np.concatenate([words.end[keep], end])
    tags = np.concatenate([tags[keep], literal])
    order = np.argsort(start, kind="stable")
    return start[order], end[order], tags[order]


def _unsafe_runs(doc, words: Words, run_end: np.ndarray) -> np.ndarray:
    """Runs whose prefix tags may not follow from the whole text's sentences
    and tokens (see the module docstring); conservative."""
    text, n = doc.text, len(doc)
    last = run_end - 1
    sent_start = np.array([s for s, _ in words.sentences], dtype=np.int64)
    # a sentinel end (-1, never > last) so that a text with no sentence at all indexes safely
    sent_end = np.array([e for _, e in words.sentences] + [-1], dtype=np.int64)
    k = np.searchsorted(sent_start, last, side="right") - 1
    in_sentence = (k >= 0) & (sent_end[np.maximum(k, 0)] > last)
    ends_sentence = in_sentence & (sent_end[np.maximum(k, 0)] == run_end)
    # (1) a period tail that is not the end of its sentence in the whole text
    tail = np.zeros(n + 1, dtype=np.int64)
    for m in _PERIOD_TAIL.finditer(text):
        tail[m.start()] += 1
        tail[m.end()] -= 1
    unsafe = (np.cumsum(tail)[last] > 0) & ~ends_sentence
    # (2) consecutive candidate sentence ends with no ASCII whitespace between
    ends = np.array([m.start() for m in _period_context().finditer(text)], dtype=np.int64)
    if len(ends) > 1:
        spaces = np.concatenate([[0], np.cumsum(np.isin(doc.codes, _ASCII_SPACE))])
        close = spaces[ends[1:]] == spaces[ends[:-1]]
        mark = np.zeros(n + 1, dtype=np.int64)
        np.add.at(mark, ends[:-1][close] + 1, 1)
        np.add.at(mark, ends[1:][close] + 1, -1)
        unsafe |= np.cumsum(mark)[last] > 0
    return unsafe | ~in_sentence


def _period_context():
    """punkt's regex for candidate sentence ends (a [.?!] and what follows)."""
    tokenizer = _nltk.punkt()
    lang_vars = getattr(tokenizer, "_lang_vars", None)
    if lang_vars is None:  # pragma: no cover - NLTK layout change
        from nltk.tokenize.punkt import PunktLanguageVars

        lang_vars = PunktLanguageVars()
    return lang_vars.period_context_re()


def _literal(text: str, words: Words, starts: np.ndarray, ends: np.ndarray):
    """Prefix tags of the tokens of the given runs, by the definition: punkt
    and the tokenizer on the text up to each run's end, then one greedy run
    per token. punkt restarts identically at a sentence start preceded by
    ASCII whitespace, so P is cut there instead of at 0."""
    sent_start = [s for s, _ in words.sentences]
    runs: list[list[str]] = []
    spans: list[tuple[int, int]] = []
    for c_start, e in zip(starts.tolist(), ends.tolist()):
        k = int(np.searchsorted(sent_start, e - 1, side="right")) - 1
        w = sent_start[k] if k >= 0 else 0
        while w > 0 and text[w - 1] not in " \t\n\r\x0b\x0c":
            k -= 1
            w = sent_start[k] if k >= 0 else 0
        window = text[w:e]
        for a, b in _nltk.sentence_spans(window):
            if w + b <= c_start:
                continue
            tokens, offsets = tokenize(window[a:b])
            for j, (x, y) in enumerate(offsets):
                if w + a + x >= c_start and y > x:
                    runs.append(tokens[: j + 1])
                    spans.append((w + a + x, w + a + y))
    if not runs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0, dtype=np.int32)
    lengths = np.array([len(r) for r in runs], dtype=np.int64)
    tags = engine().tag([t for r in runs for t in r], lengths)
    last = np.cumsum(lengths) - 1
    pairs = np.array(spans, dtype=np.int64)
    return pairs[:, 0].copy(), pairs[:, 1].copy(), tags[last]


# ---------------------------------------------------------------- builder


@builds(PosDecl)
def build_pos(node: PosDecl, ctx) -> PosAxis | None:
    opts = ctx.options(
        node.options,
        {"tagset": ctx.opt("name", "penn", choices=("penn", "universal")), "prefix": ctx.opt("flag", False)},
    )
    if opts is None:
        return None
    universal = opts["tagset"] == "universal"
    absent = _nltk.missing("punkt_tab", TAGGER, *(["universal_tagset"] if universal else []))
    if absent:
        ctx.error(node.loc, *_nltk.missing_message(absent))
        return None
    return PosAxis(
        name=node.name,
        labels=UNIVERSAL if universal else penn_tags(),
        lookahead=PREFIX_LOOKAHEAD if opts["prefix"] else FULL_LOOKAHEAD,
        has_spans=True,
        tagset=opts["tagset"],
        prefix=opts["prefix"],
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return known.nltk  # needs the tagger's data


def strategy(known, name: str, pieces):
    from hypothesis import strategies as st

    return st.builds(PosDecl, st.just(name),
                     pieces.options(("tagset", pieces.name_choice("penn", "universal")), ("prefix", pieces.flag())))
