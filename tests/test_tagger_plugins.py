"""Tagger plug-ins: found through real entry points, their streams, their errors.

Nothing is installed: a fixture writes a `*.dist-info` folder (METADATA and
entry_points.txt, what pip would write) and a plug-in module into a temporary
folder put on sys.path, which is all importlib.metadata looks at.
"""

import itertools
import sys
import tomllib
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from axes.tagger import CharClassTagger, installed_plugins
from conftest import fake_distribution
from grid_dsl import SpecError, compile_text, loads_spec
from grid_dsl.data.causality import prefix_violations

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin_tagger"

PLUGINS = '''
import re

class Words:
    """Runs of word characters; only capitalised ones with upper=true."""
    def __init__(self, label="WORD", upper=False):
        self.labels = [label]
        self.upper = upper

    def tag(self, text):
        for m in re.finditer(r"\\w+", text):
            if not self.upper or m.group()[0].isupper():
                yield m.start(), m.end(), self.labels[0]

class Echo:
    """Keeps the options it was given."""
    def __init__(self, **options):
        self.options = options
        self.labels = ("A", "B")
        self.causal = True

    def tag(self, text):
        return [(0, 1, "A")] if text else []

class Returns:
    """Returns the spans in its class attribute `spans`."""
    spans = []
    labels = ["A", "B"]

    def tag(self, text):
        return list(self.spans)

class Refuses:
    def __init__(self, model="small"):
        raise ValueError(f"model {model!r} is not installed")

class Crashes:
    labels = ["A"]

    def tag(self, text):
        return 1 / 0

class NoLabels:
    def tag(self, text):
        return []

class OddCausal:
    labels = ["A"]
    causal = "yes"

    def tag(self, text):
        return []
'''

ENTRY_POINTS = """
[multigrid.taggers]
words = mg_test_plugins:Words
echo = mg_test_plugins:Echo
returns = mg_test_plugins:Returns
refuses = mg_test_plugins:Refuses
crashes = mg_test_plugins:Crashes
no_labels = mg_test_plugins:NoLabels
odd_causal = mg_test_plugins:OddCausal
broken = mg_test_plugins:DoesNotExist
"""


@pytest.fixture(scope="module", autouse=True)
def plugins(tmp_path_factory):
    """The test plug-ins and the example package, registered as if installed."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "mg_test_plugins.py").write_text(PLUGINS)
    fake_distribution(folder, "mg-test-plugins", ENTRY_POINTS)
    # The example's entry points come from its own pyproject.toml, so this
    # tests the registration a user would install.
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    example_points = project["entry-points"]["multigrid.taggers"]
    fake_distribution(folder, project["name"],
                      "[multigrid.taggers]\n" + "".join(f"{k} = {v}\n" for k, v in example_points.items()))
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLE))
        patch.syspath_prepend(str(folder))
        yield
        for module in ("mg_test_plugins", "capitalised_tagger"):
            sys.modules.pop(module, None)


def returns(spans):
    """A plan whose `returns` plug-in gives `spans` on any text."""
    plan = loads_spec("tagger x = returns")
    plan.axis("x").plugin.spans = spans
    return plan


def compile_error(plan, text="abcdef") -> SpecError:
    with pytest.raises(SpecError) as info:
        compile_text(plan, text)
    return info.value


def check_error(spec: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        loads_spec(spec)
    return info.value


# ------------------------------------------------------------- plug-ins work


def test_plugin_found_through_its_entry_point():
    text = "Hans and Gretel ran."
    grid = compile_text(loads_spec('tagger x = words (label="NAME", upper=true)'), text)
    assert grid.vocab("x") == ("_", "NAME")
    assert "".join("N" if label == "NAME" else "." for label in grid.labels("x")) == "NNNN.....NNNNNN....."
    spans = grid.spans("x")
    assert [text[s:e] for s, e in zip(spans.start, spans.end)] == ["Hans", "Gretel"]
    axis = grid.plan.axis("x")
    assert axis.has_spans and not axis.causal
    assert str(axis.lookahead) == "unbounded (plug-in 'words' declares no look-ahead bound)"


def test_options_reach_the_plugin_as_plain_python():
    plan = loads_spec('tagger x = echo (name="a b", n=3, f=0.5, flag, yes=true, no=false, word=big, items=[A, "b c"])')
    assert plan.axis("x").plugin.options == {
        "name": "a b", "n": 3, "f": 0.5, "flag": True, "yes": True, "no": False, "word": "big", "items": ["A", "b c"],
    }
    assert plan.axis("x").causal  # declared causal=True


def test_plugin_spans_in_any_order_empty_ones_dropped():
    grid = compile_text(returns([(4, 6, "B"), (0, 2, "A"), [np.int32(3), np.int64(3), "A"]]), "abcdef")
    assert grid.labels("x") == ["A", "A", "_", "_", "B", "B"]
    assert grid.spans("x").start.tolist() == [0, 4]


def test_plugin_axis_can_be_grouped_within_and_chunked_over():
    text = "Hans met Gretel"
    spec = ('tagger w = words\ngroup c = matches /[a-z]/ within w\n'
            'chunks pair over w """P: {<WORD><WORD>}"""')
    grid = compile_text(loads_spec(spec), text)
    assert len(grid.spans("c")) == 11  # the lower-case letters
    spans = grid.spans("pair")
    assert [text[s:e] for s, e in zip(spans.start, spans.end)] == ["Hans met"]


# ------------------------------------------------------------- the built-in


def test_char_class_is_installed_under_the_entry_point_group():
    entry_point = installed_plugins().get("char_class")
    if entry_point is None:
        pytest.skip("the project is not installed: run `pip install -e .` so its entry points exist")
    assert entry_point.value == "axes.tagger:CharClassTagger"
    assert entry_point.load() is CharClassTagger


def test_char_class_stream():
    text = "Hello, WORLD 42!\tÉté 中"
    grid = compile_text(loads_spec("tagger caps = char_class (labels=[UPPER, LOWER])\ntagger all = char_class\n"
                                   "tagger digits = char_class (labels=DIGIT)"), text)
    assert "".join(label[0] for label in grid.labels("digits")) == "_____________DD_______"
    assert grid.vocab("caps") == ("_", "UPPER", "LOWER")
    assert "".join(label[0] for label in grid.labels("caps")) == "ULLLL__UUUUU_____ULL__"
    assert "".join(label[0] for label in grid.labels("all")) == "ULLLLPSUUUUUSDDPSULLSO"
    spans = grid.spans("all")
    assert [text[s:e] for s, e in zip(spans.start, spans.end)][:6] == ["H", "ello", ",", " ", "WORLD", " "]
    assert grid.plan.axis("all").causal


def naive_classes(text: str, wanted) -> list:
    """One character at a time: runs of equal class, kept if wanted."""
    def kind(c):
        if c.isupper():
            return "UPPER"
        if c.islower():
            return "LOWER"
        if unicodedata.category(c) == "Nd":
            return "DIGIT"
        if c.isspace():
            return "SPACE"
        return "PUNCT" if unicodedata.category(c)[0] == "P" else "OTHER"

    out, start = [], 0
    for label, run in itertools.groupby(text, kind):
        length = len(list(run))
        if label in wanted:
            out.append((start, start + length, label))
        start += length
    return out


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.sets(st.sampled_from(CharClassTagger.CLASSES), min_size=1))
def test_char_class_equals_a_character_by_character_reference(text, wanted):
    tagger = CharClassTagger(labels=sorted(wanted))
    assert list(tagger.tag(text)) == naive_classes(text, wanted)


def test_char_class_is_prefix_stable():
    text = "Once upon a TIME, 12 kings—ǅ or Ⅻ—lived.\r\n  Éte\u0301!  "
    plan = loads_spec("tagger all = char_class")
    assert prefix_violations(plan, text, range(1, len(text) + 1)) == {}


# ------------------------------------------------------------ the example


def test_example_plugin_tags_capitalised_words():
    text = "Alice met Bo in Paris."
    grid = compile_text(loads_spec('tagger caps = capitalised\ntagger names = capitalised (label="NAME", min_length=3)'), text)
    for name, expected in (("caps", ["Alice", "Bo", "Paris"]), ("names", ["Alice", "Paris"])):
        spans = grid.spans(name)
        assert [text[s:e] for s, e in zip(spans.start, spans.end)] == expected
    assert grid.vocab("names") == ("_", "NAME")
    assert grid.plan.axis("caps").causal and not grid.plan.axis("names").causal


def test_example_plugin_declares_causality_truthfully():
    text = "Al and Alice saw Bob; Bo ran. Cy"
    plan = loads_spec('tagger caps = capitalised\ntagger names = capitalised (min_length=3)')
    found = prefix_violations(plan, text, range(1, len(text) + 1))
    assert "caps" not in found  # declared causal: prefix-stable
    assert found["names"].position == 7  # "Al|ice": the A is a NAME only once "ice" is seen


def test_example_plugin_rejects_bad_options():
    err = check_error("tagger caps = capitalised (min_length=0)")
    assert err.messages == ["tagger plug-in 'capitalised' rejected its options: min_length must be a whole number >= 1, not 0"]


# ------------------------------------------------------------------ errors


def test_unknown_plugin_lists_the_installed_ones():
    err = check_error("group w = words\ntagger x =  char_clas (labels=[UPPER])")
    d = err.diagnostics[0]
    assert d.message.startswith("unknown tagger plug-in 'char_clas' (installed: ")
    for name in ("broken", "capitalised", "echo", "words"):
        assert name in d.message
    assert d.hint == "did you mean 'char_class'?"
    assert (d.loc.line, d.loc.column, d.loc.end_column) == (2, 13, 22)
    assert "tagger x =  char_clas (labels=[UPPER])\n                ^^^^^^^^^" in err.render()


def test_unknown_plugin_without_a_close_name_says_how_to_install_one():
    err = check_error("tagger x = spacy_ner")
    assert "multigrid.taggers" in err.diagnostics[0].hint and "examples/plugin_tagger" in err.diagnostics[0].hint


def test_constructor_error_is_shown_at_the_options():
    err = check_error('tagger x = refuses (model="huge")')
    d = err.diagnostics[0]
    assert d.message == "tagger plug-in 'refuses' rejected its options: model 'huge' is not installed"
    assert d.hint == "ValueError raised by mg_test_plugins:Refuses"
    assert (d.loc.line, d.loc.column) == (1, 20)


def test_unexpected_option_is_the_constructors_message():
    err = check_error("tagger x = char_class (colours=[RED])")
    assert "unexpected keyword argument 'colours'" in err.messages[0]
    err = check_error("tagger x = char_class (labels=[UPPR])")
    assert "unknown character class 'UPPR'" in err.messages[0] and "did you mean 'UPPER'" in err.messages[0]


def test_options_that_are_not_plain_values():
    err = check_error("tagger x = echo (pattern=/a+/, items=[A, 3], n=1, n=2)")
    assert [(d.loc.column, d.message) for d in err.diagnostics] == [
        (26, "option 'pattern': a plug-in takes strings, numbers, true/false, names and lists; write a regex as a \"string\""),
        (38, "option 'items': a list passed to a plug-in holds names or \"strings\", e.g. [PERSON, \"New York\"]"),
        (53, "option 'n': given twice"),
    ]


def test_plugin_that_cannot_be_loaded():
    err = check_error("tagger x = broken")
    assert err.messages[0].startswith("tagger plug-in 'broken' (mg_test_plugins:DoesNotExist) could not be loaded: AttributeError")


def test_plugin_missing_its_interface():
    err = check_error("tagger x = no_labels")
    assert err.messages == ["tagger plug-in 'no_labels' has no `labels` (a non-empty list of label strings, known before any text)"]
    assert (err.diagnostics[0].loc.line, err.diagnostics[0].loc.column) == (1, 12)
    err = check_error("tagger x = odd_causal")
    assert err.messages == ["tagger plug-in 'odd_causal' has a `causal` that is not True or False"]


@pytest.mark.parametrize("spans, message", [
    ([(0, 2, "Z")], "returned label 'Z', which is not in its labels (A, B)"),
    ([(0, 9, "A")], "returned span (0, 9, 'A'), outside the text (0 <= start <= end <= 6 needed)"),
    ([(3, 2, "A")], "returned span (3, 2, 'A'), outside the text (0 <= start <= end <= 6 needed)"),
    ([(0, 3, "A"), (2, 4, "B")], "returned overlapping spans (0, 3) and (2, 4)"),
    ([(0, 2)], "returned (0, 2), not a (start, end, label) triple"),
    ([(0, 1.5, "A")], "returned span (0, 1.5, 'A'), whose offsets are not integers"),
    ([(0, True, "A")], "returned span (0, True, 'A'), whose offsets are not integers"),
    ([(0, 1, "A"), (1, 2, 7)], "returned span (1, 2, 7), whose label is not a string"),
])
def test_bad_spans_at_compile_time_name_the_plugin(spans, message):
    err = compile_error(returns(spans))
    assert err.messages == [f"tagger plug-in 'returns' (axis 'x') {message}"]
    assert (err.diagnostics[0].loc.line, err.diagnostics[0].loc.column) == (1, 12)


def test_plugin_failure_at_compile_time_names_the_plugin():
    err = compile_error(loads_spec("tagger x = crashes"))
    assert err.messages == ["tagger plug-in 'crashes' (axis 'x') failed: ZeroDivisionError: division by zero"]
    assert isinstance(err.__cause__, ZeroDivisionError)

