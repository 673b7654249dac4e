"""The compiled dataset format and its reader: the layout and manifest of
docs/design.md, streams equal to compiling each document, dtypes by vocabulary
size, and every way a dataset on disk can be wrong (a UserError naming the
file). Shared by test_build and test_batches: ListCorpus and `compile_to`."""

import hashlib
import json

import numpy as np
import pytest

from grid_dsl import compile_text, loads_spec
from grid_dsl.data.build import compile_corpus
from grid_dsl.data.corpora import Corpus, SourceDocument
from grid_dsl.data.dataset import Dataset
from grid_dsl.data.manifest import FORMAT, AxisCheck, Manifest
from grid_dsl.language.diagnostics import UserError

SPEC = """main chars
group words = words
group sents = split /(?<=[.!?])\\s+/
lexicon royal (whole_word) { "king" | "queen" -> ROYAL  "frog" -> ANIMAL }
lag royal_prev = royal after words
feed royal_prev as context
feed royal as predict
feed sents as predict (weight=0.5)
"""

TEXTS = [
    "The king had a daughter. She was fair!",
    "A frog sat by the well.\nThe queen wept.",
    "Once upon a time there lived a miller.",
    "Ünïcödé ✓ and the king's frog.",
    "",
    "The end. The very end?",
]


class ListCorpus(Corpus):
    """Documents held in memory (annotations optional, one dict per text)."""

    def __init__(self, texts, name="tiny", annotations=None):
        self.texts, self.name = list(texts), name
        self.annotations = annotations or [None] * len(self.texts)

    def documents(self):
        for i, (text, layers) in enumerate(zip(self.texts, self.annotations)):
            yield SourceDocument(f"doc{i}", text, layers)

    def fingerprint(self):
        return hashlib.sha256(repr((self.texts, self.annotations)).encode()).hexdigest()


def compile_to(path, texts=TEXTS, spec=SPEC, **options):
    plan = loads_spec(spec, "test.axes")
    compile_corpus(plan, ListCorpus(texts), path, **options)
    return plan, Dataset.open(path)


def split_texts(ds, texts):
    """The texts of each split, by the manifest's split (document method)."""
    from grid_dsl.data.build import choose_split

    _, is_val = choose_split(len(texts), ds.manifest.split.val_fraction, ds.manifest.split.seed)
    return {"train": [t for t, v in zip(texts, is_val) if not v], "val": [t for t, v in zip(texts, is_val) if v]}


# ------------------------------------------------------------------ layout


def test_layout_and_manifest(tmp_path):
    plan, ds = compile_to(tmp_path / "ds", val_fraction=0.34, seed=3)
    m = json.loads((tmp_path / "ds/manifest.json").read_text(encoding="utf-8"))  # the file's shape
    assert Manifest.from_dict(m) == ds.manifest and ds.manifest.to_dict() == m
    assert list(m) == ["format", "spec", "corpus", "split", "main", "axes", "splits", "leaky", "leaky_reason",
                       "prefix_check", "library"]
    assert m["format"] == FORMAT
    assert m["spec"] == {"hash": plan.spec_hash, "sources": {"test.axes": SPEC}}
    assert m["corpus"] == {"name": "tiny", "fingerprint": ListCorpus(TEXTS).fingerprint(), "documents": 6}
    assert m["split"] == {"method": "documents", "val_fraction": 0.34, "seed": 3}
    assert m["main"] == {"unit": "chars", "vocab": sorted(set("".join(TEXTS))), "dtype": "uint8"}
    assert [a.name for a in ds.axes] == ["royal_prev", "royal", "sents"]
    assert m["axes"][1] == {"name": "royal", "kind": "lexicon", "vocab": ["_", "ROYAL", "ANIMAL"], "dtype": "uint8",
                          "causal": False, "lookahead": str(plan.axis("royal").lookahead), "mode": "predict",
                          "weight": 1.0, "dim": None, "forced": False, "prefix_check": None, "train_offset": 0}
    assert ds.axes[1].vocab == ("_", "ROYAL", "ANIMAL") and ds.axes[1].prefix_check is None
    assert ds.axes[0].causal is True and ds.axes[0].mode == "context"
    assert ds.axes[0].prefix_check.mismatches == 0 and ds.axes[0].prefix_check.cuts > 0
    assert ds.axes[0].prefix_check == ds.manifest.prefix_check.axes["royal_prev"]
    assert isinstance(ds.axes[0].prefix_check, AxisCheck) and not ds.axes[0].prefix_failed
    assert ds.axes[2].weight == 0.5 and m["leaky"] is False and ds.manifest.leaky is False
    assert m["splits"] == {"train": {"tokens": sum(map(len, split_texts(ds, TEXTS)["train"])), "documents": 4},
                           "val": {"tokens": sum(map(len, split_texts(ds, TEXTS)["val"])), "documents": 2}}
    files = sorted(p.relative_to(tmp_path / "ds").as_posix() for p in (tmp_path / "ds").rglob("*") if p.is_file())
    assert files == ["manifest.json"] + [f"{s}/{n}.bin" for s in ("train", "val")
                                         for n in ("docs", "main", "royal", "royal_prev", "sents")]


def test_streams_equal_compiling_each_document(tmp_path):
    plan, ds = compile_to(tmp_path / "ds", val_fraction=0.34, seed=3)
    for split, texts in split_texts(ds, TEXTS).items():
        assert ds.decode(ds.main(split)) == "".join(texts)
        assert ds.doc_starts(split).tolist() == np.cumsum([0] + [len(t) for t in texts])[:-1].tolist()
        grids = [compile_text(plan, t) for t in texts]
        for name in ds.axis_names:
            assert ds.axis(split, name).tolist() == [i for g in grids for i in g.ids(name).tolist()]
        assert isinstance(ds.main(split), np.memmap)


def test_no_feeds_stores_every_axis_without_a_mode(tmp_path):
    spec = 'group words = words\nlexicon royal { "king" -> ROYAL }\n'
    plan, ds = compile_to(tmp_path / "ds", spec=spec)
    assert [(a.name, a.mode) for a in ds.axes] == [("words", None), ("royal", None)]
    assert ds.manifest.leaky is False


def test_oracle_feed_marks_the_dataset_leaky(tmp_path):
    _, ds = compile_to(tmp_path / "ds", spec='lexicon royal { "king" -> ROYAL }\nfeed royal as oracle\n')
    assert ds.manifest.leaky is True and ds.axes[0].mode == "oracle"


def test_bytes_main_unit(tmp_path):
    _, ds = compile_to(tmp_path / "ds", spec='main bytes\nlexicon royal { "king" -> ROYAL }\n', val_fraction=0)
    assert ds.manifest.main.to_dict() == {"unit": "bytes", "vocab": list(range(256)), "dtype": "uint8"}
    assert bytes(ds.main("train").tolist()) == "".join(TEXTS).encode("utf-8")
    assert len(ds.axis("train", "royal")) == len("".join(TEXTS).encode("utf-8"))
    assert ds.tokens("val") == 0 and len(ds.main("val")) == 0 and ds.documents("val") == 0


def test_dtypes_follow_the_vocabulary_size(tmp_path):
    texts = ["".join(map(chr, range(0x100, 0x100 + 300))), "plain text"]
    spec = 'lexicon royal { "king" -> ROYAL }\nfeed royal as predict (dtype=uint16)\n'
    _, ds = compile_to(tmp_path / "ds", texts=texts, spec=spec, val_fraction=0)
    assert ds.manifest.main.dtype == "uint16" and len(ds.main_vocab) == len(set("".join(texts)))
    assert ds.axes[0].dtype == "uint16"
    assert ds.main("train").dtype == np.dtype("<u2")
    assert (tmp_path / "ds/train/royal.bin").stat().st_size == 2 * ds.tokens("train")
    assert ds.decode(ds.main("train")) == "".join(texts)


def test_annotations_reach_annotation_axes(tmp_path):
    spec = "annotation role (labels=[HERO, VILLAIN])\nfeed role as predict\n"
    texts = ["Hans met the wolf.", "The witch saw Gretel."]
    layers = [{"role": [(0, 4, "HERO"), (13, 17, "VILLAIN")]}, {"role": [(4, 9, "VILLAIN"), (14, 20, "HERO")]}]
    plan = loads_spec(spec)
    compile_corpus(plan, ListCorpus(texts, annotations=layers), tmp_path / "ds", val_fraction=0)
    ds = Dataset.open(tmp_path / "ds")
    expected = [compile_text(plan, t, a).ids("role") for t, a in zip(texts, layers)]
    assert ds.axis("train", "role").tolist() == np.concatenate(expected).tolist()
    assert ds.axis("train", "role")[:4].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("name", ["main", "docs"])
def test_an_axis_whose_file_would_collide_is_refused(tmp_path, name):
    with pytest.raises(UserError, match=f"axis '{name}' would be stored as {name}.bin.*rename the axis"):
        compile_to(tmp_path / "ds", spec=f"group {name} = words\nfeed {name} as predict\n")
    assert not (tmp_path / "ds").exists()


# ------------------------------------------------------------------ reading


def test_open_missing_or_not_a_dataset(tmp_path):
    with pytest.raises(UserError, match="dataset not found: .*nowhere is not a directory"):
        Dataset.open(tmp_path / "nowhere")
    with pytest.raises(UserError, match=r"is not a compiled dataset: .*manifest.json is missing"):
        Dataset.open(tmp_path)


def test_bad_json_names_the_file_and_position(tmp_path):
    compile_to(tmp_path / "ds")
    (tmp_path / "ds/manifest.json").write_text('{"format": "multigrid-dataset/1",\n  "spec": }', encoding="utf-8")
    with pytest.raises(UserError, match=r"ds/manifest.json:2:11: corrupt manifest \(Expecting value\)"):
        Dataset.open(tmp_path / "ds")


RECOMPILE = r"compile the dataset again with this version \(`multigrid compile SPEC CORPUS --out .*ds`\)$"


@pytest.mark.parametrize("found", ["multigrid-dataset/0", "multigrid-dataset/2", None])
def test_another_format_version_says_which_and_to_recompile(tmp_path, found):
    compile_to(tmp_path / "ds")
    manifest = tmp_path / "ds/manifest.json"
    good = json.loads(manifest.read_text())
    edited = {**good, "format": found} if found else {k: v for k, v in good.items() if k != "format"}
    manifest.write_text(json.dumps(edited))
    with pytest.raises(UserError, match=rf"manifest.json: not a dataset this version of multigrid reads \(format "
                                        rf"{found!r}, this version of multigrid reads '{FORMAT}'\); {RECOMPILE}"):
        Dataset.open(tmp_path / "ds")


@pytest.mark.parametrize("edit, where", [
    (lambda m: {k: v for k, v in m.items() if k != "axes"}, "axes: missing"),
    (lambda m: {**m, "comment": "mine"}, "comment: unexpected key"),
    (lambda m: {**m, "splits": {"train": {"tokens": 5}}}, r"splits\['train'\].documents: missing"),
    (lambda m: {**m, "splits": {"train": m["splits"]["train"]}}, "splits: expected train and val, found train"),
    (lambda m: {**m, "main": ["chars"]}, "main: expected a dict of keys, found list"),
    (lambda m: {**m, "axes": [{**m["axes"][0], "causal": "yes"}]}, r"axes\[0\].causal: expected bool, found str"),
    (lambda m: {**m, "axes": [{**m["axes"][0], "vocab": "_ROYAL"}]}, r"axes\[0\].vocab: expected a list, found str"),
    (lambda m: {**m, "corpus": {**m["corpus"], "documents": 6.5}}, "corpus.documents: expected int, found float"),
])
def test_a_manifest_edited_badly_names_the_key(tmp_path, edit, where):
    compile_to(tmp_path / "ds")
    manifest = tmp_path / "ds/manifest.json"
    manifest.write_text(json.dumps(edit(json.loads(manifest.read_text()))))
    with pytest.raises(UserError, match=rf"manifest.json is damaged or was edited \({where}\); {RECOMPILE}"):
        Dataset.open(tmp_path / "ds")


def test_a_wrong_dtype_is_named(tmp_path):
    compile_to(tmp_path / "ds")
    manifest = tmp_path / "ds/manifest.json"
    good = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(dict(good, main=dict(good["main"], dtype="float32"))))
    with pytest.raises(UserError, match=r"manifest.json: unknown dtype 'float32' for stream 'main'"):
        Dataset.open(tmp_path / "ds")


def test_stream_size_disagreeing_with_the_manifest(tmp_path):
    _, ds = compile_to(tmp_path / "ds")
    stream = tmp_path / "ds/val/royal.bin"
    stream.write_bytes(stream.read_bytes()[:-1])
    with pytest.raises(UserError, match=f"corrupt dataset: {stream} has {ds.tokens('val') - 1} bytes, "
                                        f"the manifest says {ds.tokens('val')}"):
        Dataset.open(tmp_path / "ds")


def test_missing_stream_file(tmp_path):
    compile_to(tmp_path / "ds")
    (tmp_path / "ds/train/docs.bin").unlink()
    with pytest.raises(UserError, match=r"corrupt dataset: .*train/docs.bin is missing"):
        Dataset.open(tmp_path / "ds")


def test_corrupt_document_offsets(tmp_path):
    compile_to(tmp_path / "ds")
    docs = tmp_path / "ds/train/docs.bin"
    docs.write_bytes(np.array([0, 9, 4, 20, 30], dtype="<i8").tobytes())  # 5 train documents
    with pytest.raises(UserError, match="docs.bin: corrupt document offsets"):
        Dataset.open(tmp_path / "ds")


def test_verify_finds_ids_beyond_the_vocabulary(tmp_path):
    _, ds = compile_to(tmp_path / "ds")
    ds.verify()  # a good dataset passes
    stream = tmp_path / "ds/train/royal.bin"
    data = bytearray(stream.read_bytes())
    data[3] = 7
    stream.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"train/royal.bin holds id 7, beyond its vocabulary of 3"):
        Dataset.open(tmp_path / "ds").verify()


def test_check_spec(tmp_path):
    plan, ds = compile_to(tmp_path / "ds")
    ds.check_spec(plan)
    ds.check_spec(loads_spec(SPEC, "elsewhere.axes"))  # the same text read from another path
    other = loads_spec(SPEC + "feed words as context\n", "other.axes")
    with pytest.raises(UserError, match=r"was compiled from another spec \(test.axes, hash [0-9a-f]{12}\) than "
                                        r"other.axes .*multigrid compile other.axes CORPUS --out"):
        ds.check_spec(other)


def test_unknown_axis_and_split(tmp_path):
    _, ds = compile_to(tmp_path / "ds")
    with pytest.raises(UserError, match="has no axis 'words'; it stores: royal_prev, royal, sents"):
        ds.axis("train", "words")
    with pytest.raises(UserError, match="unknown split 'test'"):
        ds.main("test")
