"""`multigrid stats`: entropies and leak estimates from counts, the causal
lag derived from a stream, the LEAK rule, the report on a dataset directory
(written by hand to the CONTRACTS layout, and compiled by `multigrid
compile`), and the facts of ../shared/data/README.md on Grimm's tales."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, need_nltk
from grid_dsl import compile_text, loads_spec
from model.cli.main import main as cli_main
from grid_dsl.data.manifest import AxisEntry, SplitSize
from grid_dsl.data.leak import (LEAK_MIN_BITS, KeyCounts, causal_lag, combine, entropy_of_counts, leak_bits, leak_flag,
                           next_entropy, split_stats)

# ------------------------------------------------------------ counting


def test_entropy_of_counts_exact():
    assert entropy_of_counts([5, 5, 5, 5]) == pytest.approx(2.0)
    assert entropy_of_counts([3, 1]) == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    assert entropy_of_counts([7, 0]) == 0.0
    assert entropy_of_counts([]) == 0.0


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2), st.integers(0, 6)), min_size=1, max_size=50))
def test_combine_equal_keys_iff_equal_rows(rows):
    columns = [np.array(c) for c in zip(*rows)]
    keys = combine(columns, [5, 3, 7]).tolist()
    seen = {}
    for row, key in zip(rows, keys):
        assert seen.setdefault(row, key) == key  # equal rows, equal keys
    assert len(set(keys)) == len(seen)  # and no two different rows share a key


def test_key_counts_merge_chunks():
    counts = KeyCounts()
    counts.add(np.array([3, 1, 3]))
    counts.add(np.array([1, 9, 3]))
    assert counts.keys.tolist() == [1, 3, 9] and counts.counts.tolist() == [2, 3, 1]
    assert counts.total == 6 and counts.cells == 3


def test_next_entropy_exact():
    # "abab...": the next symbol is fixed by the current one
    assert next_entropy(np.tile([0, 1], 50)) == pytest.approx(0.0)
    # after 0 comes 1 or 2 equally often, after 1 or 2 comes 0: H = 1/2 bit per pair (half the pairs start at 0)
    main = np.tile([0, 1, 0, 2], 100)
    assert next_entropy(main) == pytest.approx(0.5, abs=0.01)
    # an axis that shows the next symbol removes all of it: the leak is the whole H(m[t+1] | m[t])
    ahead = np.concatenate([main[1:], [0]])
    assert next_entropy(main, ahead) == pytest.approx(0.0)
    assert leak_bits(main, ahead) == pytest.approx(next_entropy(main))
    # an axis that repeats the current symbol tells nothing more
    assert leak_bits(main, main) == pytest.approx(0.0)


def test_pairs_across_documents_are_not_counted():
    # inside each document "0 1" always; across the boundary 1 -> 0 or 1 -> 2 would add uncertainty
    main = np.array([0, 1, 2, 1, 0, 1, 2, 1])
    assert next_entropy(main, doc_starts=[0, 4]) == pytest.approx(next_entropy(main[:4]))
    assert next_entropy(main) > next_entropy(main, doc_starts=[0, 4])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=2, max_size=200))
def test_leak_is_between_zero_and_the_next_symbol_entropy(pairs):
    main, axis = (np.array(c) for c in zip(*pairs))
    leak = leak_bits(main, axis)
    assert -1e-9 <= leak <= next_entropy(main) + 1e-9


# ------------------------------------------------------------ the lag


@pytest.mark.parametrize("ids, doc_starts, expected", [
    # a span's label appears from the first position after it, until the next span ends
    ([0, 1, 1, 0, 2, 2, 2, 0, 0, 3], [], [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]),
    # adjacent spans of different labels; the last span never ends
    ([1, 1, 2, 2, 0, 3], [], [0, 0, 1, 1, 2, 2]),
    # a run of one label is one span, however long
    ([4, 4, 4, 4, 0], [], [0, 0, 0, 0, 4]),
    # a document start ends every span and resets the lag
    ([1, 1, 1, 2, 2, 0], [0, 3], [0, 0, 0, 0, 0, 2]),
    ([], [], []),
])
def test_causal_lag_exact(ids, doc_starts, expected):
    assert causal_lag(np.array(ids, dtype=np.int64), doc_starts).tolist() == expected


@given(st.lists(st.integers(0, 3), max_size=60), st.data())
def test_causal_lag_is_prefix_stable_and_chunkable(ids, data):
    ids = np.array(ids, dtype=np.int64)
    whole = causal_lag(ids)
    cut = data.draw(st.integers(0, len(ids)))
    # the lag of a prefix is the prefix of the lag: its value at t depends on ids[:t + 1] only
    assert causal_lag(ids[:cut]).tolist() == whole[:cut].tolist()
    # computing the rest from the id and the lag just before it gives the same stream
    rest = causal_lag(ids[cut:], previous=int(ids[cut - 1]) if cut else 0, carry=int(whole[cut - 1]) if cut else 0)
    assert rest.tolist() == whole[cut:].tolist()


# ------------------------------------------------------------ the rule


@pytest.mark.parametrize("mode, causal, leak, lagged, flag", [
    ("oracle", False, 0.50, 0.25, "LEAK"),
    ("context", False, 0.50, 0.25, "LEAK"),
    ("predict", False, 0.50, 0.25, "looks ahead"),
    (None, False, 0.50, 0.25, "looks ahead"),
    ("context", True, 0.50, 0.25, "hint"),        # declared causal: the estimate cannot tell; the prefix check can
    ("predict", True, 0.50, 0.25, ""),
    ("oracle", False, 0.04, 0.00, ""),            # not more than 0.05 bits beyond the lag
    ("oracle", False, 0.80, 0.70, ""),            # more than 0.05 bits, but not 1.5 x the lag
    ("oracle", False, 0.30, 0.20, ""),            # exactly 1.5 x: not clearly more
    ("oracle", False, 0.31, 0.20, "LEAK"),
])
def test_leak_flag_rule(mode, causal, leak, lagged, flag):
    assert leak_flag(mode, causal, leak, lagged) == flag


def test_a_failed_prefix_check_is_a_leak_whatever_the_figures():
    assert leak_flag("context", True, 0.0, 0.0, prefix_failed=True) == "LEAK"
    assert leak_flag("predict", True, 0.0, 0.0, prefix_failed=True) == ""  # predicted: its cost is scored


# ------------------------------------------------------ chunked = whole


class ArrayDataset:
    """The reader API of grid_dsl.data.dataset.Dataset over arrays in memory."""

    def __init__(self, main, axes, docs, modes):
        self.main_vocab = list(range(int(main.max()) + 1 if len(main) else 1))
        self._main, self._axes, self._docs = main, axes, np.asarray(docs, dtype=np.int64)
        self.axes = [AxisEntry(name=name, kind="test", vocab=("_",) + tuple(f"L{i}" for i in range(1, int(ids.max()) + 1 if len(ids) else 1)),
                               dtype="uint32", causal=False, lookahead="unbounded", mode=modes[name], weight=1.0, dim=None,
                               forced=False, prefix_check=None) for name, ids in axes.items()]
        self.manifest = SimpleNamespace(splits={"train": SplitSize(len(main), len(docs))})

    def main(self, split):
        return self._main

    def axis(self, split, name):
        return self._axes[name]

    def doc_starts(self, split):
        return self._docs


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=120), st.data())
def test_split_stats_read_in_chunks_equal_the_whole_arrays(pairs, data):
    main, axis = (np.array(c, dtype=np.int64) for c in zip(*pairs))
    n = len(main)
    docs = sorted({0} | set(data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=4))) - ({n} if n == 1 else set()))
    docs = [d for d in docs if d < n]
    chunk = data.draw(st.integers(1, n + 1))
    ds = ArrayDataset(main, {"a": axis}, docs, {"a": "oracle"})
    stats = split_stats(ds, "train", chunk=chunk)
    a = stats.axes[0]
    assert stats.next_entropy_bits == pytest.approx(next_entropy(main, doc_starts=docs), abs=1e-9)
    assert a.leak_bits == pytest.approx(leak_bits(main, axis, docs), abs=1e-9)
    assert a.lagged_leak_bits == pytest.approx(leak_bits(main, causal_lag(axis, docs), docs), abs=1e-9)
    assert a.coverage == pytest.approx(np.mean(axis != 0))
    pairs = [t for t in range(n - 1) if t + 1 not in docs]
    assert stats.pairs == len(pairs)
    if pairs:  # Miller-Madow: (cells(m0,a,m1) - cells(m0,a) - cells(m0,m1) + cells(m0)) / (2 N ln 2)
        cells = [len({tuple(x[t] for x in cols) for t in pairs})
                 for cols in ([main, axis, main[1:]], [main, axis], [main, main[1:]], [main])]
        bias = (cells[0] - cells[1] - cells[2] + cells[3]) / (2 * len(pairs) * math.log(2))
        assert a.leak_bias_bits == pytest.approx(max(0.0, bias), abs=1e-12)


# --------------------------------------------------- Grimm's tales facts

GRIMM_SPEC = """main chars
group tokens = tokens
pos upos (tagset=universal)
lag upos_prev = upos after tokens
"""


def test_grimm_next_character_entropies(grimm):
    """../shared/data/README.md: H(next | char) = 3.375 bits; with a universal
    tag painted over each word 2.862; with the tag of the previous complete
    token 3.016."""
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")
    grid = compile_text(loads_spec(GRIMM_SPEC, "grimm.axes"), grimm)
    main, upos, upos_prev = grid.main, grid.ids("upos"), grid.ids("upos_prev")

    assert next_entropy(main) == pytest.approx(3.375, abs=0.001)
    painted = next_entropy(main, upos)
    assert painted == pytest.approx(2.862, abs=0.001)  # H(m[t+1] | m[t], a[t])

    # The honest, causal figure: the tag of the previous complete token at t.
    # The spec's `lag ... after tokens` and the lag `multigrid stats` derives
    # from the painted stream itself (runs of one tag) agree to 0.01 bits.
    lagged = next_entropy(main, upos_prev)
    derived = next_entropy(main, causal_lag(upos))
    assert lagged == pytest.approx(3.1225, abs=0.001)
    assert derived == pytest.approx(3.1191, abs=0.001)
    assert abs(lagged - derived) < 0.01
    # The README's 3.016 is the lagged tag read ONE POSITION LATER, at t + 1:
    # the tag of the token that is complete before the predicted character,
    # visible from that token's last character. That carries the boundary
    # leak of docs/design.md (the label says the token ends at t), worth 0.10 bits.
    at_next = next_entropy(main, np.concatenate([upos_prev[1:], [0]]))
    assert at_next == pytest.approx(3.016, abs=0.01)
    assert lagged - at_next > 0.09

    leak, lag_leak = 3.375 - painted, 3.375 - derived
    assert leak_flag("oracle", False, leak, lag_leak) == "LEAK"
    # The honest lagged tag has the figures of a leak too (what it summarises
    # is informative): the estimate is a hint, the prefix check the referee.
    assert leak_flag("context", True, 3.375 - lagged, 3.375 - next_entropy(main, causal_lag(upos_prev))) == "hint"


# ---------------------------------------- a dataset directory by hand

WORDS = ["the", "then", "there", "king", "kind", "keen", "queen", "quiet", "quest", "a", "and"]
HAND_SPEC = """main chars
group words = words
lexicon royal (whole_word) { "king" -> KING  "queen" -> QUEEN }
lexicon royal_end (whole_word, encoding=after) { "king" -> KING  "queen" -> QUEEN }
feed royal as oracle
feed royal_end as context
"""


def story(seed: int, words: int) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, size=words)) + ".\n"


def write_dataset(path: Path, splits: dict[str, list[str]], spec: str = HAND_SPEC) -> None:
    """A dataset directory written by hand to the layout of CONTRACTS.md,
    each document compiled with compile_text."""
    plan = loads_spec(spec, "hand.axes")
    fed = [plan.axis(f.axis) for f in plan.feeds]
    modes = {f.axis: f.mode for f in plan.feeds}
    vocab = sorted(set("".join(t for texts in splits.values() for t in texts)))
    index = {c: i for i, c in enumerate(vocab)}
    manifest = {
        "format": "multigrid-dataset/1",
        "spec": {"hash": plan.spec_hash, "sources": dict(plan.sources)},
        "corpus": {"name": "hand", "fingerprint": "0" * 64, "documents": sum(map(len, splits.values()))},
        "split": {"method": "documents", "val_fraction": 0.25, "seed": 0},
        "main": {"unit": "chars", "vocab": vocab, "dtype": "uint8"},
        "axes": [{"name": a.name, "kind": a.kind, "vocab": list(a.vocab), "dtype": "uint8", "causal": a.causal,
                  "lookahead": str(a.lookahead), "mode": modes[a.name], "weight": 1.0, "dim": None, "forced": False,
                  "prefix_check": None} for a in fed],
        "splits": {},
        "leaky": plan.leaky,
        "leaky_reason": "an axis is fed as oracle" if plan.leaky else None,
        "prefix_check": None,
        "library": {"multigrid": "by hand"},
    }
    for split, texts in splits.items():
        (path / split).mkdir(parents=True)
        grids = [compile_text(plan, t) for t in texts]
        np.concatenate([[index[c] for c in t] for t in texts]).astype("<u1").tofile(path / split / "main.bin")
        for a in fed:
            np.concatenate([g.ids(a.name) for g in grids]).astype("<u1").tofile(path / split / f"{a.name}.bin")
        np.cumsum([0] + [len(t) for t in texts[:-1]]).astype("<i8").tofile(path / split / "docs.bin")
        manifest["splits"][split] = {"tokens": sum(map(len, texts)), "documents": len(texts)}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def hand_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("stats") / "hand"
    write_dataset(path, {"train": [story(i, 1500) for i in range(3)], "val": [story(9, 1500)]})
    return path


def test_stats_flags_the_painted_axis_only(hand_dataset, capsys):
    assert cli_main(["stats", str(hand_dataset)]) == 0
    out = capsys.readouterr().out
    assert "split train: " in out and "split val" not in out  # the train split by default
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("royal")}
    assert rows["royal"].split()[1:4] == ["lexicon", "oracle", "no"] and rows["royal"].endswith("LEAK")
    assert rows["royal_end"].split()[1:4] == ["lexicon", "context", "yes"] and not rows["royal_end"].endswith("LEAK")
    assert "LEAK: royal: the label at t reveals characters" in out
    assert rows["royal_end"].endswith(" not run")  # a dataset written before the prefix check
    assert "The leak estimate is a hint, not a verdict" in out
    assert "\x1b[" not in out  # plain when piped


def test_stats_json(hand_dataset, capsys):
    assert cli_main(["stats", str(hand_dataset), "--json", "--split", "all", "--top", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["leaks"] == ["royal"] and report["leaky"] is True
    assert set(report["splits"]) == {"train", "val"}
    train = report["splits"]["train"]
    royal, royal_end = train["axes"]
    assert [a["name"] for a in train["axes"]] == ["royal", "royal_end"]
    assert royal["flag"] == "LEAK" and royal["mode"] == "oracle" and royal["causal"] is False
    assert royal["leak_bits"] - royal["lagged_leak_bits"] > LEAK_MIN_BITS
    # exact figures from the streams on disk
    texts = [story(i, 1500) for i in range(3)]
    text = "".join(texts)
    plan = loads_spec(HAND_SPEC, "hand.axes")
    ids = np.concatenate([compile_text(plan, t).ids("royal") for t in texts])
    main = np.array([ord(c) for c in text])
    docs = np.cumsum([0] + [len(t) for t in texts[:-1]])
    assert train["positions"] == len(text) and train["documents"] == 3
    assert royal["coverage"] == pytest.approx(np.mean(ids != 0))
    counts = {label: int(np.sum(ids == i)) for i, label in enumerate(plan.axis("royal").vocab) if i}
    expected = sorted(counts, key=lambda label: -counts[label])
    assert [t["label"] for t in royal["top"]] == expected
    assert [t["share"] for t in royal["top"]] == pytest.approx([counts[label] / len(text) for label in expected])
    assert royal["leak_bits"] == pytest.approx(leak_bits(main, ids, docs))
    assert royal["lagged_leak_bits"] == pytest.approx(leak_bits(main, causal_lag(ids, docs), docs))
    assert royal_end["flag"] == ""


def test_stats_color_on_request(hand_dataset, capsys):
    assert cli_main(["stats", str(hand_dataset), "--color"]) == 0
    assert "\x1b[1;31mLEAK\x1b[0m" in capsys.readouterr().out


def test_stats_bad_split(hand_dataset, capsys):
    assert cli_main(["stats", str(hand_dataset), "--split", "test"]) == 2
    assert "multigrid: error: the dataset has no split 'test' (it has train, val)" in capsys.readouterr().err


def test_stats_missing_and_corrupt_datasets(tmp_path, hand_dataset, capsys):
    assert cli_main(["stats", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("multigrid: error: dataset not found") and "Traceback" not in err

    broken = tmp_path / "broken"
    write_dataset(broken, {"train": [story(1, 50)], "val": [story(2, 50)]})
    with open(broken / "train" / "royal.bin", "ab") as f:
        f.write(b"\0")
    assert cli_main(["stats", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "corrupt dataset" in err and "royal.bin" in err

    out_of_vocab = tmp_path / "ids"
    write_dataset(out_of_vocab, {"train": [story(1, 50)], "val": [story(2, 50)]})
    (out_of_vocab / "train" / "royal.bin").write_bytes(b"\x07" * (out_of_vocab / "train" / "royal.bin").stat().st_size)
    assert cli_main(["stats", str(out_of_vocab)]) == 2
    assert "axis 'royal' in split 'train' has id 7, outside its vocabulary of 3" in capsys.readouterr().err


# ----------------------------------------- end to end: multigrid compile


def test_stats_flags_the_prototype_leak_before_training(grimm, tmp_path, capsys):
    """examples/seed_replication.axes (raw-substring affixes and Penn tags
    painted over words, both oracle), compiled from a folder of Grimm's tales:
    `multigrid stats` flags both axes."""
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng")
    corpus = tmp_path / "tales"
    corpus.mkdir()
    body = grimm[grimm.index("THE GOLDEN BIRD\n\n") + 300 :]
    for i in range(4):
        (corpus / f"tale{i}.txt").write_text(body[i * 40_000 : (i + 1) * 40_000], encoding="utf-8")
    out = tmp_path / "ds"
    spec = str(ROOT / "examples" / "seed_replication.axes")
    assert cli_main(["compile", spec, str(corpus), "--out", str(out), "--val-fraction", "0.25"]) == 0
    capsys.readouterr()
    assert cli_main(["stats", str(out)]) == 0
    text = capsys.readouterr().out
    flags = {line.split()[0]: line.split()[-1] for line in text.splitlines() if line.startswith(("affixes ", "ptb "))}
    assert flags == {"affixes": "LEAK", "ptb": "LEAK"}
    assert "LEAK: affixes, ptb: the label at t reveals characters" in text
    assert "the manifest marks this dataset leaky" in text
