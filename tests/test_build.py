"""Compiling corpora: the split, N workers = 1 worker, shards merged =
unsharded (byte for byte), bounded streaming, incremental recompilation,
atomic replacement, bad input, and the `compile` / `merge` commands."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_dataset import SPEC, TEXTS, ListCorpus, compile_to

from conftest import run
from grid_dsl.data import build
from grid_dsl import compile_text, loads_spec
from grid_dsl.data.build import Shard, choose_split, compile_corpus
from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.merge import merge_shards

TESTS = Path(__file__).resolve().parent
MANY = [f"Story {i}. The {'king' if i % 3 else 'frog'} went to town {'é' * (i % 4)}and back!\n" * (1 + i % 5)
        for i in range(40)] + ["The queen: Ω ∑ and ≈ ends it."]


def tree(path: Path) -> dict:
    """Every file under `path` and its bytes."""
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------- split


def test_document_split_is_seeded_and_sized():
    entry, is_val = choose_split(10, 0.2, seed=0)
    assert entry.to_dict() == {"method": "documents", "val_fraction": 0.2, "seed": 0}
    assert is_val.sum() == 2
    assert np.array_equal(choose_split(10, 0.2, seed=0)[1], is_val)
    assert any(not np.array_equal(choose_split(10, 0.2, seed=s)[1], is_val) for s in range(1, 5))
    assert choose_split(2, 0.01, 0)[1].sum() == 1  # at least one validation document
    assert choose_split(2, 0.99, 0)[1].sum() == 1  # and never all of them
    assert choose_split(5, 0.0, 0)[1].sum() == 0
    with pytest.raises(UserError, match="--val-fraction 1.0: must be at least 0 and below 1"):
        choose_split(5, 1.0, 0)


def test_one_document_is_split_contiguously(tmp_path):
    text = "The king rode out. The frog sat still! " * 26  # 1014 characters
    plan, ds = compile_to(tmp_path / "ds", texts=[text], val_fraction=0.1)
    assert ds.manifest.split.method == "contiguous"
    assert ds.tokens("val") == 101 and ds.tokens("train") == len(text) - 101
    assert ds.decode(ds.main("train")) + ds.decode(ds.main("val")) == text
    whole = compile_text(plan, text)
    for name in ds.axis_names:  # the streams of the whole document, cut
        assert ds.axis("val", name).tolist() == whole.ids(name)[-101:].tolist()
    assert ds.doc_starts("train").tolist() == [0] and ds.doc_starts("val").tolist() == [0]


# ---------------------------------------------------------- workers, shards


def test_two_workers_write_the_same_bytes_as_one(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "TASK_CHARS", (100, 100))  # many chunks in flight
    compile_to(tmp_path / "one", texts=MANY, workers=1)
    compile_to(tmp_path / "two", texts=MANY, workers=2)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert len(tree(tmp_path / "one")) == 11


@pytest.mark.parametrize("count", [3, 4, 50])
def test_merged_shards_equal_the_unsharded_dataset(tmp_path, count):
    compile_to(tmp_path / "whole", texts=MANY, val_fraction=0.2, seed=7)
    shards = []
    for index in range(count):
        _, shard = compile_to(tmp_path / f"shard{index}", texts=MANY, val_fraction=0.2, seed=7,
                              shard=Shard(index, count))
        assert shard.manifest.shard.to_dict() == {"index": index, "count": count,
                                                  "documents": list(Shard(index, count).bounds(len(MANY)))}
        shards.append(tmp_path / f"shard{index}")
    assert Dataset.open(shards[0]).main_vocab != Dataset.open(tmp_path / "whole").main_vocab  # local vocabularies
    merge_shards(list(reversed(shards)), tmp_path / "merged")
    assert tree(tmp_path / "merged") == tree(tmp_path / "whole")


def test_merged_shards_of_bytes(tmp_path):
    spec = 'main bytes\nlexicon royal { "king" -> ROYAL }\nfeed royal as predict\n'
    compile_to(tmp_path / "whole", texts=MANY, spec=spec)
    for index in range(3):
        compile_to(tmp_path / f"s{index}", texts=MANY, spec=spec, shard=Shard(index, 3))
    merge_shards([tmp_path / f"s{index}" for index in range(3)], tmp_path / "merged")
    assert tree(tmp_path / "merged") == tree(tmp_path / "whole")


def test_merged_shards_of_one_document(tmp_path):
    text = "Hans in luck. " * 20
    compile_to(tmp_path / "whole", texts=[text])
    for index in range(2):
        compile_to(tmp_path / f"s{index}", texts=[text], shard=Shard(index, 2))
    merge_shards([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged")
    assert tree(tmp_path / "merged") == tree(tmp_path / "whole")


def test_merge_refuses_shards_that_do_not_make_a_whole(tmp_path):
    for index in range(3):
        compile_to(tmp_path / f"s{index}", shard=Shard(index, 3))
    compile_to(tmp_path / "seed1", shard=Shard(1, 3), seed=1)
    compile_to(tmp_path / "whole")
    with pytest.raises(UserError, match=r"merge needs shards 0..2 of 3, each once: missing shard\(s\) 1"):
        merge_shards([tmp_path / "s0", tmp_path / "s2"], tmp_path / "out")
    with pytest.raises(UserError, match=r"shard\(s\) 2 given twice"):
        merge_shards([tmp_path / "s0", tmp_path / "s1", tmp_path / "s2", tmp_path / "s2"], tmp_path / "out")
    with pytest.raises(UserError, match=r"are shards of different compiles \(their split options differ\)"):
        merge_shards([tmp_path / "s0", tmp_path / "seed1", tmp_path / "s2"], tmp_path / "out")
    with pytest.raises(UserError, match="whole is a whole dataset, not a shard"):
        merge_shards([tmp_path / "s0", tmp_path / "whole"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, message", [("1", "write I/N"), ("a/b", "write I/N"), ("3/3", "below N"),
                                           ("0/0", "below N"), ("-1/2", "below N")])
def test_bad_shard_option(text, message):
    with pytest.raises(UserError, match=f"--shard '{text}': .*{message}"):
        Shard.parse(text)


# --------------------------------------------------------------- streaming


class CountingCorpus(ListCorpus):
    """Counts the documents handed out by the current pass."""

    yielded = 0

    def documents(self):
        self.yielded = 0
        for doc in super().documents():
            self.yielded += 1
            yield doc


@pytest.mark.parametrize("workers", [1, 2])
def test_documents_are_read_no_further_ahead_than_the_chunks_in_flight(tmp_path, monkeypatch, workers):
    """Streaming: the compile pass never reads the corpus far ahead of what
    is written (a pool's imap would read it all at once)."""
    monkeypatch.setattr(build, "TASK_CHARS", (1, 1))  # one document per chunk
    corpus = CountingCorpus(MANY)
    ahead = []
    add = build.SplitWriter.add
    written = [0]

    def recording_add(self, main, streams, new_document=True):
        written[0] += 1
        ahead.append(corpus.yielded - written[0])
        add(self, main, streams, new_document)

    monkeypatch.setattr(build.SplitWriter, "add", recording_add)
    compile_corpus(loads_spec(SPEC), corpus, tmp_path / "ds", workers=workers)
    assert written[0] == len(MANY)
    limit = 1 if workers == 1 else build.IN_FLIGHT * workers + 1
    assert 0 <= max(ahead) <= limit
    assert not (tmp_path / "ds/train/main.codes").exists()


def test_chunks_hold_about_task_chars():
    corpus = ListCorpus(["ab" * 10] * 7)  # 20 characters each
    seen = [0]
    chunks = list(build._chunks(corpus, 1, 6, 45, seen))
    assert [[index for index, _, _ in chunk] for chunk in chunks] == [[1, 2, 3], [4, 5]]
    assert seen == [6]


# ------------------------------------------------------------- incremental


def test_compiling_again_does_nothing(tmp_path):
    plan = loads_spec(SPEC, "test.axes")
    first = compile_corpus(plan, ListCorpus(TEXTS), tmp_path / "ds")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "ds").rglob("*")}
    again = compile_corpus(plan, ListCorpus(TEXTS), tmp_path / "ds")
    assert not first.up_to_date and again.up_to_date
    assert again.lines() == [f"{tmp_path / 'ds'} is up to date (spec {plan.spec_hash[:12]}, corpus tiny "
                             f"{ListCorpus(TEXTS).fingerprint()[:12]}): nothing to do"]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ds").rglob("*")} == before


@pytest.mark.parametrize("change", ["spec", "corpus", "seed", "val_fraction", "shard"])
def test_a_change_recompiles_and_replaces(tmp_path, change):
    compile_to(tmp_path / "ds")
    options = {"spec": SPEC, "texts": TEXTS, "seed": 0, "val_fraction": 0.1}
    options.update({"spec": {"spec": SPEC + "feed words as context\n"}, "corpus": {"texts": TEXTS + ["More."]},
                    "seed": {"seed": 1}, "val_fraction": {"val_fraction": 0.3},
                    "shard": {"shard": Shard(0, 2)}}[change])
    texts, spec = options.pop("texts"), options.pop("spec")
    summary = compile_corpus(loads_spec(spec), ListCorpus(texts), tmp_path / "ds", **options)
    assert not summary.up_to_date and summary.replaced
    assert Dataset.open(tmp_path / "ds").manifest == summary.manifest
    assert "(replaced the dataset that was there)" in summary.lines()[0]
    assert leftovers(tmp_path) == []


def test_a_corrupt_dataset_is_recompiled(tmp_path):
    compile_to(tmp_path / "ds")
    (tmp_path / "ds/val/main.bin").write_bytes(b"")
    summary = compile_corpus(loads_spec(SPEC, "test.axes"), ListCorpus(TEXTS), tmp_path / "ds")
    assert not summary.up_to_date
    Dataset.open(tmp_path / "ds")


# ------------------------------------------------------ atomic, bad input


class FailingCorpus(ListCorpus):
    """Raises on its `fail_at`-th document of the compile pass (the second)."""

    def __init__(self, texts, fail_at, error):
        super().__init__(texts)
        self.fail_at, self.error, self.passes = fail_at, error, 0

    def documents(self):
        self.passes += 1
        for i, doc in enumerate(super().documents()):
            if self.passes == 2 and i == self.fail_at:
                raise self.error
            yield doc


def test_a_failed_recompile_leaves_the_old_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "TASK_CHARS", (1, 1))  # documents are written before the failure
    compile_to(tmp_path / "ds")
    old = tree(tmp_path / "ds")
    corpus = FailingCorpus(MANY, 20, UserError("text file x.txt is not UTF-8"))
    with pytest.raises(UserError, match="x.txt is not UTF-8"):
        compile_corpus(loads_spec(SPEC), corpus, tmp_path / "ds")
    assert tree(tmp_path / "ds") == old and leftovers(tmp_path) == []
    with pytest.raises(UserError):  # and a first compile that fails leaves nothing
        compile_corpus(loads_spec(SPEC), FailingCorpus(MANY, 20, UserError("bad")), tmp_path / "new")
    assert not (tmp_path / "new").exists() and leftovers(tmp_path) == []


def test_a_worker_error_stops_the_compile(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "TASK_CHARS", (1, 1))
    with pytest.raises(UserError, match="x.txt is not UTF-8"):
        compile_corpus(loads_spec(SPEC), FailingCorpus(MANY, 30, UserError("x.txt is not UTF-8")),
                       tmp_path / "ds", workers=2)
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


def test_a_killed_compile_leaves_no_dataset(tmp_path):
    flag, out = tmp_path / "reading", tmp_path / "ds"
    script = f"""
import sys, time, pathlib
sys.path.insert(0, {str(TESTS)!r})
from test_dataset import SPEC, ListCorpus
from grid_dsl import loads_spec
from grid_dsl.data.build import compile_corpus

class Slow(ListCorpus):
    passes = 0
    def documents(self):
        self.passes += 1
        for i, doc in enumerate(super().documents()):
            if self.passes == 2 and i == 3:
                pathlib.Path({str(flag)!r}).touch()
                time.sleep(60)
            yield doc

compile_corpus(loads_spec(SPEC), Slow(["The king."] * 8), {str(out)!r})
"""
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not flag.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists(), "the child compile did not start"
        assert [n.split("-")[0] for n in leftovers(tmp_path)] == [".ds.tmp"]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not out.exists()
    compile_to(out)  # the next compile of ds cleans up after the killed one
    assert leftovers(tmp_path) == []


def test_a_corpus_that_changes_while_compiled(tmp_path):
    class Changing(ListCorpus):
        calls = 0

        def fingerprint(self):
            self.calls += 1
            return str(self.calls) * 64

    compile_to(tmp_path / "ds")
    old = tree(tmp_path / "ds")
    with pytest.raises(UserError, match=r"corpus tiny changed while it was being compiled \(fingerprint "
                                        r"111111111111 before, 222222222222 after\); nothing was written"):
        compile_corpus(loads_spec(SPEC), Changing(TEXTS), tmp_path / "ds")
    assert tree(tmp_path / "ds") == old and leftovers(tmp_path) == []

    class Shrinking(ListCorpus):  # same fingerprint, fewer documents on the second pass
        passes = 0

        def documents(self):
            self.passes += 1
            yield from list(super().documents())[: None if self.passes == 1 else -2]

    with pytest.raises(UserError, match=r"changed while it was being compiled \(4 documents read, 6 expected\)"):
        compile_corpus(loads_spec(SPEC), Shrinking(TEXTS), tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_full_disk_is_a_clear_error(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build.SplitWriter, "add", full)
    with pytest.raises(UserError, match=f"no space left on the device while writing {tmp_path / 'ds'}; "
                                        "nothing was written"):
        compile_to(tmp_path / "ds")
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


def test_an_unwritable_place_is_a_clear_error(tmp_path, monkeypatch):
    def denied(self, folder, *args):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))

    monkeypatch.setattr(build.SplitWriter, "__init__", denied)
    with pytest.raises(UserError, match=r"train: Permission denied; nothing was written to .*ds$"):
        compile_to(tmp_path / "ds")
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


def test_out_that_is_not_a_dataset_is_never_replaced(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/keep.txt").write_text("mine")
    with pytest.raises(UserError, match="notes exists and is not a compiled dataset"):
        compile_to(tmp_path / "notes")
    assert tree(tmp_path / "notes") == {"keep.txt": b"mine"}
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="--out .*file is a file"):
        compile_to(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    compile_to(tmp_path / "empty")  # an empty directory is fine


def test_empty_corpus_and_bad_workers(tmp_path):
    with pytest.raises(UserError, match="corpus tiny has no documents"):
        compile_to(tmp_path / "ds", texts=[])
    with pytest.raises(UserError, match="--workers 0: must be at least 1"):
        compile_to(tmp_path / "ds", workers=0)
    assert leftovers(tmp_path) == [] and not (tmp_path / "ds").exists()


# ---------------------------------------------------------------- commands


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.axes"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_compile_a_folder_of_text_files(tmp_path, capsys, spec_file):
    folder = tmp_path / "tales"
    folder.mkdir()
    for i, text in enumerate(MANY[:12]):
        (folder / f"{i:02d}.txt").write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "compile", spec_file, folder, "--out", tmp_path / "ds", "--workers", 2)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'ds'}: ") and "12 documents, split by documents" in lines[0]
    val = int(np.flatnonzero(choose_split(12, 0.1, 0)[1])[0])
    train_chars = sum(len(t) for t in MANY[:12]) - len(MANY[val])
    assert lines[1].split() == ["train", "11", "documents", f"{train_chars:,}", "chars"]
    ds = Dataset.open(tmp_path / "ds")
    assert ds.documents("val") == 1 and ds.decode(ds.main("val")) == MANY[val]
    code, out, _ = run(capsys, "compile", spec_file, folder, "--out", tmp_path / "ds")
    assert code == 0 and out.endswith("nothing to do\n")


def test_compile_a_text_file_and_merge_shards(tmp_path, capsys, spec_file):
    text_file = tmp_path / "tale.txt"
    text_file.write_text("The king and the frog.\n\nThey lived happily ever after.\n", encoding="utf-8")
    assert run(capsys, "compile", spec_file, text_file, "--out", tmp_path / "whole")[0] == 0
    for index in range(2):
        code, out, err = run(capsys, "compile", spec_file, text_file, "--out", tmp_path / f"s{index}",
                             "--shard", f"{index}/2")
        assert code == 0, err
        assert f"shard {index}/2" in out
    code, out, err = run(capsys, "merge", tmp_path / "s1", tmp_path / "s0", "--out", tmp_path / "merged")
    assert code == 0, err
    assert tree(tmp_path / "merged") == tree(tmp_path / "whole")


def test_encoding_option(tmp_path, capsys, spec_file):
    text_file = tmp_path / "tale.txt"
    text_file.write_bytes("Der König und der Frosch.".encode("latin-1"))
    code, out, err = run(capsys, "compile", spec_file, text_file, "--out", tmp_path / "ds")
    assert code == 2 and out == "" and "tale.txt" in err and "offset 5" in err
    assert not (tmp_path / "ds").exists()
    code, _, err = run(capsys, "compile", spec_file, text_file, "--out", tmp_path / "ds", "--encoding", "latin-1",
                      "--val-fraction", "0")
    assert code == 0, err
    ds = Dataset.open(tmp_path / "ds")
    assert ds.decode(ds.main("train")) == "Der König und der Frosch."


def test_command_line_errors(tmp_path, capsys, spec_file):
    text_file = tmp_path / "tale.txt"
    text_file.write_text("The king.", encoding="utf-8")
    code, out, err = run(capsys, "compile", spec_file, text_file, "--out", tmp_path / "ds", "--shard", "2/2")
    assert code == 2 and err.startswith("multigrid: error: --shard '2/2'")
    code, _, err = run(capsys, "compile", spec_file, text_file, "--out", tmp_path / "ds", "--val-fraction", "1")
    assert code == 2 and "--val-fraction: must be at least 0 and below 1" in err
    code, _, err = run(capsys, "compile", tmp_path / "none.axes", text_file, "--out", tmp_path / "ds")
    assert code == 2 and "spec file not found" in err
    code, _, err = run(capsys, "merge", tmp_path / "nowhere", "--out", tmp_path / "m")
    assert code == 2 and "dataset not found" in err
    assert sorted(os.listdir(tmp_path)) == ["tale.txt", "tiny.axes"]


def test_an_axis_with_no_label_in_the_whole_corpus_is_warned_about(tmp_path, capsys):
    from model.cli.main import main

    (tmp_path / "s.axes").write_text('group w = words\nlexicon dragon { "dragon" -> DRAGON }\n'
                                     "feed w as context\nfeed dragon as predict\n")
    (tmp_path / "c.txt").write_text("The king had a daughter.\n\nThe frog sat by the well.\n")
    assert main(["compile", str(tmp_path / "s.axes"), str(tmp_path / "c.txt"), "--out", str(tmp_path / "ds")]) == 0
    err = capsys.readouterr().err
    assert "warning: axis 'dragon' has no label anywhere in c (0% coverage)" in err
    assert "axis 'w'" not in err


def test_the_compile_bar_moves_within_a_single_document():
    """One long document (a single-file corpus) advances the bar after each
    axis and after its prefix check, and the steps add up to its length."""
    from grid_dsl.data.build import compile_chunk

    plan = loads_spec("group w = words\nposition p = w (max=8)\nlexicon x { \"a\" -> A }\n")
    text = "a cat sat on a mat. " * 50
    steps = []
    compile_chunk(plan, [("w", "uint32")], [(0, text, None)], advance=steps.append)
    assert len(steps) == len(plan.axes) + 1 > 2
    assert sum(steps) == pytest.approx(len(text)) and all(s > 0 for s in steps)


def test_a_split_by_documents_far_from_the_asked_fraction_is_warned_about(tmp_path, capsys):
    """Two files and --val-fraction 0.1: one whole file is validation (here
    half the text), which a researcher asking for 10% does not expect."""
    from model.cli.main import main

    (tmp_path / "s.axes").write_text("group w = words\nfeed w as context\n")
    folder = tmp_path / "tales"
    folder.mkdir()
    (folder / "a.txt").write_text("The king had a daughter.\n" * 4)
    (folder / "b.txt").write_text("The frog sat by the well.\n" * 4)  # as long as a.txt
    assert main(["compile", str(tmp_path / "s.axes"), str(folder), "--out", str(tmp_path / "two")]) == 0
    err = capsys.readouterr().err
    assert ("warning: the validation split holds 49% of the text where --val-fraction asked for 10%: a corpus is "
            "split by whole documents, and the 2 documents of tales are too few or too uneven for it; cut its files into "
            "more, smaller ones") in err

    even = [f"Story {i}: the king went to town.\n" for i in range(20)]  # 2 of 20 equal documents: 10%
    assert compile_corpus(loads_spec("group w = words\n"), ListCorpus(even), tmp_path / "even").warnings() == []
