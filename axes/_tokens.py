"""NLTK's word tokens of a document, with exact character offsets.

A document's tokens are what `nltk.word_tokenize` gives: punkt sentences
(shared with the `sentences` grouping through `_nltk.doc_sentences`), each
tokenised by NLTK's Treebank-style `NLTKWordTokenizer`. The tokenizer
rewrites double quotes (`"` becomes `` or ''), so each token is mapped back
to the text as `NLTKWordTokenizer.span_tokenize` does: converted quotes are
replaced by the quote marks of the text, in order, then tokens are found
left to right (`nltk.tokenize.util.align_tokens`). The sentence is tokenised
once and both tokens and spans are kept (span_tokenize would tokenise again).

`doc_words(doc)` computes this once per document; the POS axes and the
chunker share it.
"""

from __future__ import annotations

import functools
import re

import attrs
import numpy as np

from axes import _nltk

_QUOTE_TOKENS = frozenset(['"', "``", "''"])
_QUOTES_IN_TEXT = re.compile(r"``|'{2}|\"")


@functools.lru_cache(maxsize=1)
def tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


@attrs.frozen(eq=False)
class Words:
    """Word tokens of a text: strings, [start, end) offsets, and how many
    tokens each punkt sentence has (sentence k's tokens follow sentence k-1's)."""

    tokens: list[str]
    start: np.ndarray
    end: np.ndarray
    lengths: np.ndarray  # tokens per sentence
    sentences: list[tuple[int, int]]  # punkt sentence spans

    @property
    def sentence_of(self) -> np.ndarray:
        """The sentence index of each token."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)


def tokenize(sentence: str) -> tuple[list[str], list[tuple[int, int]]]:
    """word_tokenize's tokens of one sentence and their offsets in it."""
    tokens = tokenizer().tokenize(sentence)
    return tokens, align(tokens, sentence)


def align(tokens: list[str], text: str) -> list[tuple[int, int]]:
    """Offsets of tokens in text, as NLTKWordTokenizer.span_tokenize finds
    them. Where NLTK's own alignment would fail (rare quote sequences), each
    token is searched from the previous one instead, a converted quote
    matching the next quote mark; a token not found gets an empty span."""
    try:
        return _align_nltk(tokens, text)
    except (ValueError, StopIteration):
        return _align_tolerant(tokens, text)


def _align_nltk(tokens, text):
    if '"' in text or "''" in text:
        marks = iter(m.group() for m in _QUOTES_IN_TEXT.finditer(text))
        tokens = [next(marks) if t in _QUOTE_TOKENS else t for t in tokens]
    spans, point = [], 0
    for token in tokens:
        start = text.index(token, point)
        point = start + len(token)
        spans.append((start, point))
    return spans


def _align_tolerant(tokens, text):
    spans, point = [], 0
    for token in tokens:
        if token in _QUOTE_TOKENS:
            m = _QUOTES_IN_TEXT.search(text, point)
            start, end = (m.start(), m.end()) if m else (-1, -1)
        else:
            start = text.find(token, point)
            end = start + len(token)
        if start < 0:
            spans.append((point, point))
            continue
        spans.append((start, end))
        point = end
    return spans


def words_of(text: str, sentences: list[tuple[int, int]]) -> Words:
    """Tokens of each given sentence span of text, with document offsets."""
    tokens: list[str] = []
    offsets: list[int] = []
    lengths = np.zeros(len(sentences), dtype=np.int64)
    for k, (s, e) in enumerate(sentences):
        toks, spans = tokenize(text[s:e])
        tokens += toks
        for a, b in spans:
            offsets += (a + s, b + s)
        lengths[k] = len(toks)
    pairs = np.array(offsets, dtype=np.int64).reshape(-1, 2)
    return Words(tokens, pairs[:, 0].copy(), pairs[:, 1].copy(), lengths, list(sentences))


def doc_words(doc) -> Words:
    """The document's word tokens, computed once per document."""
    return doc.memo(("nltk", "words"), lambda: words_of(doc.text, _nltk.doc_sentences(doc)))
