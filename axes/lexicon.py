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
both are seen: the axis itself is causal. A lexicon of literal strings
alone (`"don't" | "can't"`) in which no string occurs inside another with
text after it is causal with `encoding=after` too: a match ending at e is
decided by text[:e+1]. Any other pattern can make a match (and through the
scan, every later match) depend on text arbitrarily far ahead: the
look-ahead is unbounded.

Labels and spans are separate facts. With `encoding=after` the labels are
causal, but the spans are the matches: which characters a match holds is
known only at its end. `position`, `index`, `depth`, `within`, chunks and
lags read the spans' look-ahead (Axis.span_start, span_end), so a view over
an `after` lexicon is not causal, and `check` refuses it as context.

Speed. The word-confined patterns are matched once per distinct word of a
document (results are cached on the axis, many words per regex call) and
painted with numpy; the others, if any, take one `regex` pass over the text
together, and the two are merged into exactly the scan above (see
_lexicon_scan). Matching is time-bounded: MULTIGRID_REGEX_TIMEOUT seconds
per stretch of about SCAN_CHUNK characters of text or of distinct words (or
per word, or per search when the two kinds of pattern meet), then a located
error.
"""

from __future__ import annotations

import itertools
import re

import attrs
import regex

from grid_dsl.language.diagnostics import inner_loc
from grid_dsl.language import nodes
from grid_dsl.language.kinds.lexicon import LexiconDecl, LexiconEntry
from grid_dsl.language.nodes import Loc, Str

from axes.base import (
    CAUSAL,
    NONE_LABEL,
    WORD_CHAR,
    Axis,
    Lookahead,
    Spans,
    Stream,
    bio_labels,
    builds,
    mark,
    paint,
    paint_bio,
)
from axes._lexicon_scan import Alternation, lexicon_matches
from axes._regex import _items, _parsed, literals_never_extend, regex_timeout, timed, word_confined

ENCODINGS = ("span", "bio", "end", "after")
CACHE_LIMIT = 1 << 18  # distinct words whose matches an axis remembers
SCAN_CHUNK = 100_000  # characters of text, or of distinct words, per time-limited matching call
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
    pattern_labels: tuple[int, ...]  # label id of each pattern, in declared order (0: `-> _`)
    # The patterns split in two (see _lexicon_scan), None where there are
    # none: the word-confined ones, matched over distinct words joined by
    # newlines (with whole_word, as ^(?:...)$ per line), and the others,
    # matched over the text.
    word: Alternation | None
    text: Alternation | None
    # Texts that some word-confined patterns need in any match: as they are,
    # and (an alternation, or None) ignoring case; and the word-confined
    # patterns but those (None: there are none), for words lacking them all.
    word_needs: tuple[str, ...]
    word_needs_any_case: regex.Pattern | None
    light: Alternation | None
    whole_word: bool
    longest: bool  # overlap=longest
    encoding: str
    loc: Loc | None = None
    word_cache: dict = attrs.field(factory=dict, eq=False, repr=False)  # word -> ((start, end, pattern number), ...)

    @property
    def per_word(self) -> bool:
        """Every pattern is word-confined: the matches come from distinct words alone."""
        return self.text is None

    def compute(self, doc, inputs) -> Stream:
        with timed(self.loc, self.name):
            starts, ends, labels = lexicon_matches(self, doc, SCAN_CHUNK, CACHE_LIMIT)
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


def _needed_text(pattern, ignore_case: bool) -> tuple[str, bool] | None:
    """Text of two characters or more that every match of a regex pattern
    contains (the longest run of literal characters in its top-level
    sequence), and whether the pattern ignores its case, unless the pattern
    starts with a literal. Such a pattern is left out for words without that text:
    tried at every position of every word, one like /\\w+ness/ backtracks over
    the rest of the word each time, while one that starts with a literal
    fails at once."""
    if isinstance(pattern, Str):
        return None
    parsed = _parsed(_flag_prefix("".join(sorted(set(pattern.flags)))) + pattern.source, ignore_case)
    if parsed is None or not len(parsed) or parsed[0][0].name == "LITERAL":
        return None
    runs = ["".join(chr(arg) for _, arg in run)
            for literal, run in itertools.groupby(parsed, key=lambda item: item[0].name == "LITERAL") if literal]
    longest = max(runs, key=len, default="")
    if len(longest) < 2:
        return None
    return longest, bool(parsed.state.flags & re.IGNORECASE)


def _span_facts(has_patterns: bool, confined: bool, whole_word: bool, literals: list[str] | None,
                ignore_case: bool) -> tuple[Lookahead, Lookahead]:
    """Where a match starts and which characters it holds (span_start), and
    that it ends (span_end, from its last character): see Axis.span_start."""
    if not has_patterns:
        return CAUSAL, CAUSAL
    after_match = Lookahead("chars", 1, note="a match is known at the character after it")
    if confined:
        word = Lookahead("span", segment="word",
                         note="a lexicon match inside a word is known once the word and the character after it are seen")
        return word, after_match if whole_word else word
    if literals is not None and literals_never_extend(literals, ignore_case):
        longest = max(map(len, literals))
        return Lookahead("chars", longest, note=f"a match of up to {longest} characters is known after its end"), after_match
    unknown = Lookahead("unbounded", note="a lexicon pattern that can match outside a word lets a match depend on any later text")
    return unknown, unknown


def _label_lookahead(span_start: Lookahead, span_end: Lookahead, encoding: str) -> Lookahead:
    """Labels painted over a match need its span_start; a label on its last
    character needs its span_end; one on the character after it is causal
    once the end shows there."""
    if encoding == "after":
        return CAUSAL if span_end.covered_by_chars(1) else span_end
    return span_end if encoding == "end" else span_start


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

    sources, labels, in_word, needs, literals, ok = [], [], [], [], [], True
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
            literals.append(pattern.value if isinstance(pattern, Str) else None)
            labels.append(ids[entry.label.text])
            in_word.append(_stays_in_word(pattern, ignore_case))
            needs.append(_needed_text(pattern, ignore_case) if in_word[-1] else None)
    if not ok:
        return None

    # Name the patterns' groups apart from any group a pattern names itself.
    prefix = "lexicon_"
    while any(prefix in source for source in sources):
        prefix += "_"
    ignore_case_flag = regex.IGNORECASE if ignore_case else 0
    longest = opts["overlap"] == "longest"

    def combine(which: list[int], in_text: bool) -> Alternation:
        """These patterns as one alternation, in declared order. Over the text, whole_word guards it; word by word, a whole-word match is a
        fullmatch of the word, the same for both overlap policies (ties go to the
        first pattern). POSIX matching finds the longest match; of equal ones, the
        first alternative's."""
        alternation = "|".join(f"(?P<{prefix}{i}>{sources[i]})" for i in which) or "(?!)"
        flags = ignore_case_flag | (regex.POSIX if longest and (in_text or not whole_word) else 0)
        if whole_word and in_text:
            alternation = rf"(?<!\w)(?:{alternation})(?!\w)"
        elif whole_word:  # over words joined by newlines: a fullmatch of each
            alternation, flags = f"^(?:{alternation})$", flags | regex.MULTILINE
        compiled = regex.compile(alternation, flags)
        groups = [-1] * (compiled.groups + 1)
        for i in which:
            groups[compiled.groupindex[f"{prefix}{i}"]] = i
        return Alternation(compiled, tuple(groups))

    word_side = [i for i, stays in enumerate(in_word) if stays]
    text_side = [i for i, stays in enumerate(in_word) if not stays]
    # Word-confined patterns that need some text in any match are left out
    # when matching the words that lack all such texts (see _lexicon_scan).
    guarded = [i for i in word_side if needs[i]]
    try:
        word = combine(word_side, in_text=False) if word_side else None
        light = combine([i for i in word_side if not needs[i]], in_text=False) if guarded else None
        any_case = list(dict.fromkeys(regex.escape(needs[i][0]) for i in guarded if needs[i][1]))
        needs_any_case = regex.compile("|".join(any_case), regex.IGNORECASE) if any_case else None
        text = combine(text_side, in_text=True) if text_side else None
    except regex.error as err:
        ctx.error(node.loc, f"the patterns of lexicon '{node.name}' cannot be combined: {err}")
        return None

    confined = not text_side
    encoding = opts["encoding"]
    span_start, span_end = _span_facts(bool(sources), confined, whole_word,
                                       None if None in literals else literals, ignore_case)
    return LexiconAxis(
        name=node.name,
        labels=bio_labels(plain) if encoding == "bio" else plain,
        lookahead=_label_lookahead(span_start, span_end, encoding),
        span_start=span_start,
        span_end=span_end,
        has_spans=True,
        segment="word" if confined else None,
        pattern_labels=tuple(labels),
        word=word,
        text=text,
        word_needs=tuple(dict.fromkeys(needs[i][0] for i in guarded if not needs[i][1])),
        word_needs_any_case=needs_any_case,
        light=light,
        whole_word=whole_word,
        longest=longest,
        encoding=encoding,
        loc=node.loc,
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return True


def strategy(known, name: str, pieces):
    """Literal and regex patterns, each used once, mapped to labels, with
    any of the lexicon's options."""
    from hypothesis import strategies as st

    pattern = st.one_of(pieces.literal.map(nodes.Str), pieces.regex(pieces.match_patterns))

    @st.composite
    def build(draw):
        patterns = draw(st.lists(pattern, min_size=1, max_size=5, unique=True))
        cuts = sorted(draw(st.lists(st.integers(1, len(patterns)), max_size=2, unique=True)))
        entries = tuple(LexiconEntry(tuple(patterns[a:b]), nodes.Label(draw(pieces.label)))
                        for a, b in zip([0] + cuts, cuts + [len(patterns)]) if b > a)
        opts = draw(pieces.options(
            ("case", pieces.name_choice("sensitive", "insensitive")),
            ("whole_word", pieces.flag()),
            ("overlap", pieces.name_choice("priority", "longest")),
            ("encoding", pieces.name_choice(*ENCODINGS)),
        ))
        return LexiconDecl(name, opts, entries)

    return build()
