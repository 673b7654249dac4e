"""The formatter: parse(format(spec)) == spec, formatting is idempotent,
comments stay where they were (own line / trailing, same order), and the
layout is the documented canonical one. Also the public strategies of
grid_dsl.testing: generated specs are valid and texts cover the hard cases."""

import ast
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from axes._nltk import missing
from axes.base import kinds
from conftest import need_nltk
from grid_dsl import check, parse
from grid_dsl.language import nodes as n
from grid_dsl.language.formatter import KEYWORDS, format_spec, format_text, long_string, number, quote
from grid_dsl.language.parser import _lark
from grid_dsl.testing import spec_asts, specs, texts

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def comment_shape(spec: n.Spec) -> list[tuple[str, bool]]:
    return [(c.text, c.trailing) for c in spec.comments]


def number_types(spec: n.Spec) -> list[type]:
    """AST equality has 1 == 1.0; the checker does not (int options)."""
    return [type(node.value) for node in n.walk(spec.statements) if isinstance(node, n.Num)]


def assert_round_trip(spec: n.Spec) -> str:
    text = format_spec(spec)
    again = parse(text, "formatted.axes")
    assert again == spec, text
    assert number_types(again) == number_types(spec), text
    assert comment_shape(again) == comment_shape(spec), text
    assert format_spec(again) == text, "formatting is not idempotent"
    return text


# ------------------------------------------------------------ exact layout

MESSY = r"""# Header comment.
main chars   (normalize=nfc)   # unit

# Groups
group words=words
group sents = split /[.!?]/   within   words  # trailing
lexicon fairy(case=insensitive, whole_word,){
  # royals
  "king"|"queen"->ROYAL # royal
  /wi(tch|zard)\/s/i -> MAGIC
  # end of fairy
} # after fairy
rules shape { when char is upper -> CAP default -> OTHER }
relabel r=fairy{}
feed words as context
feed sents   as predict(weight=0.5)
# the end
"""

CANONICAL = r"""# Header comment.
main chars (normalize=nfc)  # unit

# Groups
group words = words
group sents = split /[.!?]/ within words  # trailing

lexicon fairy (case=insensitive, whole_word) {
    # royals
    "king" | "queen" -> ROYAL  # royal
    /wi(tch|zard)\/s/i -> MAGIC
    # end of fairy
}  # after fairy

rules shape {
    when char is upper -> CAP
    default -> OTHER
}

relabel r = fairy {}

feed words as context
feed sents as predict (weight=0.5)

# the end
"""


def test_a_messy_spec_gets_the_canonical_layout():
    assert format_text(MESSY) == CANONICAL
    assert format_text(CANONICAL) == CANONICAL
    assert parse(CANONICAL) == parse(MESSY)
    assert comment_shape(parse(CANONICAL)) == comment_shape(parse(MESSY))


def test_comments_are_placed_by_node_locations_when_the_source_is_gone():
    spec = attrs.evolve(parse(MESSY), source="")
    assert format_spec(spec) == CANONICAL


def test_comments_written_inside_one_line_constructs_move_before_them():
    source = (
        'lexicon x (a=1,  # in the options\n'
        '   b=2) {  # header\n'
        '  "a" |   # between patterns\n'
        '  "b" -> A  # after the entry\n'
        '  "c" -> "PRP$" "d" -> default  # two entries on a line\n'
        '}\n'
        'group w = words (   # opened\n'
        '  label=W)\n'
    )
    assert format_text(source) == (
        "# in the options\n"
        "lexicon x (a=1, b=2) {  # header\n"
        "    # between patterns\n"
        '    "a" | "b" -> A  # after the entry\n'
        '    "c" -> "PRP$"\n'
        '    "d" -> "default"  # two entries on a line\n'
        "}\n"
        "\n"
        "group w = words (label=W)  # opened\n"
    )
    # The order of the comments never changes.
    assert [c.text for c in parse(format_text(source)).comments] == [c.text for c in parse(source).comments]


def test_blank_lines_follow_sections_comments_and_blocks():
    source = "feed a as predict main chars group a = words lag b = a by 1 chars position c = a\n" \
             "lexicon d { \"x\" -> X } pos e feed b as context\n# about f\ngroup f = lines\n"
    assert format_text(source) == (
        "feed a as predict\n\nmain chars\n\ngroup a = words\nlag b = a by 1 chars\nposition c = a\n\n"
        'lexicon d {\n    "x" -> X\n}\n\npos e\n\nfeed b as context\n\n# about f\ngroup f = lines\n'
    )


def test_empty_and_comment_only_specs():
    assert format_text("") == ""
    assert format_text("  \n\n") == ""
    assert format_text("# only\n   # comments") == "# only\n# comments\n"
    assert format_text("lexicon x {} # c\n") == "lexicon x {}  # c\n"
    assert format_text("lexicon x { # c\n}\n") == "lexicon x {  # c\n}\n"
    assert format_text("lexicon x {\n# inside\n}\n") == "lexicon x {\n    # inside\n}\n"


def test_chunk_grammars_stay_verbatim_with_their_indentation():
    source = 'chunks np over upos within sents (loop=2) """\n    NP: {<DET>?<ADJ>*<NOUN>+}  # not a comment\n      }<VERB>{\n"""  # after\npos upos\n'
    formatted = format_text(source)
    assert formatted == (
        'chunks np over upos within sents (loop=2) """\n    NP: {<DET>?<ADJ>*<NOUN>+}  # not a comment\n'
        '      }<VERB>{\n"""  # after\n\npos upos\n'
    )
    assert [c.text for c in parse(formatted).comments] == ["# after"]
    # A grammar written as a "string" becomes a long string when it can.
    assert format_text(r'chunks c over t "NP: {<DT>}\n  VP: {<VB>}"') == 'chunks c over t """NP: {<DT>}\n  VP: {<VB>}"""\n'


# ------------------------------------------------------------ tricky values


@pytest.mark.parametrize("text", [
    "", 'say "hi"', "back\\slash", "a\nb\r\nc\td", "\x00\x1b\x7f", "naïve 日本 👨\u200d👩\u200d👧 e\u0301",
    "\u2028\u00a0\ufeff", "\ud800", "\\n literally", "'single'", '"""',
])
def test_strings_are_escaped_so_python_reads_them_back(text):
    literal = quote(text)
    assert ast.literal_eval(literal) == text
    assert "\n" not in literal and "\r" not in literal
    assert parse(f"include {literal}").statements[0].path.value == text


@pytest.mark.parametrize("value, written", [
    (0, "0"), (-2, "-2"), (10**30, "1" + "0" * 30), (1500.0, "1500.0"), (-0.5, "-0.5"), (1e-07, "1e-07"),
    (1e16, "1e+16"), (float("inf"), "1e999"), (float("-inf"), "-1e999"), (0.1 + 0.2, "0.30000000000000004"),
])
def test_numbers_are_written_so_they_parse_back_to_the_same_value_and_type(value, written):
    assert number(value) == written
    parsed = parse(f"pos p (k={written})").statements[0].options.items[0].value.value
    assert parsed == value and type(parsed) is type(value)


def test_labels_are_bare_only_when_the_grammar_reads_them_as_names():
    spec = n.Spec((n.RelabelDecl("r", n.Ref("x"), (
        n.RelabelEntry((n.Label("PRP$"), n.Label("."), n.Label("NOUN")), n.Label("default")),
        n.RelabelEntry((n.Label("when"), n.Label("B c"), n.Label("名詞"), n.Label("_x1")), n.Label("")),
    ), n.Default(n.Label("or"))),))
    text = assert_round_trip(spec)
    assert text == 'relabel r = x {\n    "PRP$" | "." | NOUN -> "default"\n' \
                   '    "when" | "B c" | "名詞" | _x1 -> ""\n    default -> "or"\n}\n'
    assert {"default", "or", "when", "words", "position", "in", "is", "chars"} <= KEYWORDS


def test_regexes_are_written_exactly_as_in_the_source():
    source = r'lexicon x { /a\/b[\/]+\\/ix | /\d+(?:\.\d+)?/ -> N }' + "\ngroup g = split /\\//\n"
    spec = parse(source)
    text = assert_round_trip(spec)
    assert r"/a\/b[\/]+\\/ix | /\d+(?:\.\d+)?/" in text and "split /\\//" in text


def test_long_strings_fall_back_to_quotes_when_they_cannot_be_verbatim():
    assert long_string("NP: {<DT>}\n") == '"""NP: {<DT>}\n"""'
    for text in ['ends with a quote"', "a lone backslash \\", 'three """ quotes']:
        written = long_string(text)
        assert written.startswith('"') and not written.startswith('"""')
        spec = n.Spec((n.ChunksDecl("c", n.Ref("t"), None, None, n.LongStr(text)),))
        assert_round_trip(spec)


def _t(subject: str) -> n.Test:
    return n.Test(n.AxisSubject(n.Ref(subject)), "==", n.Ident("X"))


A, B, C, D = (_t(x) for x in "abcd")


@pytest.mark.parametrize("condition, written", [
    (n.AllOf((n.AllOf((A, B)), C)), "(a == X and b == X) and c == X"),
    (n.AllOf((A, n.AllOf((B, C)))), "a == X and (b == X and c == X)"),
    (n.AnyOf((n.AnyOf((A, B)), C)), "(a == X or b == X) or c == X"),
    (n.AnyOf((n.AllOf((A, B)), n.AllOf((C, D)))), "a == X and b == X or c == X and d == X"),
    (n.AllOf((n.AnyOf((A, B)), n.AnyOf((C, D)))), "(a == X or b == X) and (c == X or d == X)"),
    (n.Not(n.Not(A)), "not not a == X"),
    (n.Not(n.AllOf((A, B))), "not (a == X and b == X)"),
    (n.AllOf((n.Not(A), n.Not(n.AnyOf((B, C))))), "not a == X and not (b == X or c == X)"),
    (n.AnyOf((n.Not(A), n.AllOf((n.Not(B), C)))), "not a == X or not b == X and c == X"),
])
def test_conditions_get_minimal_parentheses_and_keep_their_shape(condition, written):
    spec = n.Spec((n.RulesDecl("r", None, (n.Rule(condition, n.Label("Y")),)),))
    assert assert_round_trip(spec) == f"rules r {{\n    when {written} -> Y\n}}\n"


def test_every_subject_and_operand_form():
    source = ('rules r (window=4) { when char[-1] ~ /[a-z]/i and window(3) ~ /th$/ or position(words) >= 2 '
              'and not upos[-2] in [NOUN, "."] and char != -1.5 -> "A B"  default -> Z }')
    assert assert_round_trip(parse(source)) == (
        "rules r (window=4) {\n"
        '    when char[-1] ~ /[a-z]/i and window(3) ~ /th$/ or position(words) >= 2 and not upos[-2] in [NOUN, "."] '
        'and char != -1.5 -> "A B"\n'
        "    default -> Z\n}\n"
    )


def test_empty_options_and_bare_flags_are_kept():
    spec = parse("pos p ()\npos q (prefix, tagset=universal, name=\"x\", labels=[], n=3,)\n")
    assert assert_round_trip(spec) == 'pos p ()\npos q (prefix, tagset=universal, name="x", labels=[], n=3)\n'


def test_a_condition_that_the_grammar_cannot_write_is_refused():
    spec = n.Spec((n.RulesDecl("r", None, (n.Rule(n.AllOf((A,)), n.Label("Y")),)),))
    with pytest.raises(ValueError, match="at least two"):
        format_spec(spec)


# ------------------------------------------------------- shipped specs


SHIPPED = sorted(ROOT.glob("examples/**/*.axes")) + sorted(ROOT.glob("grid_dsl/**/*.axes"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_specs_round_trip(path):
    assert_round_trip(parse(path.read_text(encoding="utf-8"), str(path)))


# ----------------------------------------------------- any syntax (hypothesis)
# Statements of every kind with arbitrary values, checked or not: the
# formatter must round-trip the whole grammar, not only the valid specs.

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True).filter(lambda s: s not in KEYWORDS)
any_text = st.text(st.characters(exclude_categories=()) | st.sampled_from('"\\\n\r\t#/'), max_size=8)
labels = st.builds(n.Label, st.one_of(names, any_text, st.sampled_from(sorted(KEYWORDS))))
refs = st.builds(n.Ref, names)
regexes = st.builds(n.Regex, st.from_regex(r"(?:[^/\\\n]|\\[^\n])+", fullmatch=True),
                    st.from_regex(r"[imsx]{0,2}", fullmatch=True))
scalars = st.one_of(
    st.builds(n.Str, any_text),
    st.builds(n.Num, st.integers(-10**20, 10**20) | st.floats(allow_nan=False)),
    regexes,
    st.builds(n.Ident, names),
)
values = st.one_of(scalars, st.builds(n.ListValue, st.lists(scalars, max_size=3).map(tuple)))
option_lists = st.none() | st.builds(
    n.Options, st.lists(st.builds(n.Option, names, st.none() | values), max_size=3).map(tuple))
offsets = st.none() | st.builds(n.Offset, st.integers(-5, 5))
subjects = st.one_of(
    st.builds(n.CharSubject, offsets),
    st.builds(n.WindowSubject, st.integers(0, 99)),
    st.builds(n.ViewSubject, st.sampled_from(["position", "index", "depth"]), refs),
    st.builds(n.AxisSubject, refs, offsets),
)
tests = st.builds(n.Test, subjects, st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "~", "in", "is"]), values)
conditions = st.recursive(tests, lambda inner: st.one_of(
    st.builds(n.Not, inner),
    st.builds(n.AllOf, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    st.builds(n.AnyOf, st.lists(inner, min_size=2, max_size=3).map(tuple)),
), max_leaves=6)
defaults = st.none() | st.builds(n.Default, labels)
lines_of_text = st.lists(any_text, max_size=3).map("\n".join)
statements = st.one_of(
    st.builds(n.MainDecl, st.sampled_from(["chars", "bytes"]) | names, option_lists),
    st.builds(n.Include, st.builds(n.Str, any_text)),
    st.builds(n.Feed, refs, st.sampled_from(["context", "predict", "oracle"]) | names, option_lists),
    st.builds(n.GroupDecl, names, st.one_of(
        st.builds(n.Segment, st.sampled_from(["words", "tokens", "sentences", "paragraphs", "lines"])),
        st.builds(n.Segment, st.sampled_from(["matches", "split"]), regexes),
    ), st.none() | refs, option_lists),
    st.builds(n.ChunksDecl, names, refs, st.none() | refs, option_lists, st.builds(n.LongStr, lines_of_text)),
    st.builds(n.LexiconDecl, names, option_lists, st.lists(st.builds(
        n.LexiconEntry, st.lists(st.builds(n.Str, any_text) | regexes, min_size=1, max_size=3).map(tuple), labels,
    ), max_size=3).map(tuple)),
    st.builds(n.PosDecl, names, option_lists),
    st.builds(n.TaggerDecl, names, names, option_lists),
    st.builds(n.RulesDecl, names, option_lists, st.lists(st.builds(n.Rule, conditions, labels), max_size=3).map(tuple),
              defaults),
    st.builds(n.AnnotationDecl, names, option_lists),
    st.builds(n.RelabelDecl, names, refs, st.lists(st.builds(
        n.RelabelEntry, st.lists(labels, min_size=1, max_size=3).map(tuple), labels), max_size=3).map(tuple), defaults),
    st.builds(n.ProductDecl, names, refs, refs),
    st.builds(n.LagDecl, names, refs, st.integers(0, 10**6) | refs),
    st.builds(n.ViewDecl, st.sampled_from(["position", "index", "depth"]), names, refs, option_lists),
)
any_specs = st.builds(n.Spec, st.lists(statements, max_size=6).map(tuple))


@FAST
@given(any_specs)
def test_any_syntax_round_trips(spec):
    assert_round_trip(spec)


comment_texts = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12).map(
    lambda s: ("#" + s).rstrip())


@st.composite
def commented(draw, asts=any_specs):
    """Formatted spec text with comments added on their own lines before
    any line, at the end of any line of code, and at the end of the file
    (never inside a multi-line string)."""
    text = format_spec(draw(asts))
    lines = text.split("\n")[:-1] if text else []
    inside_token = set()  # boundaries between line k and k+1 that a token spans
    for token in _lark().lex(text):
        inside_token.update(range(token.line, token.end_line))
    out = []
    for number_, line in enumerate(lines, 1):
        if number_ - 1 not in inside_token and draw(st.integers(0, 3)) == 0:
            out.append(draw(comment_texts))
        if line.strip() and number_ not in inside_token and not line.lstrip().startswith("#") and draw(st.booleans()):
            line += " " * draw(st.integers(0, 2)) + draw(comment_texts)
        out.append(line)
    out.extend(draw(st.lists(comment_texts, max_size=2)))
    return "\n".join(out) + "\n"


def examples(strategy, count: int = 150) -> list:
    """`count` examples of a strategy, the same on every run (no shrinking)."""
    found = []

    @seed(20240601)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example):
        found.append(example)

    collect()
    return found


def test_the_comment_generator_writes_comments_of_every_kind():
    sources = examples(commented(), 100)
    shapes = {c.trailing for source in sources for c in parse(source).comments}
    assert shapes == {True, False}
    assert any("\n    #" in format_text(source) for source in sources)  # inside blocks too


@FAST
@given(commented())
def test_comments_keep_their_text_order_and_kind(source):
    spec = parse(source)
    text = assert_round_trip(spec)
    assert comment_shape(parse(text)) == comment_shape(spec)


# ------------------------------------------------------- public strategies


ALL_FAST_KINDS = dict(chunks=True, taggers=("char_class",))


@FAST
@given(spec_asts(**ALL_FAST_KINDS))
def test_generated_specs_pass_the_checker_and_round_trip(spec):
    plan = check(spec)
    assert 1 <= len(plan.axes) <= 5
    assert_round_trip(spec)


def test_generated_specs_with_nltk_kinds_pass_the_checker():
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")

    @FAST
    @given(spec_asts(nltk=True, **ALL_FAST_KINDS))
    def run(spec):
        check(spec)
        assert_round_trip(spec)

    run()


def test_the_generator_writes_every_registered_kind():
    nltk = not missing("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")
    # 400 specs: with 13 kinds drawn a few at a time, fewer can miss a rare one (chunks needs a grouping first)
    written = {type(s) for spec in examples(spec_asts(nltk=nltk, **ALL_FAST_KINDS), 400) for s in spec.statements}
    registered = set(kinds().values())
    if not nltk:
        registered.discard(n.PosDecl)
    assert registered | {n.MainDecl, n.Feed} <= written


@FAST
@given(commented(spec_asts(**ALL_FAST_KINDS)))
def test_generated_specs_keep_comments(source):
    assert_round_trip(parse(source))


@FAST
@given(specs())
def test_spec_text_is_canonical(text):
    assert format_text(text) == text
    check(parse(text))


@given(texts())
def test_texts_are_valid_unicode(text):
    assert isinstance(text, str)
    text.encode("utf-8")  # no lone surrogates


HARD_CASES = {
    "empty": lambda t: t == "",
    "whitespace only": lambda t: t != "" and t.isspace(),
    "CRLF": lambda t: "\r\n" in t,
    "combining mark": lambda t: "\u0301" in t,
    "emoji": lambda t: any(0x1F300 <= ord(c) <= 0x1FAFF for c in t),
    "mixed scripts": lambda t: any(c.isascii() and c.isalpha() for c in t) and any(not c.isascii() and c.isalpha() for c in t),
    "sentence punctuation": lambda t: "." in t and ("?" in t or "!" in t),
}


def test_texts_cover_the_hard_cases():
    sampled = examples(texts(), 300)
    missing_cases = [name for name, case in HARD_CASES.items() if not any(case(t) for t in sampled)]
    assert not missing_cases
