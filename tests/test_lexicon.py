"""Lexicon axes: exact streams, both matching paths against a plain
reference scan, declared causality against prefix stability, errors."""

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axes import _lexicon_scan as lexicon_scan
from axes import lexicon as lexicon_module
from grid_dsl import SpecError, compile_text, loads_spec
from grid_dsl.data.properties import assert_aligned, assert_deterministic, assert_well_formed
from grid_dsl.testing import texts

FAIRY = '"king" | "queen" -> ROYAL\n  /wol(f|ves)/ -> VILLAIN'
TEXT = "The king saw wolves; a wolf saw the queen"


def lexicon(entries: str, options: str = "", name: str = "lex") -> str:
    return f"lexicon {name} {f'({options})' if options else ''} {{\n  {entries}\n}}\n"


def compiled(entries: str, text: str, options: str = ""):
    return compile_text(loads_spec(lexicon(entries, options)), text)


def row(grid, name: str = "lex") -> str:
    """One character per position: '.' for no label, else the label's first
    letter; for B-/I- labels, 'B'/'I' (upper case for the first label of the
    vocabulary, lower case for the others)."""
    first = grid.vocab(name)[1][2:] if len(grid.vocab(name)) > 1 else None
    out = []
    for label in grid.labels(name):
        if label == "_":
            out.append(".")
        elif label[:2] in ("B-", "I-"):
            out.append(label[0] if label[2:] == first else label[0].lower())
        else:
            out.append(label[0])
    return "".join(out)


def matches(grid, name: str = "lex") -> list[tuple[str, str]]:
    spans = grid.spans(name)
    vocab = grid.vocab(name)
    return [(grid.text[s:e], vocab[label]) for s, e, label in zip(spans.start, spans.end, spans.label)]


# ------------------------------------------------------------- encodings

#                 The king saw wolves; a wolf saw the queen
SPAN_ROW = "....RRRR.....VVVVVV....VVVV.........RRRRR"


def test_span_encoding_labels_every_character_of_a_match():
    grid = compiled(FAIRY, TEXT)
    assert row(grid) == SPAN_ROW
    assert grid.vocab("lex") == ("_", "ROYAL", "VILLAIN")
    assert matches(grid) == [("king", "ROYAL"), ("wolves", "VILLAIN"), ("wolf", "VILLAIN"), ("queen", "ROYAL")]


def test_bio_encoding_and_its_spans():
    grid = compiled(FAIRY, TEXT, "encoding=bio")
    assert row(grid) == "....BIII.....biiiii....biii.........BIIII"
    assert grid.vocab("lex") == ("_", "B-ROYAL", "I-ROYAL", "B-VILLAIN", "I-VILLAIN")
    # span labels are the B- ids, so relabel/lag/views see one label per match
    assert [label for _, label in matches(grid)] == ["B-ROYAL", "B-VILLAIN", "B-VILLAIN", "B-ROYAL"]


def test_end_encoding_marks_the_last_character():
    grid = compiled(FAIRY, TEXT, "encoding=end")
    assert row(grid) == ".......R..........V.......V.............R"


def test_after_encoding_marks_the_next_character_and_drops_a_match_at_the_end():
    grid = compiled(FAIRY, TEXT, "encoding=after")
    assert row(grid) == "........R..........V.......V............."
    assert len(matches(grid)) == 4  # the spans keep the last match


# --------------------------------------------------- overlap, case, words


def test_the_then_priority_and_longest():
    text = "then the"
    priority = compiled('"the" -> THE\n  "then" -> THEN', text)
    longest = compiled('"the" -> THE\n  "then" -> THEN', text, "overlap=longest")
    assert matches(priority) == [("the", "THE"), ("the", "THE")]
    assert matches(longest) == [("then", "THEN"), ("the", "THE")]
    # ties go to the first declared pattern
    tie = compiled('/th\\w/ -> A\n  "the" -> B', text, "overlap=longest")
    assert matches(tie) == [("the", "A"), ("the", "A")]


def test_longest_counts_every_way_a_pattern_can_match():
    # /a|ab/ matches "a" in regex's own order, but "ab" is a way it can match
    grid = compiled('/a|ab/ -> X\n  "abc" -> Y', "ab abc", "overlap=longest")
    assert matches(grid) == [("ab", "X"), ("abc", "Y")]


def test_scan_is_leftmost_and_non_overlapping():
    grid = compiled('"ab" -> A\n  "bc" -> B', "abc bcab")
    assert matches(grid) == [("ab", "A"), ("bc", "B"), ("ab", "A")]


def test_case_option_and_per_pattern_flags():
    text = "King KING king Queen QUEEN"
    assert row(compiled('"king" -> R', text)) == "..........RRRR............"
    assert row(compiled('"king" -> R', text, "case=insensitive")) == "RRRR.RRRR.RRRR............"
    # /…/i ignores case for that pattern only; inline (?i) stays in its pattern
    grid = compiled('/king/i -> R\n  /(?i)q/ | "UEEN" -> Q', text)
    assert matches(grid) == [("King", "R"), ("KING", "R"), ("king", "R"), ("Q", "Q"), ("Q", "Q"), ("UEEN", "Q")]


def test_whole_word():
    text = "king kingdom viking king_x king."
    assert matches(compiled('"king" -> K', text)) == [("king", "K")] * 5
    assert compiled('"king" -> K', text, "whole_word").spans("lex").start.tolist() == [0, 27]
    # a whole-word match backtracks inside its pattern to end at the word's end
    assert matches(compiled("/kin\\w*?/ -> K", "kings", "whole_word")) == [("kings", "K")]


def test_dot_all_multiline_and_verbose_flags():
    text = "a\nb ab\nx"
    assert matches(compiled("/a.b/s -> S", text)) == [("a\nb", "S")]
    assert matches(compiled("/a.b/ -> S", text)) == []
    assert matches(compiled("/^x/m -> M", text)) == [("x", "M")]
    assert matches(compiled("/^x/ -> M", text)) == []
    assert matches(compiled("/a b  # a comment/x -> V", text)) == [("ab", "V")]


def test_no_label_entries_block_matches_without_labelling():
    grid = compiled('"then" -> _\n  "the" -> THE', "then the")
    assert matches(grid) == [("the", "THE")]
    assert grid.vocab("lex") == ("_", "THE")


def test_groups_inside_patterns_keep_their_own_numbering():
    # named groups and backreferences work; the label is the pattern's
    grid = compiled("/(?P<c>[a-z])(?P=c)/ -> DOUBLE\n  /(x)(y)?/ -> XY", "book xy x")
    assert matches(grid) == [("oo", "DOUBLE"), ("xy", "XY"), ("x", "XY")]


def test_lexicon_spans_feed_lags_and_views():
    spec = lexicon(FAIRY) + "group w = words\nlag prev = lex after w\nposition pos = lex (max=8)\n"
    grid = compile_text(loads_spec(spec), "a king sat")
    assert grid.labels("prev")[6:] == ["ROYAL", "ROYAL", "ROYAL", "ROYAL"]
    assert grid.labels("pos")[2:6] == ["0", "1", "2", "3"]


# ----------------------------------------------------- declared causality


def test_declared_lookahead():
    def axis(entries, options=""):
        return loads_spec(lexicon(entries, options)).axis("lex")

    causal = axis(FAIRY, "whole_word, encoding=after")
    assert causal.causal and causal.per_word and causal.segment == "word"
    for options in ("encoding=after", "whole_word", "whole_word, encoding=bio"):
        word = axis(FAIRY, options)
        assert (word.lookahead.kind, word.lookahead.segment) == ("span", "word"), options
    # a whole-word match's last character is labelled once the next one is seen
    end = axis(FAIRY, "whole_word, encoding=end").lookahead
    assert (end.kind, end.n) == ("chars", 1)
    for entries in ('"a b" -> X  "a" -> Y', "/\\S+/ -> X", "/^a/m -> X", "/(?<=a)b/ -> X", "/a$/ -> X"):
        unbounded = axis(entries, "whole_word, encoding=after")
        assert unbounded.lookahead.kind == "unbounded" and not unbounded.per_word, entries
    # literals that never run on past one another: causal with encoding=after
    assert axis('"a b" -> X', "whole_word, encoding=after").causal
    # the labels are causal; the spans are the matched words: known at their end
    assert causal.boundary_causal and not causal.start_causal
    empty = loads_spec("lexicon lex {}")
    assert empty.axis("lex").causal and compile_text(empty, "a b").ids("lex").tolist() == [0, 0, 0]


def test_context_mode_needs_the_causal_form():
    with pytest.raises(SpecError, match="context mode needs a causal axis"):
        loads_spec(lexicon(FAIRY, "encoding=after") + "feed lex as context")
    loads_spec(lexicon(FAIRY, "whole_word, encoding=after") + "feed lex as context")
    lagged = loads_spec(lexicon(FAIRY) + "group w = words\nlag prev = lex after w\nfeed prev as context")
    assert lagged.axis("prev").causal


def prefix_mismatches(plan, text: str) -> list[tuple[str, int, int]]:
    """(axis, cut, position) where a prefix's compilation differs from the whole text's."""
    whole = compile_text(plan, text)
    out = []
    for cut in range(1, len(whole.text)):
        part = compile_text(plan, whole.text[:cut])
        for axis in plan.axes:
            diff = np.flatnonzero(part.ids(axis.name) != whole.ids(axis.name)[:cut])
            out.extend((axis.name, cut, int(p)) for p in diff[:1])
    return out


def test_the_boundary_leak_is_real():
    # the label at a word's last character tells that the word ends there
    plan = loads_spec(lexicon('"the" -> THE', "whole_word, encoding=end"))
    assert not plan.axis("lex").causal
    assert ("lex", 3, 2) in prefix_mismatches(plan, "then")
    # without whole_word, a label after a match is not final either: in
    # "ther" the match is "the" (label on "r"), in "there" it is "there"
    plan = loads_spec(lexicon('"the" -> THE\n  "there" -> THERE', "overlap=longest, encoding=after"))
    assert not plan.axis("lex").causal
    assert ("lex", 4, 3) in prefix_mismatches(plan, "there")


# ------------------------------------------------- reference scan (hypothesis)

WORD_TEXT = st.lists(
    st.sampled_from(["the", "then", "thing", "ab", "abc", "aab", "ing", "bee", "É", "été", "ß", "STRASSE", "x1", "_a",
                     "  ", " ", ".", "!", "\n", "a.b", "ab!"]),
    max_size=12,
).map("".join)
# Word-confined patterns (the fast path), as (source, flags): regexes, and literals (flags None).
CONFINED = [("the", None), ("then", None), ("ing", None), ("ab", None), ("é", None), ("ss", None),
            (r"th\w*", ""), (r"[a-c]+", ""), (r"e+", ""), (r"\w+ing", ""), (r"a|ab", ""), (r"ab|a", ""),
            (r"(?:ab)+", ""), (r"[aeiou]\w", ""), (r"\d+", ""), (r"\w", ""), (r"t(h)?e", ""), (r"(?P<x>a)b?", ""),
            (r"(?i:th)en", ""), (r"(?i)ab", ""), (r"\w+?e", ""), (r"n\w{0,2}", ""), (r"t h e", "x"), (r"E", "i"),
            (r"\bthe", ""), (r"he\b", ""), (r"\Bn", ""), (r"(a)(b)?", "")]
# Patterns that can reach outside a word (the general path).
GENERAL = [("a b", None), ("b!", None), (r"\S+", ""), (r"[.!]+", ""), (r"\w+\.", ""), (r"e.", "s"), (r"(b)(\W)?", ""),
           (r"^t", "m"), (r"\.\w", ""), (r"[^a]b", ""), (r"(?<=t)he", "")]
# Constructs that look past a match's end (a brute-force longest-match
# reference built on fullmatch(text, pos, end) cannot see past `end`).
LOOKS_PAST_END = (r"\b", r"\B")


def reference(patterns, labels, text: str, ignore_case: bool, whole_word: bool, longest: bool):
    """The scan done plainly: at each position try every pattern on its own,
    in declared order (priority) or for every possible end (longest)."""
    base = regex.IGNORECASE if ignore_case else 0
    compiled = []
    for source, flags in patterns:
        flag_bits = base | sum(regex.RegexFlag[{"i": "I", "m": "M", "s": "S", "x": "X"}[f]] for f in flags or "")
        compiled.append(regex.compile(regex.escape(source) if flags is None else source, flag_bits))

    def boundary_ok(s: int, e: int) -> bool:
        word = lambda i: 0 <= i < len(text) and regex.match(r"\w", text[i]) is not None  # noqa: E731
        return not whole_word or (not word(s - 1) and not word(e))

    found, pos = [], 0
    while pos < len(text):
        best = None
        if longest:
            for end in range(len(text), pos, -1):
                hit = next((i for i, p in enumerate(compiled) if p.fullmatch(text, pos, end) and boundary_ok(pos, end)), None)
                if hit is not None:
                    best = (pos, end, hit)
                    break
        else:
            for i, p in enumerate(compiled):
                wrapped = regex.compile(rf"(?<!\w)(?:{p.pattern})(?!\w)", p.flags) if whole_word else p
                m = wrapped.match(text, pos)
                if m and m.end() > pos:
                    best = (pos, m.end(), i)
                    break
        if best is None:
            pos += 1
        else:
            found.append((best[0], best[1], labels[best[2]]))
            pos = best[1]
    return found


@st.composite
def lexicon_cases(draw, pool):
    patterns = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6, unique=True))
    longest = draw(st.booleans())
    if longest:
        patterns = [p for p in patterns if not any(c in p[0] for c in LOOKS_PAST_END)] or [("the", None)]
    labels = [draw(st.sampled_from(["A", "B", "C"])) for _ in patterns]
    options = {"ignore_case": draw(st.booleans()), "whole_word": draw(st.booleans()), "longest": longest}
    return patterns, labels, options


def spec_for(patterns, labels, options) -> str:
    def written(source, flags):
        return '"' + source.replace("\\", "\\\\").replace('"', '\\"') + '"' if flags is None else f"/{source}/{flags}"

    entries = "\n  ".join(f"{written(*p)} -> {label}" for p, label in zip(patterns, labels))
    opts = ", ".join(
        [f"case={'insensitive' if options['ignore_case'] else 'sensitive'}",
         f"overlap={'longest' if options['longest'] else 'priority'}"] + (["whole_word"] if options["whole_word"] else [])
    )
    return lexicon(entries, opts)


def check_against_reference(case, text: str, per_word: bool) -> None:
    patterns, labels, options = case
    plan = loads_spec(spec_for(patterns, labels, options))
    assert plan.axis("lex").per_word is per_word
    grid = compile_text(plan, text)
    expected = reference(patterns, labels, grid.text, **options)
    assert [(s, e, label) for (s, e), (_, label) in zip(
        zip(grid.spans("lex").start.tolist(), grid.spans("lex").end.tolist()), matches(grid))] == expected
    ids = np.zeros(len(grid.text), dtype=np.int32)
    for s, e, label in expected:
        ids[s:e] = grid.vocab("lex").index(label)
    assert grid.ids("lex").tolist() == ids.tolist()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lexicon_cases(CONFINED), WORD_TEXT)
def test_word_by_word_path_equals_the_reference_scan(case, text):
    check_against_reference(case, text, per_word=True)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lexicon_cases(CONFINED + GENERAL).filter(lambda c: any(p in GENERAL for p in c[0])), WORD_TEXT)
def test_general_path_equals_the_reference_scan(case, text):
    check_against_reference(case, text, per_word=False)


@settings(max_examples=60, deadline=None)
@given(lexicon_cases(CONFINED + GENERAL).filter(lambda c: any(p in GENERAL for p in c[0])), WORD_TEXT)
def test_general_path_restarts_its_scan_without_changing_it(case, text):
    original = lexicon_module.SCAN_CHUNK
    lexicon_module.SCAN_CHUNK = 2
    try:
        check_against_reference(case, text, per_word=False)
    finally:
        lexicon_module.SCAN_CHUNK = original


def test_word_cache_is_reused_and_bounded(monkeypatch):
    plan = loads_spec(lexicon(FAIRY))
    axis = plan.axis("lex")
    first = compile_text(plan, TEXT)
    assert axis.word_cache["wolves"] == ((0, 6, 2),)
    assert compile_text(plan, TEXT) == first
    monkeypatch.setattr(lexicon_module, "CACHE_LIMIT", 3)
    assert compile_text(plan, "one two three four five king") .labels("lex")[-4:] == ["ROYAL"] * 4
    assert len(axis.word_cache) <= 3


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lexicon_cases(CONFINED), WORD_TEXT, st.sampled_from(["span", "bio", "end"]))
def test_declared_causal_lexicons_are_prefix_stable(case, text, encoding):
    patterns, labels, options = case
    causal = spec_for(patterns, labels, dict(options, whole_word=True)).replace(")", ", encoding=after)", 1)
    lagged = (spec_for(patterns, labels, options).replace(")", f", encoding={encoding})", 1)
              + "group w = words\nlag prev = lex after w\n")
    for spec in (causal, lagged):
        plan = loads_spec(spec)
        declared = [axis.name for axis in plan.axes if axis.causal]
        assert declared == (["lex"] if spec is causal else ["w", "prev"])
        assert [m for m in prefix_mismatches(plan, text) if m[0] in declared] == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lexicon_cases(CONFINED + GENERAL), texts(max_pieces=12), st.sampled_from(["span", "bio", "end", "after"]))
def test_alignment_properties_on_any_text(case, text, encoding):
    patterns, labels, options = case
    plan = loads_spec(spec_for(patterns, labels, options).replace(")", f", encoding={encoding})", 1))
    grid = compile_text(plan, text)
    assert_aligned(grid)
    assert_well_formed(grid)
    assert_deterministic(plan, text)
    if plan.axis("lex").causal:
        assert prefix_mismatches(plan, text) == []


# ------------------------------------------------------------------ errors


def error(spec: str):
    with pytest.raises(SpecError) as info:
        loads_spec(spec)
    return info.value.diagnostics


def where(diagnostic) -> tuple[int, int]:
    return diagnostic.loc.line, diagnostic.loc.column


def test_invalid_regex_is_located_inside_the_pattern():
    source = 'lexicon x {\n  "a" | /ab)c/ -> A\n}'
    [d] = error(source)
    assert d.message == "invalid regular expression: unbalanced parenthesis"
    assert where(d) == (2, 12)  # the ')': column of the opening '/' (9) + 1 + its offset (2)
    assert str(SpecError([d], {"<spec>": source})).splitlines()[1:3] == ['      "a" | /ab)c/ -> A', "               ^"]


def test_patterns_that_match_the_empty_string_are_errors():
    diagnostics = error('lexicon x {\n  /ab*/ | /x*/ -> A\n  "" -> B\n  /(?:)/ -> C\n}')
    assert [(d.message, where(d)) for d in diagnostics] == [
        ("this pattern can match the empty string", (2, 11)),
        ("an empty string matches everywhere", (3, 3)),
        ("this pattern can match the empty string", (4, 3)),
    ]
    assert "+ instead of *" in diagnostics[0].hint


def test_numbered_references_and_global_flags_are_errors():
    [ref] = error("lexicon x {\n  /(a)b\\1/ -> A\n}")
    assert "numbered group references" in ref.message and where(ref) == (2, 8)
    assert "(?P<x>" in ref.hint
    [flag] = error("lexicon x {\n  /(?r)ab/ -> A\n}")
    assert "sets a flag for the whole lexicon" in flag.message and where(flag) == (2, 3)
    [comment] = error("lexicon x {\n  /(?x)a # comment/ -> A\n}")
    assert "cannot be combined" in comment.message and "/…/x" in comment.hint
    loads_spec("lexicon x {\n  /a # comment/x -> A\n}")


def test_unknown_option_and_bad_values():
    unknown, bad = error('lexicon x (whole_wrd, overlap=shortest) {\n  "a" -> A\n}')
    assert unknown.message == "unknown option 'whole_wrd'" and unknown.hint == "did you mean 'whole_word'?"
    assert where(unknown) == (1, 12)
    assert bad.message == "option 'overlap': expected one of priority, longest, not 'shortest'" and where(bad) == (1, 31)
    [encoding] = error('lexicon x (encoding=start) { "a" -> A }')
    assert "expected one of span, bio, end, after" in encoding.message


@pytest.mark.parametrize("extra", ["", '\n  " " -> SPACE'], ids=["word-by-word", "general"])
def test_catastrophic_pattern_times_out_with_a_location(monkeypatch, extra):
    monkeypatch.setenv("MULTIGRID_REGEX_TIMEOUT", "0.02")
    plan = loads_spec("# slow\nlexicon slow {\n  /(a|aa)+b/ -> S" + extra + "\n}\n")
    assert plan.axis("slow").per_word is (extra == "")
    with pytest.raises(SpecError) as info:
        compile_text(plan, "a" * 40 + "c")
    [d] = info.value.diagnostics
    assert d.message == "a pattern of axis 'slow' took more than 0.02 s to match"
    assert where(d) == (2, 1)


# ------------------------------- word-confined and other patterns together
#
# A lexicon with both kinds matches the word-confined patterns word by word,
# the others over the text, and merges the two scans (axes/_lexicon_scan.py).
# These tests hold the merge to the scan's definition: one finditer over the
# alternation of all the patterns, which is how every such lexicon was
# matched before the split.


def one_pass_scan(patterns, labels, text: str, ignore_case: bool, whole_word: bool, longest: bool):
    """The scan by its definition: one finditer over the alternation of all
    the patterns, each in its own group and with its own flags."""
    sources = []
    for source, flags in patterns:
        if flags is None:
            sources.append(regex.escape(source))
        else:
            letters = "".join(sorted(set(flags)))
            sources.append(f"(?{letters}:{source}{chr(10) if 'x' in letters else ''})")
    alternation = "|".join(f"(?P<p{i}>{source})" for i, source in enumerate(sources))
    if whole_word:
        alternation = rf"(?<!\w)(?:{alternation})(?!\w)"
    combined = regex.compile(alternation, (regex.IGNORECASE if ignore_case else 0) | (regex.POSIX if longest else 0))
    return [(m.start(), m.end(), labels[int(m.lastgroup[1:])]) for m in combined.finditer(text)]


def encoded(expected, n: int, vocab, encoding: str) -> list[int]:
    """The ids an encoding gives to these (start, end, label) matches."""
    ids = [0] * n
    for s, e, label in expected:
        if encoding == "span":
            ids[s:e] = [vocab.index(label)] * (e - s)
        elif encoding == "bio":
            ids[s:e] = [vocab.index(f"B-{label}")] + [vocab.index(f"I-{label}")] * (e - s - 1)
        elif encoding == "end":
            ids[e - 1] = vocab.index(label)
        elif e < n:
            ids[e] = vocab.index(label)
    return ids


# Patterns that reach across words and overlap word matches, so the two
# scans meet often: a match of one starting inside, or at, one of the other's.
# Those that end inside a word resume the scan where the word-by-word scan did not stand.
CROSSING = [("the a", None), ("e t", None), ("e th", None), (r"\w+ \w+", ""), (r"n\W+t", ""), (r"[a-z]+[.!]", ""),
            (r"h\w*\s", ""), (r"\w\.\w", ""), (r"b\W*a", "i"), (r"(?<=\w)\s\w", ""), (r"\s\w", ""), (r"\w+(?=!)", "")]
# Word-confined patterns that match often in DENSE_TEXT, at a word's start and inside it.
FREQUENT = [("the", None), ("he", None), (r"th\w*", ""), (r"\w", ""), (r"e+", ""), (r"[a-c]+", ""), (r"t(h)?e", ""),
            (r"\Bn", ""), (r"he\b", ""), (r"h\w", ""), (r"\w?he", ""), (r"[a-z]*en", ""), (r"\w+ab\w*", "")]
DENSE_TEXT = st.lists(
    st.tuples(st.sampled_from(["the", "then", "a", "ab", "abc", "b", "t", "he", "ing", "É", "été", "ß", "x1", "THE", "Then",
                               "ING"]),
              st.sampled_from([" ", " ", " ", "", ".", "!", "\n", ". "])),
    min_size=2, max_size=10,
).map(lambda pieces: "".join(word + sep for word, sep in pieces))


@st.composite
def mixed_cases(draw):
    """Lexicons with both word-confined and other patterns, any options."""
    confined = draw(st.lists(st.sampled_from(FREQUENT) | st.sampled_from(CONFINED), min_size=1, max_size=4, unique=True))
    others = draw(st.lists(st.sampled_from(CROSSING) | st.sampled_from(GENERAL), min_size=1, max_size=3, unique=True))
    patterns = draw(st.permutations(confined + others))
    labels = [draw(st.sampled_from(["A", "B", "C", "_"])) for _ in patterns]
    options = {"ignore_case": draw(st.booleans()), "whole_word": draw(st.booleans()), "longest": draw(st.booleans())}
    return patterns, labels, options


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_cases(), DENSE_TEXT, st.sampled_from(["span", "bio", "end", "after"]),
       st.sampled_from([1, 3, 100_000]), st.sampled_from([0, 2, 16]))
def test_merged_scans_equal_one_pass_over_all_patterns(case, text, encoding, chunk, stretch):
    patterns, labels, options = case
    spec = spec_for(patterns, labels, options).replace(")", f", encoding={encoding})", 1)
    originals = lexicon_module.SCAN_CHUNK, lexicon_scan.SHORT_STRETCH
    lexicon_module.SCAN_CHUNK = chunk  # batches of words and stretches of text, down to one character
    lexicon_scan.SHORT_STRETCH = stretch  # 0: always search from inside a match of the other patterns
    try:
        plan = loads_spec(spec)
        axis = plan.axis("lex")
        assert axis.word is not None and axis.text is not None and not axis.per_word
        grid = compile_text(plan, text)
        again = compile_text(plan, text)  # with the word cache filled
    finally:
        lexicon_module.SCAN_CHUNK, lexicon_scan.SHORT_STRETCH = originals
    expected = [m for m in one_pass_scan(patterns, labels, grid.text, **options) if m[2] != "_"]
    vocab = grid.vocab("lex")
    first = {"span": "", "bio": "B-", "end": "", "after": ""}[encoding]
    assert [(s, e, vocab[label]) for s, e, label in zip(
        grid.spans("lex").start.tolist(), grid.spans("lex").end.tolist(), grid.spans("lex").label.tolist())] == [
        (s, e, first + label) for s, e, label in expected]
    assert grid.ids("lex").tolist() == encoded(expected, len(grid.text), vocab, encoding)
    assert again == grid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lexicon_cases(CONFINED + FREQUENT), DENSE_TEXT | WORD_TEXT, st.sampled_from([1, 4, 100_000]))
def test_words_matched_in_batches_equal_one_pass(case, text, chunk):
    # word-confined lexicons, \b and \B under overlap=longest included, and
    # patterns left out for words without a text they need (\w+ing, \w?he, ...)
    patterns, labels, options = case
    original = lexicon_module.SCAN_CHUNK
    lexicon_module.SCAN_CHUNK = chunk
    try:
        grid = compile_text(loads_spec(spec_for(patterns, labels, options)), text)
    finally:
        lexicon_module.SCAN_CHUNK = original
    assert grid.spans("lex").start.tolist() == [s for s, _, _ in one_pass_scan(patterns, labels, grid.text, **options)]
    assert matches(grid) == [(grid.text[s:e], label) for s, e, label in one_pass_scan(patterns, labels, grid.text, **options)]


def test_a_phrase_and_word_patterns_share_the_scan():
    entries = '"upon" -> U\n  "once upon a time" -> PHRASE\n  /on\\w+/ -> ON'
    text = "once upon a time upon"
    assert matches(compiled(entries, text)) == [("once upon a time", "PHRASE"), ("upon", "U")]
    # declared first, the word pattern takes "once"; the scan goes on inside the phrase
    first = compiled('/on\\w+/ -> ON\n  "once upon a time" -> PHRASE\n  "upon" -> U', text)
    assert matches(first) == [("once", "ON"), ("upon", "U"), ("upon", "U")]
    # longest: the phrase is longer than "once"
    assert matches(compiled('/on\\w+/ -> ON\n  "once upon a time" -> PHRASE', text, "overlap=longest")) == [
        ("once upon a time", "PHRASE")]


def test_a_match_over_the_text_can_end_inside_a_word():
    # "e u" ends inside "upon": the scan resumes at "pon", where /po\w/ matches
    # though the word-by-word scan of "upon" found "upon" only
    grid = compiled('"e u" -> EU\n  "upon" -> UPON\n  /po\\w/ -> PO', "once upon")
    assert matches(grid) == [("e u", "EU"), ("pon", "PO")]
    assert matches(compiled('"upon" -> UPON\n  /po\\w/ -> PO', "once upon")) == [("upon", "UPON")]


def test_the_scan_finds_a_match_over_the_text_inside_one_it_skipped():
    # over the text alone, /\w+ \w+/ takes "ab then"; once "ab" is taken, the
    # scan goes on from the space and finds "then a", which starts inside it
    grid = compiled('"ab" -> AB\n  /\\w+ \\w+/ -> PAIR', "ab then a")
    assert matches(grid) == [("ab", "AB"), ("then a", "PAIR")]


def test_patterns_that_need_a_text_are_left_out_for_words_without_it():
    axis = loads_spec(lexicon('/\\w+ness/ -> N\n  /(?i:k)ind/ | /[a-z]*en/ | /x\\w+ness/ -> K\n  /\\w+ly/i -> L')).axis("lex")
    # those that start with a literal are always tried; the text is looked
    # for ignoring case where the pattern does (a scoped (?i:...) does not
    # reach the rest of its pattern)
    assert axis.word_needs == ("ness", "ind", "en") and axis.word_needs_any_case.pattern == "ly"
    grid = compile_text(loads_spec(lexicon('/\\w+ness/ -> N\n  /[a-z]*en/ -> E\n  "kind" -> K')),
                        "kindness kind kindly kittens")
    assert matches(grid) == [("kindness", "N"), ("kind", "K"), ("kind", "K"), ("kitten", "E")]
    grid = compile_text(loads_spec(lexicon('/\\w+ness/ -> N\n  /[a-z]*EN/i -> E', "case=insensitive")), "KINDNESS KITTENS")
    assert matches(grid) == [("KINDNESS", "N"), ("KITTEN", "E")]
