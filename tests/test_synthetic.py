"""The synthetic fairy tales: spans exactly aligned with the text, seeded
determinism, lazy documents, and planted structure that is real (it shapes
the words) while names alone do not give the roles away."""

import hashlib
import inspect
import math
import random
import re
from collections import Counter

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from model.cli import main as cli
from grid_dsl import compile_text, load_spec
from grid_dsl.data import synthetic_lexicon as lex
from grid_dsl.data.corpora import Corpus, SourceDocument
from grid_dsl.language.diagnostics import UserError
from grid_dsl.language.formatter import format_text
from grid_dsl.data.synthetic import main as synthetic_main
from grid_dsl.data.synthetic import synthetic_corpus, synthetic_story, write_story_files

PLANTED = ROOT / "examples" / "planted.axes"
NAMES = {name for names in lex.NAMES.values() for name in names}
WORD = re.compile(r"[A-Za-z']+")


@pytest.fixture(scope="module")
def stories() -> list[SourceDocument]:
    return list(synthetic_corpus(200, seed=0).documents())


def mention_pattern(role: str) -> re.Pattern:
    """Every way a character of `role` may be written."""
    nouns = "|".join(re.escape(n) for g in lex.NOUNS[role].values() for n in g)
    adjectives = "|".join(lex.ROLE_WORDS[role]["adj"])
    names = "|".join(NAMES)
    titled = f"(?:king|queen) (?:{names})" if role == "ROYAL" else f"(?:{names})"
    return re.compile(f"(?:the|a|an) (?:(?:{adjectives}) )?(?:{nouns})|{titled}", re.IGNORECASE)


# ---------------------------------------------------------------- alignment


def assert_aligned(doc: SourceDocument) -> None:
    text, layers = doc.text, doc.annotations
    assert set(layers) == {"role", "stage", "speaker"}
    patterns = {role: mention_pattern(role) for role in lex.ROLES}
    roles = layers["role"]
    for start, end, label in roles:
        assert 0 <= start < end <= len(text)
        assert patterns[label].fullmatch(text[start:end]), (text[start:end], label)
    assert all(a[1] < b[0] for a, b in zip(roles, roles[1:])), "role spans are sorted, apart, never touching"
    quotes = [(m.start(1), m.end(1)) for m in re.finditer(r'"([^"]*)"', text)]
    assert [(s, e) for s, e, _ in layers["speaker"]] == quotes, "each quotation is one speaker span"
    assert {label for _, _, label in layers["speaker"]} <= set(lex.ROLES)
    stages = layers["stage"]
    assert [label for _, _, label in stages] == list(lex.STAGES)
    assert stages[0][0] == 0 and stages[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(stages, stages[1:])), "stages tile the text"
    assert all(text[s - 2 : s] == "\n\n" and text[s] != "\n" for s, _, _ in stages[1:]), "a stage starts a paragraph"


def test_every_span_is_exactly_aligned(stories):
    for doc in stories:
        assert_aligned(doc)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**40), index=st.integers(0, 10**9))
def test_any_story_of_any_seed_is_aligned(seed, index):
    assert_aligned(synthetic_story(index, seed))


def test_every_name_and_noun_in_the_text_is_a_role_mention(stories):
    """No character is mentioned without a span: every cast name, and every
    noun phrase naming a character, lies inside a role span."""
    names = "|".join(NAMES)
    nouns = "|".join(re.escape(n) for role in lex.ROLES for g in lex.NOUNS[role].values() for n in g)
    adjectives = "|".join(a for role in lex.ROLES for a in lex.ROLE_WORDS[role]["adj"])
    anywhere = re.compile(rf"\b(?:{names})\b|\b(?:the|a|an) (?:(?:{adjectives}) )?(?:{nouns})\b", re.IGNORECASE)
    found = 0
    for doc in stories[:50]:
        covered = [(s, e) for s, e, _ in doc.annotations["role"]]
        for m in anywhere.finditer(doc.text):
            assert any(s <= m.start() and m.end() <= e for s, e in covered), (m.group(0), doc.name)
            found += 1
    assert found > 50 * 20


def test_the_text_reads_like_a_tale(stories):
    text = stories[0].text
    title, first = text.split("\n\n")[:2]
    assert title == title.upper() and first[0].isupper()
    assert any(first.startswith(once + ",") for once in lex.WORDS["once"])
    for doc in stories:
        assert doc.text.isascii() and doc.text.endswith(".\n")
        paragraphs = doc.text[:-1].split("\n\n")
        assert all(p and "\n" not in p and p == p.strip() and "  " not in p for p in paragraphs)
        assert len(paragraphs) >= 12
    verbs = "|".join(v for role in lex.ROLES for v in lex.ROLE_WORDS[role]["say"])
    said = re.compile(rf'," (?:{verbs}) (?:the|King|Queen|[A-Z][a-z]+\.)')  # '"...," said the king.'
    assert sum(bool(said.search(doc.text)) for doc in stories) > 180


# ---------------------------------------------------------------- determinism and size


def test_the_same_seed_gives_the_same_bytes_on_every_machine():
    """Pinned: story 0 of seed 0 (text and spans). A change here changes
    every synthetic dataset: bump GENERATOR_VERSION and update the digest."""
    doc = synthetic_story(0, seed=0)
    assert doc.text.startswith("ANTON AND THE FLOWER THAT BREAKS ALL SPELLS\n\nLong ago, when wishing still helped,")
    digest = hashlib.sha256((doc.text + repr(doc.annotations)).encode()).hexdigest()
    assert digest == PINNED_DIGEST


PINNED_DIGEST = "cd4c4e326c753f8bc478069cc9bc0990513955aff6c76cc2527b2cd96c65b507"


def test_documents_are_deterministic_lazy_and_independent_of_corpus_size():
    corpus = synthetic_corpus(12, seed=3)
    assert isinstance(corpus, Corpus) and len(corpus) == 12 and corpus.name == "synthetic:stories=12,seed=3"
    assert inspect.isgenerator(corpus.documents())
    first = list(corpus.documents())
    assert list(corpus.documents()) == first == list(synthetic_corpus(12, seed=3).documents())
    assert list(synthetic_corpus(5, seed=3).documents()) == first[:5]
    assert [d.name for d in first] == [f"story_{i:06d}" for i in range(12)]
    assert len({d.text for d in first}) == 12


def test_different_seeds_give_different_stories():
    a = [d.text for d in synthetic_corpus(20, seed=0).documents()]
    b = [d.text for d in synthetic_corpus(20, seed=1).documents()]
    assert all(x != y for x, y in zip(a, b))


def test_size_scales_with_stories():
    sizes = {n: sum(len(d.text) for d in synthetic_corpus(n, seed=0).documents()) for n in (10, 40)}
    assert 2000 * 10 < sizes[10] < 4000 * 10
    assert 3.5 < sizes[40] / sizes[10] < 4.5


def test_fingerprint_changes_with_the_content_only():
    fp = synthetic_corpus(10, seed=0).fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", fp)
    assert fp == synthetic_corpus(10, seed=0).fingerprint()
    assert len({fp, synthetic_corpus(11, seed=0).fingerprint(), synthetic_corpus(10, seed=1).fingerprint()}) == 3


@pytest.mark.parametrize("stories, seed, message", [
    (0, 0, "stories must be a whole number >= 1, got 0"),
    ("5", 0, "stories must be a whole number >= 1, got '5'"),
    (5, -1, "seed must be a whole number >= 0, got -1"),
    (True, 0, "stories must be a whole number >= 1, got True"),
])
def test_bad_sizes_and_seeds_are_user_errors(stories, seed, message):
    with pytest.raises(UserError, match=re.escape(message)):
        synthetic_corpus(stories, seed)


# ---------------------------------------------------------------- the structure is real


def mutual_information(pairs) -> float:
    """I(A; B) in bits, from (a, b) samples (plug-in estimate)."""
    n = len(pairs)
    a, b, ab = Counter(x for x, _ in pairs), Counter(y for _, y in pairs), Counter(pairs)
    return sum(c / n * math.log2(c * n / (a[x] * b[y])) for (x, y), c in ab.items())


def shuffled(pairs, seed=0):
    labels = [y for _, y in pairs]
    random.Random(seed).shuffle(labels)
    return [(x, y) for (x, _), y in zip(pairs, labels)]


def test_roles_shape_the_words_after_a_name_but_a_name_does_not_tell_the_role(stories):
    """After a bare name ("Hans ..."), the next word depends on the role: it
    carries most of a bit about it, against next to nothing once the labels
    are shuffled. The name itself carries almost none: every name plays
    every role in some story."""
    next_word, name_role = [], []
    for doc in stories:
        for start, end, role in doc.annotations["role"]:
            if doc.text[start:end] in NAMES:
                after = WORD.search(doc.text, end)
                next_word.append((after.group(0).lower(), role))
                name_role.append((doc.text[start:end], role))
    assert len(next_word) > 3000
    gain = mutual_information(next_word)
    assert gain > 0.6 and gain - mutual_information(shuffled(next_word)) > 0.5
    assert mutual_information(name_role) < 0.15
    roles_of = {}
    for name, role in name_role:
        roles_of.setdefault(name, set()).add(role)
    assert all(len(roles_of[name]) >= 3 for name in NAMES)  # VILLAIN, HERO, HELPER (ROYAL is "King Otto")


def test_each_speaker_talks_their_own_way(stories):
    first_word = [(WORD.search(doc.text, s).group(0), role) for doc in stories
                  for s, _, role in doc.annotations["speaker"]]
    assert {role for _, role in first_word} == set(lex.ROLES)
    assert mutual_information(first_word) > 1.2 > 0.1 > mutual_information(shuffled(first_word))


def test_each_stage_has_its_own_vocabulary(stories):
    words = [(w.lower(), stage) for doc in stories[:80] for s, e, stage in doc.annotations["stage"]
             for w in WORD.findall(doc.text[s:e])]
    assert mutual_information(words) > 0.4 > 0.05 > mutual_information(shuffled(words))


# ---------------------------------------------------------------- the planted axes


def test_planted_axes_paint_the_spans(stories):
    assert format_text(PLANTED.read_text(), str(PLANTED)) == PLANTED.read_text()  # canonical form
    plan = load_spec(PLANTED)
    assert [(f.axis, f.mode) for f in plan.feeds] == [("role", "predict"), ("stage", "predict"), ("speaker", "predict")]
    assert not any(axis.causal for axis in plan.axes)
    doc = stories[1]
    grid = compile_text(plan, doc.text, doc.annotations)
    for layer in ("role", "stage", "speaker"):
        labels = grid.labels(layer)
        assert len(labels) == len(doc.text)
        for start, end, label in doc.annotations[layer]:
            assert set(labels[start:end]) == {label}
        inside = sum(e - s for s, e, _ in doc.annotations[layer])
        assert sum(label != "_" for label in labels) == inside


def test_multigrid_check_reads_a_story_and_its_spans(tmp_path, capsys):
    [path] = write_story_files(synthetic_corpus(1, seed=7), tmp_path)
    assert (tmp_path / "story_000000.txt.spans.jsonl").is_file()
    code = cli.main(["check", str(PLANTED), "--file", str(path), "--verify", "--cuts", "8"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    assert f"sample: {path}, {len(path.read_text()):,} characters" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()[:2][1:] == ["annotation"]}
    assert set(rows) == {"role", "stage", "speaker"}
    assert "100.0%" in rows["stage"] and "predict" in rows["role"]


def test_the_module_command_writes_stories(tmp_path, capsys):
    assert synthetic_main([str(tmp_path / "out"), "--stories", "2", "--seed", "4"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "story_000000.txt", "story_000000.txt.spans.jsonl", "story_000001.txt", "story_000001.txt.spans.jsonl"]
    assert (tmp_path / "out" / "story_000001.txt").read_text() == synthetic_story(1, seed=4).text
    assert synthetic_main([str(tmp_path / "bad"), "--stories", "0"]) == 2
    assert "stories must be a whole number >= 1" in capsys.readouterr().err
