"""Chunk cascades: exactly nltk.RegexpParser's chunks, nested, located errors."""

import re

import nltk
import numpy as np
import pytest
from conftest import SHARED, need_nltk

from grid_dsl import SpecError, compile_text, loads_spec

# Every kind of rule NLTK knows, over several stages: chunk {...}, chink }...{,
# split ...}{..., merge ...{}..., a second stage with the same label, and
# stages that read earlier chunks as tags (PP holds an NP, CLAUSE a VP).
GRAMMAR = r"""
NP: {<DT|PDT|PRP\$|POS|JJ.*|CD|NN.*>+}   # greedy noun groups
    }<POS>{                               # chink possessive markers
    <NN.*>}{<DT|PDT|PRP\$>                # split two noun groups
    <CD>}{<NN.*>
    <CD>{}<NNS>                           # merge back "3 shares"
NP: {<NP><CC><NP>}
PP: {<IN|TO><NP>}
VP: {<MD>?<VB.*><RB.*>*<NP|PP>*}
CLAUSE: {<NP><VP>}
"""


def treebank_sents():
    try:
        return list(nltk.corpus.treebank.tagged_sents())
    except LookupError:
        pytest.skip(f"NLTK's treebank sample not found: run `python -m nltk.downloader treebank` "
                    f"or set NLTK_DATA to a folder that has it (CI uses {SHARED / 'nltk_data'})")


def as_text(sents):
    """One sentence per line, tokens joined by single spaces, and the gold
    tags as annotation spans."""
    lines, gold, offset = [], [], 0
    for sent in sents:
        for word, tag in sent:
            gold.append((offset, offset + len(word), tag))
            offset += len(word) + 1
        lines.append(" ".join(word for word, _ in sent))
    return "\n".join(lines), gold


def gold_spec(tags, grammar=GRAMMAR, options=""):
    labels = ", ".join(f'"{tag}"' for tag in tags)
    return (f"annotation gold (labels=[{labels}])\ngroup lines = lines\n"
            f'chunks np over gold within lines {options}"""{grammar}"""\n')


def nltk_spans(parser, sents):
    """(start, end, label, depth, sentence) of every chunk NLTK finds, from
    the token offsets of as_text's layout."""
    found, line_start = [], 0
    for number, sent in enumerate(sents):
        starts, offset = [], line_start
        for word, _ in sent:
            starts.append(offset)
            offset += len(word) + 1
        ends = [s + len(word) for s, (word, _) in zip(starts, sent)]

        def walk(tree, first, depth):
            """Records the chunks under `tree`, whose first token is `first`;
            returns the number of tokens under it."""
            count = 0
            for child in tree:
                if isinstance(child, nltk.Tree):
                    size = walk(child, first + count, depth + 1)
                    found.append((starts[first + count], ends[first + count + size - 1], child.label(), depth, number))
                    count += size
                else:
                    count += 1
            return count

        walk(parser.parse(sent), 0, 1)
        line_start = offset
    return sorted(found)


def spans_of(grid, name):
    spans = grid.spans(name)
    vocab = grid.vocab(name)
    return sorted(zip(spans.start.tolist(), spans.end.tolist(), [vocab[i] for i in spans.label], spans.depth.tolist(),
                      spans.parent.tolist()))


@pytest.fixture(scope="module")
def treebank():
    sents = treebank_sents()
    text, gold = as_text(sents)
    tags = sorted({tag for sent in sents for _, tag in sent})
    return sents, text, gold, tags


@pytest.fixture(scope="module")
def treebank_grid(treebank):
    sents, text, gold, tags = treebank
    return compile_text(loads_spec(gold_spec(tags)), text, {"gold": gold})


def innermost_labels(n, spans):
    """Reference stream: each character's innermost chunk (label, start), one span at a time."""
    label = np.full(n, "", dtype=object)
    start = np.full(n, -1)
    for s, e, name, depth, _ in sorted(spans, key=lambda r: r[3]):
        label[s:e] = name
        start[s:e] = s
    return label, start


@pytest.mark.slow
def test_chunks_are_regexpparsers_on_the_treebank(treebank, treebank_grid):
    sents, text, _, _ = treebank
    assert len(sents) == 3914
    expected = nltk_spans(nltk.RegexpParser(GRAMMAR), sents)
    assert spans_of(treebank_grid, "np") == expected
    assert {depth for *_, depth, _ in expected} >= {1, 2, 3, 4}  # the cascade really nests
    label, _ = innermost_labels(len(text), expected)
    shown = np.array(treebank_grid.labels("np"), dtype=object)
    assert np.array_equal(shown, np.where(label == "", "_", label))


def test_vocabulary_is_chunk_labels_in_grammar_order(treebank_grid):
    assert treebank_grid.vocab("np") == ("_", "NP", "PP", "VP", "CLAUSE")
    axis = treebank_grid.plan.axis("np")
    assert axis.has_spans and axis.level == 2 and not axis.causal
    assert "a chunk rule can look at any later tag of the sentence" in str(axis.lookahead)


def test_chunks_nest_inside_their_parent_spans_and_chunks(treebank_grid):
    chunks, lines = treebank_grid.spans("np"), treebank_grid.spans("lines")
    assert np.all(lines.start[chunks.parent] <= chunks.start)
    assert np.all(chunks.end <= lines.end[chunks.parent])
    assert np.all(np.diff(chunks.start) >= 0)  # sorted, outer spans first
    open_chunks = []  # (end, depth, parent) of the chunks enclosing the current one
    for s, e, depth, parent in zip(chunks.start, chunks.end, chunks.depth, chunks.parent):
        while open_chunks and (open_chunks[-1][0] <= s or open_chunks[-1][2] != parent):
            open_chunks.pop()
        assert depth == len(open_chunks) + 1
        if open_chunks:
            assert e <= open_chunks[-1][0]
        open_chunks.append((e, depth, parent))


def test_bio_encoding_marks_each_innermost_chunk(treebank):
    sents, _, _, tags = treebank
    text, gold = as_text(sents[:400])
    grid = compile_text(loads_spec(gold_spec(tags, options="(encoding=bio) ")), text, {"gold": gold})
    plain = compile_text(loads_spec(gold_spec(tags)), text, {"gold": gold})
    assert grid.vocab("np") == ("_", "B-NP", "I-NP", "B-PP", "I-PP", "B-VP", "I-VP", "B-CLAUSE", "I-CLAUSE")
    spans = spans_of(plain, "np")
    label, start = innermost_labels(len(text), spans)
    expected = ["_" if not name else ("B-" if start[t] == t else "I-") + name for t, name in enumerate(label)]
    shown = grid.labels("np")
    assert shown == expected
    # Well formed: an I- label continues a chunk begun on an earlier character.
    for t, tag in enumerate(shown):
        if tag.startswith("I-"):
            assert t > 0 and shown[t - 1] != "_"
    bio = grid.spans("np")
    assert [grid.vocab("np")[i] for i in bio.label] == ["B-" + plain.vocab("np")[i] for i in plain.spans("np").label]


def test_without_within_the_document_is_one_sequence():
    text = "a b\nc d e"
    spec = 'group t = tokens\nchunks pairs over t """P: {<TOKEN><TOKEN>}"""'
    grid = compile_text(loads_spec(spec), text)
    spans = grid.spans("pairs")
    assert [(text[s:e], p) for s, e, p in zip(spans.start, spans.end, spans.parent)] == [("a b", -1), ("c d", -1)]
    assert grid.plan.axis("pairs").level == 1


def test_tokens_crossing_a_parent_boundary_are_left_out():
    text = "ab cd ef"
    spec = ('annotation tags (labels=[X])\ngroup w = matches /ab c|d ef/\n'
            'chunks c over tags within w """C: {<X>+}"""')
    grid = compile_text(loads_spec(spec), text, {"tags": [(0, 2, "X"), (3, 5, "X"), (6, 8, "X")]})
    spans = grid.spans("c")
    assert [text[s:e] for s, e in zip(spans.start, spans.end)] == ["ab", "ef"]


def test_bio_over_axis_is_read_as_plain_tags():
    text = "the old dog"
    tags = [(0, 3, "DT"), (4, 7, "JJ"), (8, 11, "NN")]
    results = []
    for encoding in ("span", "bio"):
        spec = f'annotation pos (labels=[DT, JJ, NN], encoding={encoding})\nchunks np over pos """NP: {{<DT><JJ>*<NN>}}"""'
        grid = compile_text(loads_spec(spec), text, {"pos": tags})
        results.append(grid.labels("np"))
    assert results[0] == results[1] == ["NP"] * len(text)


def test_empty_and_tagless_texts_give_no_chunks():
    plan = loads_spec('annotation pos (labels=[N])\ngroup l = lines\nchunks np over pos within l """NP: {<N>+}"""')
    for text in ("", "\n\n", "no tags here"):
        grid = compile_text(plan, text)
        assert len(grid.spans("np")) == 0 and list(grid.ids("np")) == [0] * len(text)
    plan = loads_spec('annotation pos (labels=[N])\ngroup q = matches /"[^"]*"/\nchunks np over pos within q """NP: {<N>+}"""')
    grid = compile_text(plan, "no quotes", {"pos": [(0, 2, "N")]})  # tags, but no span to chunk within
    assert len(grid.spans("np")) == 0


# ------------------------------------------------------------------- errors


def error_of(spec: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        loads_spec(spec)
    return info.value


def test_invalid_rule_is_located_on_its_line():
    spec = ('annotation pos (labels=[DT, NN])\nchunks np over pos """\n'
            '  NP: {<DT><NN>}\n'
            '      {<DT>(}\n'
            '"""\n')
    err = error_of(spec)
    d = err.diagnostics[0]
    assert "invalid chunk grammar: Illegal chunk pattern: {<DT>(}" in d.message
    assert (d.loc.line, d.loc.column, d.loc.end_column) == (4, 7, 14)
    assert "(missing ))" in d.message
    assert "\n          {<DT>(}\n          ^^^^^^^\n" in err.render()


def test_invalid_rule_on_the_first_line_counts_the_quotes():
    err = error_of('annotation pos (labels=[DT])\nchunks np over pos """NP: <DT>"""')
    d = err.diagnostics[0]
    assert "Illegal chunk pattern: <DT>" in d.message
    assert (d.loc.line, d.loc.column, d.loc.end_column) == (2, 27, 31)


def test_rule_before_a_stage_label_is_located():
    err = error_of('annotation pos (labels=[DT])\nchunks np over pos """\n  {<DT>}\n"""')
    d = err.diagnostics[0]
    assert "Expected stage marker" in d.message
    assert (d.loc.line, d.loc.column) == (3, 3)


def test_grammar_without_rules():
    err = error_of('annotation pos (labels=[DT])\nchunks np over pos """\n  # nothing yet\n"""')
    assert err.messages == ["the chunk grammar has no rules"]
    assert err.diagnostics[0].loc.line == 2


def test_over_axis_without_spans():
    err = error_of('group w = words\nposition p = w\nchunks np over p """NP: {<0>}"""')
    d = err.diagnostics[0]
    assert d.message == "'p' has no spans to chunk"
    assert (d.loc.line, d.loc.column) == (3, 16)


def test_within_axis_without_spans():
    err = error_of('group w = words\nposition p = w\nchunks np over w within p """NP: {<WORD>}"""')
    d = err.diagnostics[0]
    assert d.message == "'p' has no spans to chunk within"
    assert (d.loc.line, d.loc.column) == (3, 25)


def test_unknown_axis():
    err = error_of('group w = words\nchunks np over wrds """NP: {<WORD>}"""')
    d = err.diagnostics[0]
    assert d.message == "unknown axis 'wrds'"
    assert (d.loc.line, d.loc.column) == (2, 16)


def test_unknown_option():
    err = error_of('group w = words\nchunks np over w (encodng=bio) """NP: {<WORD>}"""')
    assert err.messages == ["unknown option 'encodng'"]
    assert "did you mean 'encoding'" in err.diagnostics[0].hint


def test_labels_nltk_cannot_read():
    err = error_of('annotation pos (labels=["A<B", C])\nchunks np over pos """NP: {<C>}"""')
    assert "reserves (< > { })" in err.messages[0] and "A<B" in err.messages[0]


def test_unknown_literal_tag_is_a_located_warning():
    plan = loads_spec('annotation pos (labels=[DT, NN])\nchunks np over pos """\n  NP: {<DT><NNS>}\n  PP: {<NP>}\n"""')
    (warning,) = plan.warnings
    assert warning.message == "tag 'NNS' never occurs, so this rule cannot match it"
    assert "did you mean 'NN'" in warning.hint
    assert (warning.loc.line, warning.loc.column, warning.loc.end_column) == (3, 13, 16)


def test_chunks_over_pos_agree_with_regexpparser_on_its_tags(grimm):
    """Over the POS axis (when it is installed): the chunks of each sentence
    are RegexpParser's on that sentence's tagged tokens."""
    pytest.importorskip("axes.pos", reason="the POS axis (axes/pos.py) is not part of this installation")
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng")
    text = grimm[:20000]
    grammar = "NP: {<DT|DET>?<JJ.*|ADJ>*<NN.*|NOUN|PROPN>+}\nVP: {<VB.*|VERB><NP>*}"
    grid = compile_text(loads_spec(f'group s = sentences\npos tags\nchunks c over tags within s """{grammar}"""'), text)
    tags, sentences = grid.spans("tags"), grid.spans("s")
    vocab = grid.vocab("tags")
    parser = nltk.RegexpParser(grammar)
    expected = []
    for k, (s, e) in enumerate(zip(sentences.start, sentences.end)):
        inside = np.flatnonzero((tags.start >= s) & (tags.end <= e) & (tags.depth == 1))
        if len(inside) == 0:
            continue
        sent = [(int(i), vocab[tags.label[i]]) for i in inside]

        def walk(tree, depth):
            for child in tree:
                if isinstance(child, nltk.Tree):
                    leaves = child.leaves()
                    expected.append((int(tags.start[leaves[0][0]]), int(tags.end[leaves[-1][0]]), child.label(), depth, k))
                    walk(child, depth + 1)

        walk(parser.parse(sent), 1)
    assert spans_of(grid, "c") == sorted(expected)
    assert re.search(r"NP", " ".join(grid.labels("c")))


def test_a_rule_that_backtracks_forever_is_stopped_at_the_grammar(monkeypatch):
    monkeypatch.setattr(nltk.redos, "DEFAULT_TIMEOUT", 0.05)
    plan = loads_spec('annotation pos (labels=[A, B])\nchunks np over pos """NP: {(<A>|<A><A>)*<B>}"""')
    text = " ".join(["a"] * 40)
    with pytest.raises(SpecError) as info:
        compile_text(plan, text, {"pos": [(2 * i, 2 * i + 1, "A") for i in range(40)]})
    d = info.value.diagnostics[0]
    assert d.message == "a rule of the chunk grammar of 'np' took more than 0.05 s on one span"
    assert (d.loc.line, d.loc.column) == (2, 20)
