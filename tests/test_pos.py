"""The NLTK part-of-speech axis: exact agreement with nltk.pos_tag, exact
offsets, the vectorised tagger against NLTK's, and prefix tagging against its
literal definition (axes/pos.py)."""

import random
import sys
import warnings

import numpy as np
import pytest
import regex
from conftest import need_nltk
from hypothesis import HealthCheck, example, given, settings, strategies as st

from grid_dsl import SpecError, compile_text, loads_spec
from grid_dsl.testing import texts

pytestmark = pytest.mark.usefixtures("nltk_pos_data")

QUOTES = {'"', "``", "''"}


@pytest.fixture(scope="module")
def nltk_pos_data():
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")


@pytest.fixture(scope="module")
def nltk_tools():
    import nltk
    from nltk.tokenize import NLTKWordTokenizer, PunktTokenizer

    return nltk, PunktTokenizer("english"), NLTKWordTokenizer()


def reference(text, tools):
    """[(start, end, penn tag)] by NLTK alone: punkt sentences, word_tokenize's
    tokens of each (and span_tokenize's offsets), nltk.pos_tag_sents."""
    nltk, punkt, tokenizer = tools
    sentences = list(punkt.span_tokenize(text))
    tokens = [tokenizer.tokenize(text[s:e]) for s, e in sentences]
    tagged = nltk.pos_tag_sents(tokens)
    out = []
    for (s, e), sentence in zip(sentences, tagged):
        spans = list(tokenizer.span_tokenize(text[s:e]))
        assert len(spans) == len(sentence)
        out += [(s + a, s + b, tag) for (a, b), (_, tag) in zip(spans, sentence)]
    return out


def axis_tokens(grid, name):
    spans, vocab = grid.spans(name), grid.vocab(name)
    return [(int(s), int(e), vocab[t]) for s, e, t in zip(spans.start, spans.end, spans.label)]


def painted(n, tokens, vocab):
    ids = np.zeros(n, dtype=np.int32)
    index = {label: i for i, label in enumerate(vocab)}
    for s, e, tag in tokens:
        ids[s:e] = index[tag]
    return ids


def universal(tokens):
    from nltk.tag import map_tag

    return [(s, e, map_tag("en-ptb", "universal", tag)) for s, e, tag in tokens]


@pytest.fixture(scope="module")
def both():
    return loads_spec("pos ptb\npos upos (tagset=universal)")


def assert_matches_nltk(grid, text, want):
    """Both tagsets' spans and painted ids equal the NLTK reference."""
    assert axis_tokens(grid, "ptb") == want
    assert axis_tokens(grid, "upos") == universal(want)
    for name, tokens in (("ptb", want), ("upos", universal(want))):
        assert np.array_equal(grid.ids(name), painted(len(text), tokens, grid.vocab(name)))


# ------------------------------------------------------------ exactness


@pytest.mark.slow
def test_grimm_equals_nltk_pos_tag(grimm, both, nltk_tools):
    nltk = nltk_tools[0]
    want = reference(grimm, nltk_tools)
    grid = compile_text(both, grimm)
    assert_matches_nltk(grid, grimm, want)
    # the tokens are word_tokenize's, and every span holds its token
    tokens = nltk.word_tokenize(grimm)
    assert len(tokens) == len(want)
    for token, (s, e, _) in zip(tokens, want):
        assert grimm[s:e] == token or (token in QUOTES and grimm[s:e] in QUOTES)


@pytest.mark.slow
def test_treebank_raw_sentences_equal_nltk_pos_tag(both, nltk_tools):
    from nltk.corpus import treebank

    nltk = nltk_tools[0]
    raw = [" ".join(w for w, tag in sent if tag != "-NONE-") for sent in treebank.tagged_sents()]
    text = "\n".join(raw)
    grid = compile_text(both, text)
    assert_matches_nltk(grid, text, reference(text, nltk_tools))
    # one sentence as its own document is nltk.pos_tag(word_tokenize(sentence))
    for sentence in raw[:200]:
        if len(nltk_tools[1].tokenize(sentence)) != 1:
            continue
        got = [tag for _, _, tag in axis_tokens(compile_text(both, sentence), "ptb")]
        assert got == [tag for _, tag in nltk.pos_tag(nltk.word_tokenize(sentence))]


def test_every_label_is_the_tokens_and_the_rest_is_none(both):
    text = '  "Hello," she said -- in 1994 !\n\n'
    grid = compile_text(both, text)
    words = [(text[s:e], tag) for s, e, tag in axis_tokens(grid, "ptb")]
    assert words == [('"', "``"), ("Hello", "NNP"), (",", ","), ('"', "''"), ("she", "PRP"), ("said", "VBD"),
                     ("--", ":"), ("in", "IN"), ("1994", "CD"), ("!", ".")]
    labels = grid.labels("ptb")
    assert labels[:2] == ["_", "_"] and labels[2] == "``" and labels[3:8] == ["NNP"] * 5
    assert labels[-2:] == ["_", "_"] and labels[text.index("she") - 1] == "_"


def test_vocabularies_are_the_taggers(both):
    from axes._perceptron import engine

    tagger = engine().tagger
    assert both.axis("ptb").labels == tuple(sorted(set(tagger.classes) | set(tagger.tagdict.values())))
    assert both.axis("upos").labels == (".", "ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", "X")
    grid = compile_text(both, "")
    assert len(grid.ids("ptb")) == 0 and len(grid.spans("upos")) == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts())
def test_any_text_equals_nltk(text, both, nltk_tools):
    try:
        want = reference(text, nltk_tools)
    except (ValueError, RuntimeError):  # NLTK's own alignment fails: compare the tags only
        grid = compile_text(both, text)
        _, punkt, tokenizer = nltk_tools
        sentences = [tokenizer.tokenize(text[s:e]) for s, e in punkt.span_tokenize(text)]
        want_tags = [tag for sentence in nltk_tools[0].pos_tag_sents(sentences) for _, tag in sentence]
        assert [tag for _, _, tag in axis_tokens(grid, "ptb")] == want_tags
        return
    assert_matches_nltk(compile_text(both, text), text, want)


def test_alignment_tolerates_what_nltk_cannot_align():
    from axes._tokens import align

    assert align(["a", "''", "zz", "b"], 'a " b') == [(0, 1), (2, 3), (3, 3), (4, 5)]
    assert align(["``", "x", "''"], '"x"') == [(0, 1), (1, 2), (2, 3)]


# --------------------------------------------------------- the engine


@pytest.fixture(scope="module")
def engine():
    from axes._perceptron import engine

    return engine()


@pytest.mark.slow
def test_engine_equals_nltk_tagger_on_treebank(engine, nltk_tools):
    from nltk.corpus import treebank

    sentences = [list(s) for s in treebank.sents()[:1500]]
    sentences += [[], ["Hello"], ["1994"], ["2024", "was", "a", "year", "."], ["state-of-the-art", "-x", "12,000", "3.14"],
                  ["", "x"], ["'s", "``", "''", "--"]]
    flat = [w for s in sentences for w in s]
    lengths = [len(s) for s in sentences]
    tags = engine.tag(flat, lengths)
    want = [tag for s in sentences for _, tag in engine.tagger.tag(s)]
    assert [engine.tags[t] for t in tags] == want
    # prefix tags: the last tag of tagging each sentence cut after the word
    some = sentences[:150] + sentences[-7:]
    flat = [w for s in some for w in s]
    lengths = [len(s) for s in some]
    prefix = engine.tag_prefix(flat, lengths, engine.tag(flat, lengths))
    want = [engine.tagger.tag(s[: j + 1])[-1][1] for s in some for j in range(len(s))]
    assert [engine.tags[t] for t in prefix] == want


def test_engine_falls_back_to_nltk_when_its_features_change(engine):
    from nltk.tag.perceptron import PerceptronTagger

    from axes._perceptron import PerceptronEngine

    class Changed(PerceptronTagger):  # a "future NLTK" whose features differ
        def _get_features(self, i, word, context, prev, prev2):
            return super()._get_features(i, word, list(reversed(context)), prev, prev2)

    changed = Changed(load=False)
    changed.model, changed.tagdict, changed.classes = engine.tagger.model, engine.tagger.tagdict, engine.tagger.classes
    with pytest.warns(RuntimeWarning, match="falling back"):
        fallback = PerceptronEngine(changed)
    assert not fallback.exact
    sentences = [["The", "cat", "sat", "on", "the", "mat", "."], ["Dogs", "bark", "loudly"]]
    flat, lengths = [w for s in sentences for w in s], [7, 3]
    full = fallback.tag(flat, lengths)
    assert [fallback.tags[t] for t in full] == [t for s in sentences for _, t in changed.tag(s)]
    prefix = fallback.tag_prefix(flat, lengths, full)
    assert [fallback.tags[t] for t in prefix] == [changed.tag(s[: j + 1])[-1][1] for s in sentences for j in range(len(s))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert PerceptronEngine(engine.tagger).exact


# ----------------------------------------------------------- prefix tags


def runs(text):
    return [m.span() for m in regex.finditer(r"\S+", text)]


def literal_prefix(text, run, tools):
    """The definition: tags of the word tokens inside whitespace token `run`
    from punkt and pos_tag on text[:end of run] only."""
    nltk, punkt, tokenizer = tools
    c_start, e = run
    prefix = text[:e]
    out = []
    for a, b in list(punkt.span_tokenize(prefix)):
        if b <= c_start:
            continue
        tokens = tokenizer.tokenize(prefix[a:b])
        for j, (x, y) in enumerate(tokenizer.span_tokenize(prefix[a:b])):
            if a + x >= c_start:
                out.append((a + x, a + y, nltk.pos_tag(tokens[: j + 1])[-1][1]))
    return out


@pytest.fixture(scope="module")
def prefix_spec():
    return loads_spec("pos p (prefix)\npos full")


def prefix_by_run(grid, text):
    tokens = axis_tokens(grid, "p")
    starts = np.array([s for s, _, _ in tokens], dtype=np.int64)
    return {run: tokens[np.searchsorted(starts, run[0]): np.searchsorted(starts, run[1])] for run in runs(text)}


def test_prefix_equals_its_definition_on_grimm(grimm, prefix_spec, nltk_tools):
    rng = random.Random(7)
    changed = total = 0
    for offset in (0, 130_000, 260_000, 390_000):
        start = grimm.index("\n\n", offset) + 2
        text = grimm[start : start + 8000]
        grid = compile_text(prefix_spec, text)
        got = prefix_by_run(grid, text)
        full, pre = axis_tokens(grid, "full"), axis_tokens(grid, "p")
        assert [(s, e) for s, e, _ in full] == [(s, e) for s, e, _ in pre]  # same tokens here
        changed += sum(a != b for a, b in zip(full, pre))
        total += len(full)
        all_runs = runs(text)
        tricky = [r for r in all_runs if text[r[1] - 1] in ".?!'\")"]  # where locality is most delicate
        for run in rng.sample(tricky, 35) + rng.sample(all_runs, 40):
            assert got[run] == literal_prefix(text, run, nltk_tools), text[run[0] : run[1]]
    assert 0.03 < changed / total < 0.09  # docs/design.md: 5.7% of Grimm's tags change


_WORDS = ["Mr.", "St.", "ill.", "The", "he", "said", "dog", "U.S.", "e.g.", "3.5", "1994", "well-known", "can't",
          "'tis", "dogs'", "x", "A", "cannot", "It", "Yes", "no", "etc.", "Dr.", "J.", "end", "i.e."]
_PUNCT = [".", "?", "!", "?!", "...", ",", ";", ":", "'", '"', "''", "``", "(", ")", "[", "]", "--", "\u201c", "\u201d",
          "\u2019", "-", "'s", "n't"]
_SEP = [" ", " ", "\n", "\n\n", "\u00a0", "\u00a0", "\t", "", "", ""]
period_rich = st.lists(
    st.tuples(st.one_of(st.sampled_from(_WORDS), st.sampled_from(_PUNCT)), st.sampled_from(_SEP)).map("".join),
    max_size=20,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(period_rich, period_rich, texts(12)))
@example(text="Mr. Smith came.")  # "Mr." ends P: the tokenizer splits its period
@example(text="Hello.\u00a0World. Next")  # punkt's overlap rule: no ASCII space between "." and "."
@example(text="e.g.? The")
def test_prefix_equals_its_definition(text, prefix_spec, nltk_tools):
    got = prefix_by_run(compile_text(prefix_spec, text), text)
    for run in runs(text):
        assert got[run] == literal_prefix(text, run, nltk_tools), (text, run)


CAUSAL_SPEC = "group toks = tokens\npos p (tagset=universal, prefix)\nlag x = p after toks\npos full\nlag y = full after toks"


def test_declared_lookaheads():
    plan = loads_spec(CAUSAL_SPEC)
    causal = {a.name: a.causal for a in plan.axes}
    assert causal == {"toks": True, "p": False, "x": True, "full": False, "y": False}
    assert plan.axis("p").lookahead.kind == "span" and plan.axis("p").lookahead.segment == "token"
    assert plan.axis("full").lookahead.kind == "unbounded" and "next two words" in str(plan.axis("full").lookahead)


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(period_rich, texts(20)), cut=st.floats(0, 1))
@example(text="Mr. Smith came.", cut=0.3)
@example(text="Hello.\u00a0World. Next", cut=0.75)
@example(text="\x1f", cut=0.0)  # a token but no sentence: punkt finds none
def test_lagged_prefix_tags_are_prefix_stable(text, cut):
    plan = loads_spec(CAUSAL_SPEC)
    k = int(cut * len(text))
    whole, part = compile_text(plan, text), compile_text(plan, text[:k])
    assert np.array_equal(whole.ids("x")[:k], part.ids("x"))


# ------------------------------------------------------------- errors


def test_missing_nltk_data_is_a_located_error_saying_how_to_get_it(monkeypatch, tmp_path):
    import nltk

    from axes import _nltk

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.delenv("MULTIGRID_NO_DOWNLOAD", raising=False)
    monkeypatch.setattr(_nltk, "_download_tried", set())
    monkeypatch.setattr(nltk, "download", offline)
    with pytest.raises(SpecError) as err:
        loads_spec("group w = words\npos upos (tagset=universal)")
    (d,) = err.value.diagnostics
    assert (d.loc.line, d.loc.column) == (2, 1)
    assert d.message.startswith("NLTK data not found: punkt_tab averaged_perceptron_tagger_eng universal_tagset")
    assert "python -m nltk.downloader punkt_tab averaged_perceptron_tagger_eng universal_tagset" in d.hint
    assert "NLTK_DATA" in d.hint


def test_option_errors():
    with pytest.raises(SpecError) as err:
        loads_spec("pos a (tagset=brown)\npos b (prefix=maybe)\npos c (lang=eng)")
    assert [(d.loc.line, d.message) for d in err.value.diagnostics] == [
        (1, "option 'tagset': expected one of penn, universal, not 'brown'"),
        (2, "option 'prefix': expected true or false (or the bare option name for true)"),
        (3, "unknown option 'lang'"),
    ]


def test_offline_nltk_messages_are_ours_alone(monkeypatch, tmp_path, capsys):
    """NLTK's own "[nltk_data] Error loading" lines are not shown before our
    located error, and with MULTIGRID_NO_DOWNLOAD the error says no download
    was attempted."""
    import nltk

    from axes import _nltk

    def noisy_download(package, **options):
        print(f"[nltk_data] Error loading {package}: <urlopen error offline>")
        print(f"[nltk_data] Error loading {package}", file=sys.stderr)
        return False

    monkeypatch.setattr(nltk, "download", noisy_download)
    monkeypatch.setattr(_nltk, "_found", lambda package: False)
    monkeypatch.setattr(_nltk, "_download_tried", set())
    monkeypatch.delenv("MULTIGRID_NO_DOWNLOAD", raising=False)
    assert _nltk.missing("punkt_tab") == ["punkt_tab"]
    out, err = capsys.readouterr()
    assert "[nltk_data]" not in out + err
    assert "(and downloading it failed)" in _nltk.missing_message(["punkt_tab"])[0]
    monkeypatch.setenv("MULTIGRID_NO_DOWNLOAD", "1")
    message, hint = _nltk.missing_message(["punkt_tab"])
    assert "no download was attempted: MULTIGRID_NO_DOWNLOAD is set" in message and "nltk.downloader" in hint
