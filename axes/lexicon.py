"""lexicon NAME [(case=..., whole_word, overlap=..., encoding=...)] { PATTERN | PATTERN -> LABEL ... }

Literal strings and regular expressions mapped to labels:

    lexicon fairy (case=insensitive, whole_word, overlap=longest, encoding=after) {
        "king" | "queen" -> ROYAL
        /wol(f|ves)/ -> VILLAIN
    }

Patterns. A "string" matches itself literally; a /regex/flags uses the
syntax of the `regex` module, with per-pattern flags i (ignore case), m
(multi-line), s (dot matches newline) and x (verbose). Inline flags such as
(?i) stay inside their own pattern; flags that would change the whole
lexicon ((?r), (?V1), (?p), ...) and numbered group references (\\1, (?1),
(?R)) are errors: name the group instead, (?P<x>...) and (?P=x). A pattern
that can match the empty string is an error.

Matching is one leftmost, non-overlapping scan over the text, like `finditer`
over the alternation of all patterns: at each position where some pattern
matches, one match is taken and the scan resumes at its end.

    overlap=priority  (default) the first declared pattern that matches there
    overlap=longest   the longest text any pattern can match there (every
                      way a pattern can match counts); ties go to the first
                      declared pattern
    whole_word        a match must not be preceded or followed by a word
                      character (\\w, as for `group ... = words`)
    case=insensitive  every pattern ignores case (default: sensitive)

An entry `-> _` labels nothing: its matches take part in the scan (so
`"then" -> _` keeps "the" from matching inside "then") but are not shown.

Encodings (the vocabulary is the distinct labels in declaration order, or
their B-/I- forms for bio):

    span   (default) the label on every character of a match
    bio    B-LABEL on the first character, I-LABEL on the rest
    end    the label on the last character of a match
    after  the label on the first character after a match (none when the
           match ends the document)

The axis's spans are its matches (for `bio`, labelled with the B- ids), so
`lag`, `position`, `index` and `depth` work on a lexicon.

Causality. When every pattern is word-confined (it can only match word
characters and has no anchor or lookaround but \\b and \\B), a match never
leaves a \\w+ word, and the label at a position depends on its word and the
character after it: the look-ahead is "to the end of the current word", so
`lag X = LEX after words` is causal. With `encoding=after` and `whole_word`
as well, the label sits on the character right after a complete word, once
both are seen: the axis itself is causal. Any other pattern can make a match
(and through the scan, every later match) depend on text arbitrarily far
ahead: the look-ahead is unbounded.

Speed. Word-confined lexicons are matched once per distinct word of a
document (results are cached on the axis) and painted with numpy; others
take one combined `regex` pass over the text. Matching is time-bounded:
MULTIGRID_REGEX_TIMEOUT seconds per word, or per stretch of about
SCAN_CHUNK characters of the combined pass, then a located error.
"""

from __future__ import annotations

import itertools

import attrs
import numpy as np
import regex

from grid_dsl.diagnostics import inner_loc
from grid_dsl.nodes import LexiconDecl, Loc, Str

from .base import (
    CAUSAL,
    NONE_LABEL,
    WORD_CHAR,
    Axis,
    Document,
    Lookahead,
    Spans,
    Stream,
    bio_labels,
    builds,
    mark,
    paint,
    paint_bio,
    word_runs,
)
from ._regex import _items, _parsed, regex_timeout, timed, word_confined

ENCODINGS = ("span", "bio", "end", "after")
CACHE_LIMIT = 1 << 18  # distinct words whose matches an axis remembers
SCAN_CHUNK = 100_000  # characters of text per time-limited matching call (general path)
# sre_parse's codes for \b and \B: the only anchors that read the same in a
# word alone as in the text around it (^, $, \A, \Z do not).
_WORD_ANCHORS = {"AT_BOUNDARY", "AT_NON_BOUNDARY"}
# Tokens of a pattern's source, to find numbered group references (which
# would point at the wrong group once patterns are combined).
_NUMBERED_REF = regex.compile(
    r"""\\[0-3][0-7]{2}                # an octal escape
      | \\(?P<ref>[1-9][0-9]?)          # \1
      | \\g<(?P<ref>[0-9]+)>            # \g<1>
      | \\.                             # another escape
      | \[\^?\]?(?:\\.|[^\]\\])*\]      # a character class
      | \(\?\((?P<ref>[0-9]+)\)         # (?(1)yes|no)
      | \(\?(?P<ref>R|[0-9]+)\)         # (?R), (?1)
      | .""",
    regex.VERBOSE | regex.DOTALL,
)
# Strings to try a pattern on when the `re` parser cannot tell its minimum width.
_EMPTY_PROBES = ("", "a", "aa", "A1_", " ", "a b", ".\n")


# ------------------------------------------------------------------ the axis


@attrs.frozen(kw_only=True)
class LexiconAxis(Axis):
    kind = "lexicon"
    pattern: regex.Pattern  # all patterns as one alternation, each in a named group
    group_labels: tuple[int, ...]  # label id of each group number (0: no label, or not a pattern's group)
    per_word: bool  # every pattern is word-confined: match distinct words, not the text
    whole_word: bool
    encoding: str
    loc: Loc | None = None
    word_cache: dict = attrs.field(factory=dict, eq=False, repr=False)  # word -> ((start, end, label id), ...)

    def compute(self, doc, inputs) -> Stream:
        with timed(self.loc, self.name):
            starts, ends, labels = self._word_matches(doc) if self.per_word else self._text_matches(doc)
        keep = (labels > 0) & (ends > starts)  # `-> _` matches take part in the scan but label nothing
        starts, ends, labels = starts[keep], ends[keep], labels[keep]
        n = len(doc)
        if self.encoding == "span":
            ids = paint(n, starts, ends, labels)
        elif self.encoding == "bio":
            ids, labels = paint_bio(n, starts, ends, labels), 2 * labels - 1  # span labels are B- ids
        elif self.encoding == "end":
            ids = mark(n, ends - 1, labels)
        else:
            ids = mark(n, ends, labels)
        return Stream(ids, Spans(starts, ends, labels))

    def _text_matches(self, doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The general path: one scan of the combined pattern over the text.
        The scan restarts where it stands about every SCAN_CHUNK characters
        (the same matches: finditer resumes at a match's end), so the time
        limit bounds each stretch of text, not a whole long document."""
        text, timeout, found, pos = doc.text, regex_timeout(), [], 0
        while pos is not None:
            start, pos = pos, None
            for m in self.pattern.finditer(text, start, timeout=timeout):
                found.append(m.span() + (m.lastindex,))
                if m.end() - start >= SCAN_CHUNK and m.end() > m.start():
                    pos = m.end()
                    break
        table = np.array(found, dtype=np.int64).reshape(-1, 3)
        labels = np.asarray(self.group_labels, dtype=np.int32)[table[:, 2]]
        return table[:, 0], table[:, 1], labels

    def _word_matches(self, doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fast path: match each distinct word once, then place its
        matches at every occurrence of the word (CSR-style expansion)."""
        words, which = distinct_words(doc)
        timeout = regex_timeout()
        tables = [self._matches_in_word(word, timeout) for word in words]
        counts = np.fromiter(map(len, tables), dtype=np.int64, count=len(tables))
        flat = np.array(list(itertools.chain.from_iterable(tables)), dtype=np.int64).reshape(-1, 3)
        per_occurrence = counts[which]
        total = int(per_occurrence.sum())
        occurrence = np.repeat(np.arange(len(which)), per_occurrence)
        # Row of `flat` for each match of each occurrence: the word's first
        # row, plus the match's rank among that occurrence's matches.
        first_row = (np.cumsum(counts) - counts)[which]
        rank = np.arange(total) - np.repeat(np.cumsum(per_occurrence) - per_occurrence, per_occurrence)
        rows = np.repeat(first_row, per_occurrence) + rank
        word_starts = word_runs(doc)[0][occurrence]
        return word_starts + flat[rows, 0], word_starts + flat[rows, 1], flat[rows, 2].astype(np.int32)

    def _matches_in_word(self, word: str, timeout: float) -> tuple:
        found = self.word_cache.get(word)
        if found is None:
            if self.whole_word:  # a whole-word match of a confined pattern is the whole word
                m = self.pattern.fullmatch(word, timeout=timeout)
                found = ((0, len(word), self.group_labels[m.lastindex]),) if m else ()
            else:
                found = tuple(m.span() + (self.group_labels[m.lastindex],) for m in self.pattern.finditer(word, timeout=timeout))
            if len(self.word_cache) >= CACHE_LIMIT:
                self.word_cache.clear()
            self.word_cache[word] = found
        return found


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
        masked = np.where(inside, doc.codes, np.uint32(32)).astype("<u4")
        words = masked.tobytes().decode("utf-32-le", "surrogatepass").split()
        index = {word: i for i, word in enumerate(dict.fromkeys(words))}
        which = np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))
        return list(index), which

    return doc.memo(("lexicon", "distinct words"), compute)


# ---------------------------------------------------------------- building


def _flag_prefix(letters: str) -> str:
    return f"(?{letters})" if letters else ""


def _regex_source(pattern, ignore_case: bool, ctx) -> str | None:
    """A regex pattern, checked, as a group that keeps its flags to itself."""
    compiled = ctx.regex(pattern, regex.IGNORECASE if ignore_case else 0)
    if compiled is None:
        return None
    letters = "".join(sorted(set(pattern.flags)))
    scoped = f"(?{letters}:{pattern.source}{chr(10) if 'x' in letters else ''})"  # a newline ends a trailing x-comment
    base_flags = regex.IGNORECASE if ignore_case else 0
    try:
        leaks = regex.compile(scoped, base_flags).flags != regex.compile("", base_flags).flags
    except regex.error as err:  # an inline (?x) whose comment runs to the pattern's end swallows the ")"
        ctx.error(pattern.loc, f"this pattern cannot be combined with the others: {err}",
                  "write the x flag after the pattern (/…/x), so its comments end where it ends")
        return None
    if leaks:
        ctx.error(pattern.loc, "this pattern sets a flag for the whole lexicon (such as (?r), (?V1) or (?p))",
                  "flags i, m, s, x go after the pattern (/…/i) or in a scoped group (?i:…)")
        return None
    ref = next((m for m in _NUMBERED_REF.finditer(pattern.source) if m.group("ref")), None)
    if ref is not None:
        ctx.error(inner_loc(pattern.loc, 1 + ref.start(), len(ref.group())),
                  "numbered group references cannot be used in a lexicon pattern",
                  "the patterns are combined into one, which renumbers groups: name the group, (?P<x>…) and (?P=x)")
        return None
    if _can_match_empty(_flag_prefix(letters) + pattern.source, compiled):
        ctx.error(pattern.loc, "this pattern can match the empty string",
                  "a lexicon pattern must match at least one character: use + instead of *, or drop the optional part")
        return None
    return scoped


def _can_match_empty(source: str, compiled: regex.Pattern) -> bool:
    parsed = _parsed(source)
    if parsed is not None:
        return parsed.getwidth()[0] == 0
    # `regex`-only syntax: look for an empty match on a few short strings.
    return any(m.start() == m.end() for probe in _EMPTY_PROBES for m in compiled.finditer(probe, timeout=regex_timeout()))


def _stays_in_word(pattern, ignore_case: bool) -> bool:
    """Can every match of the pattern be found in its \\w+ word alone, with
    the same result as in the whole text?"""
    if isinstance(pattern, Str):
        return all(WORD_CHAR.fullmatch(c) for c in pattern.value)
    source = _flag_prefix("".join(sorted(set(pattern.flags)))) + pattern.source
    if not word_confined(source, ignore_case):
        return False
    return all(op.name != "AT" or arg.name in _WORD_ANCHORS for op, arg in _items(_parsed(source)))


def _lookahead(has_patterns: bool, confined: bool, whole_word: bool, encoding: str) -> Lookahead:
    if not has_patterns or (confined and whole_word and encoding == "after"):
        return CAUSAL
    if confined:
        return Lookahead("span", segment="word",
                         note="a lexicon match inside a word is known once the word and the character after it are seen")
    return Lookahead("unbounded", note="a lexicon pattern that can match outside a word lets a match depend on any later text")


@builds(LexiconDecl)
def build_lexicon(node: LexiconDecl, ctx) -> LexiconAxis | None:
    opts = ctx.options(
        node.options,
        {
            "case": ctx.opt("name", "sensitive", choices=("sensitive", "insensitive")),
            "whole_word": ctx.opt("flag", False),
            "overlap": ctx.opt("name", "priority", choices=("priority", "longest")),
            "encoding": ctx.opt("name", "span", choices=ENCODINGS),
        },
    )
    if opts is None:
        return None
    ignore_case, whole_word = opts["case"] == "insensitive", opts["whole_word"]
    plain = tuple(dict.fromkeys(e.label.text for e in node.entries if e.label.text != NONE_LABEL))
    ids = {NONE_LABEL: 0} | {label: i + 1 for i, label in enumerate(plain)}

    sources, labels, confined, ok = [], [], True, True
    for entry in node.entries:
        for pattern in entry.patterns:
            if isinstance(pattern, Str):
                source = regex.escape(pattern.value)
                if not pattern.value:
                    ctx.error(pattern.loc, "an empty string matches everywhere", "remove it, or write the text to match")
                    source = None
            else:
                source = _regex_source(pattern, ignore_case, ctx)
            if source is None:
                ok = False
                continue
            sources.append(source)
            labels.append(ids[entry.label.text])
            confined = confined and _stays_in_word(pattern, ignore_case)
    if not ok:
        return None

    # Name the patterns' groups apart from any group a pattern names itself.
    prefix = "lexicon_"
    while any(prefix in source for source in sources):
        prefix += "_"
    alternation = "|".join(f"(?P<{prefix}{i}>{source})" for i, source in enumerate(sources)) or "(?!)"
    flags = regex.IGNORECASE if ignore_case else 0
    if confined:
        # Word by word: a whole-word match is a fullmatch of the word, the
        # same for both overlap policies (ties go to the first pattern).
        longest = opts["overlap"] == "longest" and not whole_word
    else:
        longest = opts["overlap"] == "longest"
        if whole_word:
            alternation = rf"(?<!\w)(?:{alternation})(?!\w)"
    try:  # POSIX matching finds the longest match; of equal ones, the first alternative's
        pattern = regex.compile(alternation, flags | (regex.POSIX if longest else 0))
    except regex.error as err:
        ctx.error(node.loc, f"the patterns of lexicon '{node.name}' cannot be combined: {err}")
        return None
    group_labels = [0] * (pattern.groups + 1)
    for i, label in enumerate(labels):
        group_labels[pattern.groupindex[f"{prefix}{i}"]] = label

    encoding = opts["encoding"]
    return LexiconAxis(
        name=node.name,
        labels=bio_labels(plain) if encoding == "bio" else plain,
        lookahead=_lookahead(bool(sources), confined, whole_word, encoding),
        has_spans=True,
        segment="word" if confined else None,
        pattern=pattern,
        group_labels=tuple(group_labels),
        per_word=confined,
        whole_word=whole_word,
        encoding=encoding,
        loc=node.loc,
    )
