"""Checkpoints: atomic writes, weights-only loading, damaged files, data checks."""

import os
import pickle
from pathlib import Path

import pytest
import torch

from grid_dsl import loads_spec
from grid_dsl.data.build import compile_corpus
from model.cli.main import main
from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.synthetic import synthetic_corpus
from model.network import checkpoint
from model.network.config import TrainConfig
from model.training.train import train

SPEC = """main chars
group words = words
tagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])
feed shape as context
feed words as predict (weight=0.5)
"""
TINY = TrainConfig(prefix_check=200, n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, eval_iters=2, warmup_iters=1,
                   sample_interval=0, device="cpu", max_iters=2, eval_interval=2)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


def compile_dataset(out: Path, spec: str, corpus=None) -> Dataset:
    compile_corpus(loads_spec(spec, "tiny.axes"), corpus or synthetic_corpus(stories=6, seed=0), out, val_fraction=0.25)
    return Dataset.open(out)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained tiny run and its dataset."""
    root = tmp_path_factory.mktemp("ckpt")
    data = compile_dataset(root / "data", SPEC)
    train(data, root / "run", TINY, progress=False)
    return root / "run", data


def test_a_run_checkpoint_holds_everything_to_resume(run):
    path, data = run
    state = checkpoint.load(path)
    assert isinstance(state, checkpoint.Checkpoint) and state.step == 2
    assert state.train_config == TINY.to_dict()
    assert state.data.main_vocab == data.main_vocab
    assert [a.name for a in state.data.axes] == ["shape", "words"]
    assert state.data.axes[1] == checkpoint.ModelAxis.of(data.manifest.axis("words"))
    assert state.data.spec_hash == data.manifest.spec.hash and state.data.corpus == data.manifest.corpus
    assert set(state.rng) == {"torch", "cuda", "batches"} and state.optimizer["state"]
    assert set(state.seconds) == {"wall", "eval"} and state.best["step"] == state.evaluated_step == 2
    net = state.network()  # what `multigrid sample` and `eval` read
    assert [a.mode for a in net.config.axes] == ["context", "predict"]
    assert checkpoint.load(path, best=True).step == 2
    on_disk = torch.load(path / checkpoint.LAST, weights_only=True)  # the file: plain dicts and tensors
    assert list(on_disk) == ["format", "config", "model", "optimizer", "step", "tokens", "seconds", "best",
                             "evaluated_step", "train_config", "data", "frozen", "rng", "metrics"]
    assert on_disk["format"] == checkpoint.FORMAT and on_disk["data"]["axes"][0]["name"] == "shape"
    assert checkpoint.Checkpoint.from_dict(on_disk).data == state.data


def test_a_checkpoint_is_read_by_attribute_only(run):
    state = checkpoint.load(run[0])
    for record in (state, state.data, state.data.axes[0], run[1].manifest, run[1].manifest.axes[0]):
        with pytest.raises(TypeError):
            record["name"]  # noqa: B018 -- no string keys: the typed contract is the only way in
        assert not hasattr(record, "get")


def test_save_is_atomic(run, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    state = checkpoint.load(run[0])
    checkpoint.save(state, path)
    old = path.read_bytes()

    def fail_half_way(obj, handle):
        handle.write(b"PK partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", fail_half_way)
    with pytest.raises(OSError):
        checkpoint.save(state, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temporary file left


def test_truncated_and_corrupted_checkpoints_are_user_errors(run, tmp_path):
    whole = (run[0] / "ckpt.pt").read_bytes()
    damaged = {
        "truncated.pt": whole[: len(whole) // 2],
        "garbage.pt": b"\x00\x13garbage" * 100,
        "empty.pt": b"",
    }
    for name, content in damaged.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UserError) as err:
            checkpoint.load(tmp_path / name)
        assert str(err.value).startswith(f"{tmp_path / name} is truncated or corrupted (")


class Payload:
    def __reduce__(self):
        return (print, ("this would run",))


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "payload": Payload()}, path)
    with pytest.raises(UserError, match="holds pickled Python objects.*never loads a checkpoint with full pickle"):
        checkpoint.load(path)
    with open(tmp_path / "plain.pt", "wb") as handle:
        pickle.dump(Payload(), handle)
    with pytest.raises(UserError):
        checkpoint.load(tmp_path / "plain.pt")


def test_other_files_are_refused(tmp_path):
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(UserError, match=r"other.pt: not a checkpoint this version of multigrid reads \(format None, "
                                        r"this version of multigrid reads 'multigrid-checkpoint/1'\); train the run"):
        checkpoint.load(tmp_path / "other.pt")
    torch.save({"format": checkpoint.FORMAT}, tmp_path / "partial.pt")
    with pytest.raises(UserError, match=r"partial.pt is damaged or was edited \(config: missing\)"):
        checkpoint.load(tmp_path / "partial.pt")
    with pytest.raises(UserError, match=f"checkpoint not found: {tmp_path / 'ckpt.pt'}; {tmp_path} holds no ckpt.pt"):
        checkpoint.load(tmp_path)


def test_check_data_maps_axes_by_name_and_refuses_other_vocabularies(run, tmp_path):
    path, data = run
    state = checkpoint.load(path)
    assert checkpoint.check_data(state, data, same_spec=True) == [0, 1]
    swapped = compile_dataset(tmp_path / "swapped", SPEC.replace(
        "feed shape as context\nfeed words as predict (weight=0.5)", "feed words as predict (weight=0.5)\nfeed shape as context"))
    assert checkpoint.check_data(state, swapped, same_spec=False) == [1, 0]
    with pytest.raises(UserError, match="was compiled from another spec"):
        checkpoint.check_data(state, swapped, same_spec=True)

    relabelled = SPEC.replace("labels=[UPPER, DIGIT, PUNCT]", "labels=[UPPER, PUNCT]")
    with pytest.raises(UserError, match="the vocabulary of axis 'shape' in dataset .* differs .* first difference at id 2: 'DIGIT' vs 'PUNCT'"):
        checkpoint.check_data(state, compile_dataset(tmp_path / "relabelled", relabelled), same_spec=False)

    without = compile_dataset(tmp_path / "without", "main chars\ngroup words = words\nfeed words as predict\n")
    with pytest.raises(UserError, match="reads axis 'shape', which dataset .* does not store \\(it stores: words\\)"):
        checkpoint.check_data(state, without, same_spec=False)


def test_eval_refuses_a_dataset_with_another_main_vocabulary(run, tmp_path, capsys):
    text = tmp_path / "corpus"
    text.mkdir()
    for i in range(4):
        (text / f"{i}.txt").write_text("zzz yyy xxx. " * 40)
    from grid_dsl.data.corpora import open_corpus

    other = compile_dataset(tmp_path / "other", SPEC, open_corpus(str(text)))
    code = main(["eval", str(run[0]), "--data", str(other.path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "multigrid: error: the main vocabulary of dataset" in err and "its ids would mean other characters" in err


def test_commands_report_a_damaged_checkpoint_with_exit_2(run, tmp_path, capsys):
    path, data = run
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ckpt.pt").write_bytes((path / "ckpt.pt").read_bytes()[:1000])
    before = (broken / "ckpt.pt").read_bytes()
    assert main(["eval", str(broken), "--data", str(data.path)]) == 2
    assert "ckpt.pt is truncated or corrupted" in capsys.readouterr().err
    assert main(["train", "--data", str(data.path), "--out", str(broken), "--resume"]) == 2
    assert "ckpt.pt is truncated or corrupted" in capsys.readouterr().err
    assert os.listdir(broken) == ["ckpt.pt"] and (broken / "ckpt.pt").read_bytes() == before


def another_version(run, tmp_path, **changes) -> Path:
    """A copy of the run whose ckpt.pt says `changes` (e.g. another format)."""
    values = torch.load(run[0] / checkpoint.LAST, weights_only=True)
    copy = tmp_path / "copy"
    copy.mkdir()
    torch.save({**values, **changes}, copy / checkpoint.LAST)
    return copy


@pytest.mark.parametrize("found", ["multigrid-checkpoint/0", "multigrid-checkpoint/2"])
def test_sample_refuses_a_checkpoint_of_another_version(run, tmp_path, capsys, found):
    copy = another_version(run, tmp_path, format=found)
    assert main(["sample", str(copy), "--chars", "4"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (f"ckpt.pt: not a checkpoint this version of multigrid reads (format {found!r}, this version of multigrid "
            f"reads '{checkpoint.FORMAT}'); train the run again with this version") in err


def test_a_checkpoint_edited_badly_names_the_key(run, tmp_path, capsys):
    values = torch.load(run[0] / checkpoint.LAST, weights_only=True)
    data = {**values["data"], "axes": [{**values["data"]["axes"][0], "mode": None}]}
    copy = another_version(run, tmp_path, data=data)
    assert main(["sample", str(copy), "--chars", "4"]) == 2
    assert "ckpt.pt is damaged or was edited (data.axes[0].mode: expected str, found null)" in capsys.readouterr().err
