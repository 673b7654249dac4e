"""Rule axes (decision lists): exact streams for every kind of test, the
vectorised evaluation against a slow per-position reference, declared
causality against prefix stability, and located errors."""

import types

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axes.base import CAUSAL, Document, Lookahead
from axes._conditions import shifted, windows
from axes.rules import _shifted_lookahead
from grid_dsl import SpecError, compile_text, loads_spec, parse
from grid_dsl.language import nodes
from grid_dsl.data.causality import prefix_violations
from grid_dsl.testing import texts


def labels(spec: str, text: str, name: str = "r", annotations=None) -> list[str]:
    return compile_text(loads_spec(spec), text, annotations).labels(name)


def axis(spec_or_plan, name: str = "r"):
    plan = loads_spec(spec_or_plan) if isinstance(spec_or_plan, str) else spec_or_plan
    return {a.name: a for a in plan.axes}[name]


def marked(spec: str, text: str, label: str = "X") -> str:
    """The text with every character that axis r does not label `label` shown as '.'."""
    return "".join(c if lab == label else "." for c, lab in zip(text, labels(spec, text)))


# ------------------------------------------------------------- exact streams


def test_the_decision_list_takes_the_first_rule_that_holds():
    spec = 'rules r { when char is upper -> UP  when char is letter -> LET  when char == "A" -> NEVER  default -> OTHER }'
    assert labels(spec, "Ab1") == ["UP", "LET", "OTHER"]
    assert axis(spec).labels == ("UP", "LET", "NEVER", "OTHER")


def test_no_default_means_no_label_and_underscore_means_no_label():
    assert labels('rules r { when char is digit -> D }', "a1") == ["_", "D"]
    spec = 'rules r { when char is space -> _  when char is letter or char is space -> L  default -> L }'
    plan = loads_spec(spec)
    assert axis(plan).labels == ("L",)  # repeated labels once, `_` never
    assert compile_text(plan, "a b.").labels("r") == ["L", "_", "L", "L"]


def test_fired_gives_the_index_of_the_rule_that_decided():
    plan = loads_spec('rules r { when char is digit -> D  when char is letter -> L }')
    assert axis(plan).fired(Document("a1-"), {}).tolist() == [1, 0, 2]


def test_char_operators_and_offsets():
    text = "quest, aqua"
    assert marked('rules r { when char == "u" -> X }', text) == ".u.......u."
    assert marked('rules r { when char != "u" -> X }', text) == "q.est, aq.a"
    assert marked('rules r { when char in "aeiou" -> X }', text) == ".ue....a.ua"
    assert marked('rules r { when char in ["q", ","] -> X }', text) == "q....,..q.."
    assert marked('rules r { when char[-1] == "q" -> X }', text) == ".u.......u."
    assert marked('rules r { when char[+1] == "q" -> X }', text) == "." * 7 + "a" + "." * 3
    assert marked('rules r { when char[1] == "q" -> X }', text) == "." * 7 + "a" + "." * 3
    assert marked('rules r { when char[-2] in "qa" -> X }', text) == "..e" + "." * 6 + "ua"
    assert marked('rules r { when char == "\\n" or char in ["\\"", "\\\\"] -> X }', 'a\n"\\b') == '.\n"\\.'


def test_outside_the_text_every_char_test_is_false_even_not_equal():
    assert marked('rules r { when char[-1] != "x" -> X }', "abc") == ".bc"
    assert marked('rules r { when char[+1] != "x" -> X }', "abc") == "ab."
    assert marked('rules r { when not char[-1] is letter -> X }', "ab c") == "a..c"
    assert marked('rules r { when char[-9] is letter or char[9] is letter -> X }', "abc") == "..."


@pytest.mark.parametrize("name, members, others", [
    ("letter", "aZéßǅ日ʰ", "1_ -\u0301٣"),
    ("upper", "AZÉΔ", "aǅ1 ß"),  # titlecase ǅ is neither upper nor lower
    ("lower", "azéßδ", "AǅZ1 "),
    ("digit", "09٣४", "a½Ⅻ "),  # Nd only: not ½ (No) or Ⅻ (Nl)
    ("alnum", "a9Z٣é", "_ .½\u0301"),
    ("word", "a9_é\u0301Ⅻ", " .-—½"),  # \w of `regex`: marks, Nl numbers, connectors; not ½ (No)
    ("space", " \t\n\r\u00a0\u2028\u3000\x0b", "a_\u200b"),
    ("newline", "\n\r\x0b\x0c\x85\u2028\u2029", " \t\u00a0a"),
    ("punct", ".,!?-—“”()¿_", "a$+ €"),
    ("symbol", "$+€©^`", "a.,_ "),
    ("vowel", "aeiouAEIOU", "yéYb "),
    ("consonant", "bcdyzBCDYZ", "aeéñß1 "),
])
def test_character_classes(name, members, others):
    text = members + others
    assert marked(f"rules r {{ when char is {name} -> X }}", text) == members + "." * len(others)


def test_window_searches_the_last_n_characters():
    text = "the cat the"
    assert marked("rules r { when window(4) ~ /the $/ -> X }", text) == "... " + "." * 7
    assert marked("rules r { when window(4) ~ /the/ -> X }", text) == "..e " + "." * 6 + "e"
    # ^ and $ are the window's edges; at the start of the text the window is shorter.
    assert marked("rules r { when window(3) ~ /^t/ -> X }", text) == "the.....t.e"
    assert marked("rules r { when window(2) ~ /^.$/ -> X }", text) == "t" + "." * 10
    assert marked("rules r { when window(1) ~ /[a-c]/ -> X }", text) == "....ca" + "." * 5
    assert marked("rules r { when window(3) ~ /E\\s/i -> X }", "he xy") == ".. x."


def test_axis_tests_read_labels_at_offsets_and_are_false_outside_the_text():
    spec = "group w = words\nrules r { when w == WORD and w[-1] == _ -> START  when w[+1] == _ and w != _ -> END  default -> O }"
    assert labels(spec, "ab c") == ["O", "END", "O", "START"]  # w[-1] at 0 is outside: not even `_`
    roles = "annotation role (labels=[HERO, VILLAIN])\n"
    spec = roles + "rules r { when role[-2] in [HERO, _] -> X }"
    grid = compile_text(loads_spec(spec), "abcdef", {"role": [(1, 3, "HERO"), (3, 5, "VILLAIN")]})
    # role: _ H H V V _ ; role[-2] at t: (outside) (outside) _ H H V
    assert grid.labels("r") == ["_", "_", "X", "X", "X", "_"]


def test_view_tests_compare_uncapped_values_and_are_false_outside_spans():
    text = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq r. s t."
    spec = "group w = words\nrules r { when position(w) >= 40 -> FAR  when position(w) != 0 -> IN  default -> O }"
    got = labels(spec, text)
    assert got[:43] == ["O"] + ["IN"] * 39 + ["FAR"] * 3  # far beyond the `max` of a position axis
    assert got[43:46] == ["O", "O", "O"]  # space: no position, so even `!= 0` is false; r: position 0; '.'

    spec = ("group s = split /[.]/\ngroup w = words within s\n"
            "rules r { when index(w) == 1 -> SECOND  when depth(w) == 2 -> DEEP }")
    assert labels(spec, "a b c. d e.") == ["DEEP", "_", "SECOND", "_", "DEEP", "_", "_", "DEEP", "_", "SECOND", "_"]


def test_the_example_of_the_issue():
    spec = """
        group words = words
        annotation upos (labels=[DET, ADJ, NOUN])
        rules shape {
            when char is upper and not char[-1] is letter -> CAP_START
            when char in "aeiou" or char[-2] == "q" -> VOWELISH
            when window(4) ~ /the $/ -> AFTER_THE
            when upos == NOUN and position(words) >= 3 -> LATE_NOUN
            when upos[-1] in [DET, ADJ] -> AFTER_DET
            default -> OTHER
        }
    """
    text = "The quick the brown"
    tags = {"upos": [(0, 3, "DET"), (4, 9, "ADJ"), (14, 19, "NOUN")]}
    short = {"CAP_START": "C", "VOWELISH": "V", "AFTER_THE": "T", "LATE_NOUN": "N", "AFTER_DET": "D", "OTHER": "o"}
    got = "".join(short[x] for x in labels(spec, text, "shape", tags))
    assert got == "CDVDoVVDDDooVTooVNN"
    assert axis(spec, "shape").inputs == ("upos", "words")


# ------------------------------------------------------------ look-ahead


def lookahead(spec: str) -> Lookahead:
    return axis(spec).lookahead


def test_declared_lookahead_of_each_test():
    assert lookahead('rules r { when char[-3] == "a" and window(64) ~ /x$/ -> X }') == CAUSAL
    ahead = lookahead('rules r { when char[+2] == "a" or char[1] is space -> X  when window(3) ~ /a/ -> Y }')
    assert (ahead.kind, ahead.n) == ("chars", 2)
    ahead = lookahead('rules r { when not char[+1] is space -> X }')
    assert (ahead.kind, ahead.n) == ("chars", 1)
    assert lookahead("group w = words\nrules r { when position(w) == 0 and w[-1] == _ -> X }") == CAUSAL
    ahead = lookahead("group w = words\nrules r { when w[+1] == _ -> X }")
    assert (ahead.kind, ahead.n) == ("chars", 1)
    assert lookahead("group s = split /[.]/\nrules r { when index(s) == 0 -> X }").kind == "unbounded"
    assert lookahead("annotation a (labels=[A])\nrules r { when a[-5] == A -> X }").kind == "unbounded"


def test_lookahead_of_a_shifted_axis_test():
    ahead2 = 'rules base { when char[+2] == "a" -> A }\n'
    assert lookahead(ahead2 + "rules r { when base[-2] == A -> X }") == CAUSAL
    assert (lookahead(ahead2 + "rules r { when base[-1] == A -> X }").n, lookahead(ahead2 + "rules r { when base == A -> X }").n,
            lookahead(ahead2 + "rules r { when base[+1] == A -> X }").n) == (1, 2, 3)
    span = types.SimpleNamespace(name="lex", lookahead=Lookahead("span", segment="word", note="lexicon"))
    assert _shifted_lookahead(span, 0) == span.lookahead and _shifted_lookahead(span, -1) == span.lookahead
    assert _shifted_lookahead(span, 1).kind == "unbounded"  # the label ahead may be a later word's


def test_context_mode_needs_a_causal_rule_axis():
    loads_spec('rules r { when char[-1] is space -> X }\nfeed r as context')
    with pytest.raises(SpecError, match="context mode needs a causal axis.*1 char"):
        loads_spec('rules r { when char[+1] is space -> X }\nfeed r as context')


def test_looking_ahead_is_really_not_prefix_stable():
    plan = loads_spec('rules r { when char[+1] is space -> END }')
    assert not axis(plan).causal
    found = prefix_violations(plan, "ab c", range(1, 4))
    assert (found["r"].cut, found["r"].position, found["r"].full_label, found["r"].prefix_label) == (2, 1, "END", "_")


def assert_causal_axes_prefix_stable(plan, text: str) -> None:
    """Every axis declared causal keeps its labels when the text is cut anywhere."""
    found = prefix_violations(plan, text, range(1, len(text)))
    unstable = [example for name, example in found.items() if axis(plan, name).causal]
    assert not unstable, unstable[0].describe()


# ------------------------------------------------------------------ errors

HEAD = "group words = words\nannotation upos (labels=[DET, ADJ, NOUN])\nrules plain { when char is upper -> U }\n"


@pytest.mark.parametrize("condition, where, message, hint", [
    ("char is 3", "3", "`is` takes a character class, not 3", "classes: letter, upper"),
    ("char is uper", "uper", "unknown character class 'uper'", "did you mean 'upper'?"),
    ('char == "ab"', '"ab"', "a character is compared with one character, not 2", "window(2) ~ /ab$/"),
    ("char == x", "x", "a character is compared with a quoted character, not x", 'char == "a"'),
    ('char in ["a", b]', "b", "expected one quoted character, not b", ""),
    ('char in ""', '""', "an empty set of characters never matches", ""),
    ('char < "a"', None, '`char` takes == "x", != "x", in "xyz" or is CLASS, not `<`', "characters have no order"),
    ("char[-1] ~ /a/", None, '`char[-1]` takes == "x", != "x", in "xyz" or is CLASS, not `~`', "window(1) ~ /a/"),
    ('window(4) == "x"', None, "`window(4)` takes `~ /regex/`, not `==`", "window(4) ~ /x$/"),
    ('window(3) ~ "x"', '"x"', '`~` takes a /regex/, not "x"', ""),
    ("window(65) ~ /x/", None, "a window is 1 to 64 characters, not 65", ""),
    ("window(0) ~ /x/", None, "a window is 1 to 64 characters, not 0", ""),
    ("window(3) ~ /a)b/", ")", "invalid regular expression: unbalanced parenthesis", ""),
    ("position(words) ~ /x/", None, "`position(words)` takes == != < <= > >= and a whole number, not `~`", ""),
    ("depth(words) >= 1.5", "1.5", "`depth(words)` is compared with a whole number, not 1.5", ""),
    ('index(words) == "1"', '"1"', '`index(words)` is compared with a whole number, not "1"', ""),
    ("position(plain) == 1", "plain", "'plain' has no spans", "views apply to groupings"),
    ("upos < NOUN", None, "`upos` takes ==, != or in [labels], not `<`", "upos in [DET, ADJ]"),
    ("upos[-1] ~ /N/", None, "`upos[-1]` takes ==, != or in [labels], not `~`", ""),
    ("upos == NOUNS", "NOUNS", "axis 'upos' has no label 'NOUNS'", "did you mean 'NOUN'?"),
    ("upos in [DET, ADJS]", "ADJS", "axis 'upos' has no label 'ADJS'", "did you mean 'ADJ'?"),
    ("upos in NOUN", "NOUN", "`in` takes a [list] of labels of 'upos', not NOUN", "upos in [NOUN]"),
    ("upos == 3", "3", "expected a label of 'upos', not 3", "and _ for no label"),
    ("upos in []", "[]", "an empty list of labels never matches", ""),
])
def test_errors_are_located(condition, where, message, hint):
    """`where` is the part of the condition the error points at (its last occurrence; None: all of it)."""
    with pytest.raises(SpecError) as err:
        loads_spec(HEAD + "rules r {\n  when " + condition + " -> X\n}")
    [d] = err.value.diagnostics
    column = len("  when ") + 1 + (condition.rindex(where) if where else 0)
    assert (d.message, d.loc.line, d.loc.column) == (message, 5, column)
    assert hint in d.hint


def test_every_error_of_a_rule_list_is_reported():
    spec = HEAD + 'rules r {\n when char is uper and window(99) ~ /x/ -> A\n when upos == NON or (char == "xy") -> B\n}'
    with pytest.raises(SpecError) as err:
        loads_spec(spec)
    assert [(d.loc.line, d.loc.column, d.message) for d in err.value.diagnostics] == [
        (5, 15, "unknown character class 'uper'"),
        (5, 24, "a window is 1 to 64 characters, not 99"),
        (6, 15, "axis 'upos' has no label 'NON'"),
        (6, 31, "a character is compared with one character, not 2"),
    ]


def test_rules_take_no_options_and_unknown_axes_are_reported():
    with pytest.raises(SpecError, match="unknown option 'case'"):
        loads_spec("rules r (case=insensitive) { when char is upper -> U }")
    with pytest.raises(SpecError, match="unknown axis 'uops'"):
        loads_spec(HEAD + "rules r { when uops == NOUN -> N }")


# ------------------------------------------------- helpers, directly checked


@given(st.text(st.sampled_from("ab\nč"), max_size=40), st.integers(1, 6))
def test_windows_map_every_position_to_its_own_window(text, size):
    starts, ends, which = windows(Document(text), size)
    distinct = [text[s:e] for s, e in zip(starts, ends)]
    assert len(set(distinct)) == len(distinct)
    assert [distinct[i] for i in which] == [text[max(0, t - size + 1) : t + 1] for t in range(len(text))]


@given(st.lists(st.booleans(), max_size=8), st.integers(-10, 10))
def test_shifted_reads_offset_positions_and_is_false_outside(values, offset):
    got = shifted(np.array(values, dtype=bool), offset).tolist()
    assert got == [0 <= t + offset < len(values) and values[t + offset] for t in range(len(values))]


# ------------------------------------------- random rules vs a reference
# Rule conditions are drawn as spec text; the reference evaluates the parsed
# conditions position by position, with Python strings and the spans of
# the grid, following the module docstring word for word.

CONTEXT = """
group words = words
group lines = lines
group sents = split /[.!?]/
group inner = words within sents
group dotted = matches /\\w+(?=[.])/
rules base { when char is letter -> L  when char is digit -> D }
rules ahead { when char[+1] is space -> E  when char[+2] == "." -> P }
"""
# Axes and groups that only look back; `dotted` and `ahead` really look ahead.
CAUSAL_GROUPS = ("words", "lines")
GROUPS = CAUSAL_GROUPS + ("sents", "inner", "dotted")
AXIS_LABELS = {"words": ("WORD", "_"), "lines": ("LINE", "_"), "base": ("L", "D", "_"), "inner": ("WORD", "_"),
               "dotted": ("MATCH", "_"), "ahead": ("E", "P", "_")}
CAUSAL_AXES = ("words", "lines", "base", "ahead")  # ahead only 2 or more characters back
CLASS_NAMES = ("letter", "upper", "lower", "digit", "alnum", "word", "space", "newline", "punct", "symbol", "vowel", "consonant")
SOME_CHARS = "aetTh. \n,É1日"
PATTERNS = ("the $", "^a", r"\w\s$", "[aeiou]{2}", r"\n", "(?i)e$", "(?<=t)h", r"^\W", r"^\w", "^.{3}", r"\b\w$", r"\d|\.$")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _tests(causal: bool) -> st.SearchStrategy[str]:
    offsets = st.integers(-3, 0) if causal else st.integers(-3, 3)
    char = st.builds(
        lambda k, test: f"char[{k}] {test}" if k else f"char {test}",
        offsets,
        st.one_of(
            st.sampled_from(SOME_CHARS).map(lambda c: "== " + _quote(c)),
            st.sampled_from(SOME_CHARS).map(lambda c: "!= " + _quote(c)),
            st.text(st.sampled_from(SOME_CHARS), min_size=1, max_size=3).map(lambda s: "in " + _quote(s)),
            st.lists(st.sampled_from(SOME_CHARS), min_size=1, max_size=3).map(
                lambda cs: "in [" + ", ".join(map(_quote, cs)) + "]"),
            st.sampled_from(CLASS_NAMES).map(lambda c: "is " + c),
        ),
    )
    window = st.builds(lambda n, p: f"window({n}) ~ /{p}/", st.integers(1, 6), st.sampled_from(PATTERNS))
    axes = CAUSAL_AXES if causal else tuple(AXIS_LABELS)

    @st.composite
    def axis(draw):
        name = draw(st.sampled_from(axes))
        k = draw(st.integers(-3, -2) if causal and name == "ahead" else offsets)
        subject = f"{name}[{k}]" if k else name
        op = draw(st.sampled_from(("==", "!=", "in")))
        if op == "in":
            return f"{subject} in [{', '.join(draw(st.lists(st.sampled_from(AXIS_LABELS[name]), min_size=1, max_size=2)))}]"
        return f"{subject} {op} {draw(st.sampled_from(AXIS_LABELS[name]))}"

    view = st.builds(lambda v, g, op, i: f"{v}({g}) {op} {i}", st.sampled_from(("position", "index", "depth")),
                     st.sampled_from(CAUSAL_GROUPS if causal else GROUPS),
                     st.sampled_from(("==", "!=", "<", "<=", ">", ">=")), st.integers(0, 3))
    return st.one_of(char, window, axis(), view)


def _conditions(causal: bool) -> st.SearchStrategy[str]:
    return st.recursive(
        _tests(causal),
        lambda inner: st.one_of(
            inner.map(lambda c: f"not ({c})"),
            st.lists(inner, min_size=2, max_size=3).map(lambda cs: "(" + " and ".join(cs) + ")"),
            st.lists(inner, min_size=2, max_size=3).map(lambda cs: "(" + " or ".join(cs) + ")"),
        ),
        max_leaves=4,
    )


@st.composite
def rule_axes(draw, causal: bool = False) -> str:
    conditions = draw(st.lists(_conditions(causal), min_size=1, max_size=3))
    rules = " ".join(f"when {c} -> {draw(st.sampled_from(('A', 'B', 'C', '_')))}" for c in conditions)
    default = draw(st.sampled_from(("", "default -> A", "default -> D")))
    return f"rules r {{ {rules} {default} }}"


REF_CLASSES = {
    "letter": lambda c: regex.fullmatch(r"\p{L}", c),
    "upper": lambda c: regex.fullmatch(r"\p{Lu}", c),
    "lower": lambda c: regex.fullmatch(r"\p{Ll}", c),
    "digit": lambda c: regex.fullmatch(r"\p{Nd}", c),
    "alnum": lambda c: regex.fullmatch(r"\p{L}", c) or regex.fullmatch(r"\p{Nd}", c),
    "word": lambda c: regex.fullmatch(r"\w", c),
    "space": lambda c: regex.fullmatch(r"\s", c),
    "newline": lambda c: c in "\n\r\x0b\x0c\x85\u2028\u2029",
    "punct": lambda c: regex.fullmatch(r"\p{P}", c),
    "symbol": lambda c: regex.fullmatch(r"\p{S}", c),
    "vowel": lambda c: c in "aeiouAEIOU",
    "consonant": lambda c: c.isascii() and c.isalpha() and c not in "aeiouAEIOU",
}


REF_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class Reference:
    """Evaluates a rules declaration one position at a time."""

    def __init__(self, grid, plan):
        self.grid, self.text = grid, grid.text
        self.levels = {a.name: a.level for a in plan.axes}

    def label_at(self, axis: str, t: int):
        return self.grid.labels(axis)[t] if 0 <= t < len(self.text) else None

    def view_value(self, view: str, group: str, t: int):
        spans = self.grid.spans(group)
        inside = [i for i in range(len(spans)) if spans.start[i] <= t < spans.end[i]]
        if not inside:
            return None
        i = max(inside, key=lambda j: spans.depth[j])
        if view == "position":
            return t - int(spans.start[i])
        if view == "depth":
            return int(spans.depth[i]) + self.levels[group] - 1
        return sum(1 for j in range(len(spans)) if spans.parent[j] == spans.parent[i]
                   and spans.depth[j] == spans.depth[i] and spans.start[j] < spans.start[i])

    def holds(self, cond, t: int) -> bool:
        if isinstance(cond, nodes.Not):
            return not self.holds(cond.condition, t)
        if isinstance(cond, nodes.AllOf):
            return all(self.holds(c, t) for c in cond.conditions)
        if isinstance(cond, nodes.AnyOf):
            return any(self.holds(c, t) for c in cond.conditions)
        subject, op, operand = cond.subject, cond.op, cond.operand
        k = subject.offset.value if getattr(subject, "offset", None) else 0
        if isinstance(subject, nodes.CharSubject):
            if not 0 <= t + k < len(self.text):
                return False
            c = self.text[t + k]
            if op == "is":
                return bool(REF_CLASSES[operand.name](c))
            chars = operand.value if isinstance(operand, nodes.Str) else "".join(i.value for i in operand.items)
            return (c == chars) if op == "==" else (c != chars) if op == "!=" else c in chars
        if isinstance(subject, nodes.WindowSubject):
            window = self.text[max(0, t - subject.size + 1) : t + 1]
            return regex.search(operand.source, window) is not None
        if isinstance(subject, nodes.ViewSubject):
            value = self.view_value(subject.view, subject.group.name, t)
            return value is not None and REF_COMPARE[op](value, operand.value)
        label = self.label_at(subject.axis.name, t + k)
        wanted = [i.name for i in operand.items] if op == "in" else [operand.name]
        return label is not None and ((label in wanted) if op != "!=" else (label not in wanted))

    def labels(self, decl: nodes.RulesDecl) -> list[str]:
        default = decl.default.label.text if decl.default else "_"
        return [next((rule.label.text for rule in decl.rules if self.holds(rule.condition, t)), default)
                for t in range(len(self.text))]


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Any Unicode text, and texts dense in the characters the rules test.
RULE_TEXTS = st.one_of(texts(max_pieces=12), st.text(st.sampled_from(SOME_CHARS + "ou!?\r\t\u00a0ß"), min_size=4, max_size=40))


@FAST
@given(rule_axes(), RULE_TEXTS)
def test_vectorised_rules_equal_the_reference(spec, text):
    plan = loads_spec(CONTEXT + spec)
    grid = compile_text(plan, text)
    decl = parse(spec).statements[0]
    assert grid.labels("r") == Reference(grid, plan).labels(decl)


@FAST
@given(rule_axes(causal=True), RULE_TEXTS)
def test_rules_that_only_look_back_are_declared_causal_and_are_prefix_stable(spec, text):
    plan = loads_spec(CONTEXT + spec)
    assert axis(plan).causal, spec
    assert_causal_axes_prefix_stable(plan, text)


@FAST
@given(rule_axes(), RULE_TEXTS)
def test_any_rules_declared_causal_are_prefix_stable(spec, text):
    assert_causal_axes_prefix_stable(loads_spec(CONTEXT + spec), text)


LOOK_TEXT = "The king. He said: the end!\nA e.g. 12 and 3.5 ok."


@pytest.mark.parametrize("condition, causal", [
    ('char[-2] == "e"', True),
    ("char[+1] is space", False),
    ("char[2] is punct", False),
    (r"window(5) ~ /e\.$/", True),
    ("ahead[-2] == P", True),
    ("ahead[-1] == P", False),
    ("ahead == E", False),
    ("words[-1] == _ and not lines[-3] != LINE", True),
    ("words[+1] == _", False),
    ("position(words) == 2 or index(words) == 1 or depth(lines) == 1", True),
    ("dotted == MATCH", False),
    ("position(dotted) == 0", False),
    ("not index(dotted) != 0", False),
])
def test_declared_causality_of_each_test_matches_prefix_stability(condition, causal):
    """Each test on its own: causal ones are prefix-stable, the others really are not."""
    plan = loads_spec(CONTEXT + f"rules r {{ when {condition} -> X }}")
    assert axis(plan).causal == causal
    assert ("r" in prefix_violations(plan, LOOK_TEXT, range(1, len(LOOK_TEXT)))) != causal
