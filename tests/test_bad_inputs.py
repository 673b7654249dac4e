"""Every input a user hands the tool, damaged: a one-line error, exit code 2,
and nothing half-written (issue 20's list; the spec fuzzer is test_fuzz.py).

    corpus files     truncated UTF-8, NUL bytes, a single file too large to read whole
    datasets         a stream shorter than the manifest says, a manifest edited badly,
                     a vocabulary with a label twice
    checkpoints      truncated, another version, extra pickled objects
    annotations      crossing spans, out of range, a layer the corpus lacks, an undeclared label
"""

import json
import os
import shutil

import pytest
import torch
from conftest import run

SPEC = "group w = words\nfeed w as context\n"
ANNOTATION_SPEC = "annotation role (layer=role, labels=[HERO, ROYAL])\nfeed role as predict\n"


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("multigrid: error:") or ": error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "s.axes"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize("data, message", [
    (b"hello world\xc3", "not valid utf-8 text at byte offset 11 (line 1): byte 0xc3 (unexpected end of data)"),
    (b"hello\x00world\n", "looks like a binary file, not text (a NUL character at byte offset 5)"),
])
def test_damaged_corpus_files(tmp_path, spec, capsys, data, message):
    (tmp_path / "c.txt").write_bytes(data)
    code, _, err = run(capsys, "compile", spec, tmp_path / "c.txt", "--out", tmp_path / "d")
    assert code == 2 and message in one_line_error(err) and not (tmp_path / "d").exists()


def test_a_corpus_file_too_large_to_read_whole(tmp_path, spec, capsys, monkeypatch):
    from grid_dsl.data import corpora

    monkeypatch.setattr(corpora, "MAX_FILE_BYTES", 100)  # stands for a 2 GB single line: refused before reading
    (tmp_path / "c.txt").write_text("x" * 500)
    code, _, err = run(capsys, "compile", spec, tmp_path / "c.txt", "--out", tmp_path / "d")
    assert code == 2 and "a single file may have (it is read whole, as one document): cut it into a folder" in err
    assert not (tmp_path / "d").exists()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from grid_dsl import loads_spec
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.synthetic import synthetic_corpus

    out = tmp_path_factory.mktemp("bad") / "d"
    compile_corpus(loads_spec(SPEC), synthetic_corpus(stories=3), out, val_fraction=0.34)
    return out


def damaged_copy(dataset, tmp_path, damage) -> str:
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    damage(copy)
    return str(copy)


def shorten_stream(d):
    path = d / "train" / "w.bin"
    os.truncate(path, path.stat().st_size // 2)


def edit_manifest(change):
    def damage(d):
        m = json.loads((d / "manifest.json").read_text())
        change(m)
        (d / "manifest.json").write_text(json.dumps(m))
    return damage


@pytest.mark.parametrize("damage, message", [
    (shorten_stream, "corrupt dataset: "),
    (lambda d: (d / "manifest.json").write_text("{\"format\": "), "corrupt manifest (Expecting value)"),
    (edit_manifest(lambda m: m["axes"][0].update(vocab=["_", "WORD", "WORD"])), "axes[0].vocab (w): 'WORD' appears twice"),
    (edit_manifest(lambda m: m["main"].update(vocab=["a", "a"])), "main.vocab: 'a' appears twice"),
    (edit_manifest(lambda m: m["axes"][0].pop("causal")), "is damaged or was edited (axes[0].causal: missing)"),
    (edit_manifest(lambda m: m.update(format="multigrid-dataset/9")), "not a dataset this version of multigrid reads"),
])
def test_damaged_datasets(dataset, tmp_path, capsys, damage, message):
    copy = damaged_copy(dataset, tmp_path, damage)
    for command in (["stats", copy], ["train", "--data", copy, "--out", tmp_path / "run", "--steps", "1"]):
        code, _, err = run(capsys, *command)
        assert code == 2 and message in one_line_error(err), err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    from model.network.config import TrainConfig
    from model.training.train import train

    out = tmp_path_factory.mktemp("bad") / "run"
    train(dataset, out, TrainConfig(n_layer=1, n_head=1, n_embd=8, block_size=16, batch_size=2, max_iters=1,
                                    eval_interval=1, eval_iters=1, sample_interval=0, device="cpu", prefix_check=50),
          progress=False)
    return out


class Gadget:
    def __reduce__(self):
        return (print, ("this would run",))


def add_pickle(run_dir):
    state = torch.load(run_dir / "ckpt.pt", weights_only=True)
    state["gadget"] = Gadget()
    torch.save(state, run_dir / "ckpt.pt")


def set_format(run_dir):
    state = torch.load(run_dir / "ckpt.pt", weights_only=True)
    state["format"] = "multigrid-checkpoint/0"
    torch.save(state, run_dir / "ckpt.pt")


@pytest.mark.parametrize("damage, message", [
    (lambda r: os.truncate(r / "ckpt.pt", (r / "ckpt.pt").stat().st_size // 2), "is truncated or corrupted"),
    (add_pickle, "holds pickled Python objects, not only tensors; multigrid never loads a checkpoint with full pickle"),
    (set_format, "multigrid-checkpoint/0"),
])
def test_damaged_checkpoints(trained, tmp_path, capsys, damage, message):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    damage(copy)
    code, out, err = run(capsys, "sample", copy, "--chars", "5")
    assert code == 2 and message in one_line_error(err) and "this would run" not in out


@pytest.mark.parametrize("spans, message", [
    ([(4, 8, "ROYAL", "role"), (6, 12, "HERO", "role")], "annotation layer 'role': spans (4, 8) and (6, 12) cross"),
    ([(4, 80, "ROYAL", "role")], "span (4, 80) of document 0 ends past the end of its text (27 characters)"),
    ([(4, 8, "ROYAL", "rol")], "has no spans of annotation layer 'role' (its layers: rol); did you mean 'rol'?"),
    ([(4, 8, "KING", "role")], "annotation layer 'role' has undeclared labels: KING"),
])
def test_damaged_annotations(tmp_path, capsys, spans, message):
    (tmp_path / "a.axes").write_text(ANNOTATION_SPEC)
    (tmp_path / "story.txt").write_text("the king and the queen sat\n")
    (tmp_path / "story.txt.spans.jsonl").write_text("".join(
        json.dumps({"doc": 0, "layer": layer, "start": s, "end": e, "label": label}) + "\n" for s, e, label, layer in spans))
    code, _, err = run(capsys, "compile", tmp_path / "a.axes", tmp_path / "story.txt", "--out", tmp_path / "d")
    assert code == 2 and message in one_line_error(err), err
    assert not (tmp_path / "d").exists()


def test_nested_annotation_spans_are_fine(tmp_path, capsys):
    (tmp_path / "a.axes").write_text(ANNOTATION_SPEC)
    (tmp_path / "story.txt").write_text("the king and the queen sat\n")
    (tmp_path / "story.txt.spans.jsonl").write_text(
        '{"doc": 0, "layer": "role", "start": 4, "end": 22, "label": "HERO"}\n'
        '{"doc": 0, "layer": "role", "start": 4, "end": 8, "label": "ROYAL"}\n')
    code, _, err = run(capsys, "compile", tmp_path / "a.axes", tmp_path / "story.txt", "--out", tmp_path / "d")
    assert code == 0, err
