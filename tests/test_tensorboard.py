"""TensorBoard events of a run, read back with TensorBoard's own reader."""

import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from grid_dsl import compile_text, loads_spec
from grid_dsl.data.build import compile_corpus
from grid_dsl.data.dataset import Dataset
from grid_dsl.data.synthetic import synthetic_corpus
from model.network import checkpoint
from model.network.config import TrainConfig
from model.training.tensorboard import grid_sample_fn, label_text
from model.training.train import train

SPEC = "main chars\ngroup words = words\nfeed words as predict (weight=0.5)\n"
TINY = TrainConfig(prefix_check=200, n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, eval_iters=2, warmup_iters=2,
                   log_interval=1, device="cpu", max_iters=6, eval_interval=3, sample_interval=3)
GRID = "text   Once upon\nwords  WORD WORD"


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


def compile_dataset(out: Path, spec: str) -> Dataset:
    compile_corpus(loads_spec(spec, "tiny.axes"), synthetic_corpus(stories=6, seed=0), out, val_fraction=0.25)
    return Dataset.open(out)


def events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    return acc


def text_of(acc, tag: str) -> list[str]:
    return [tensor_util.make_ndarray(e.tensor_proto).item().decode() for e in acc.Tensors(f"{tag}/text_summary")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    data = compile_dataset(root / "data", SPEC)
    metrics = train(data, root / "run", TINY, sample_fn=lambda model: GRID, progress=False)
    return root / "run", data, metrics


def test_scalars_per_axis_and_split(run):
    path, _, metrics = run
    acc = events(path)
    tags = set(acc.Tags()["scalars"])
    expected = {f"loss/{split}/{axis}" for split in ("train", "val") for axis in ("main", "words")}
    expected |= {f"{score}/{split}" for score in ("bpc_main", "bpc_joint") for split in ("train", "val")}
    expected |= {"train/objective", "train/lr", "train/grad_norm", "train/tokens_per_s"}
    assert expected <= tags
    assert not any(tag.startswith("LEAKY") for tag in tags)
    assert [e.step for e in acc.Scalars("bpc_joint/val")] == [0, 3, 6]
    assert acc.Scalars("bpc_joint/val")[-1].value == pytest.approx(metrics.bpc_joint, rel=1e-6)
    assert acc.Scalars("loss/val/words")[-1].value == pytest.approx(metrics.val_loss["words"], rel=1e-6)
    assert acc.Scalars("bpc_main/val")[-1].value == pytest.approx(metrics.bpc_main, rel=1e-6)
    lrs = acc.Scalars("train/lr")
    assert [e.step for e in lrs] == [1, 2, 3, 4, 5, 6]
    assert [e.value for e in lrs] == pytest.approx([TINY.lr_at(s) for s in range(6)], rel=1e-6)
    assert all(e.value > 0 for e in acc.Scalars("train/grad_norm") + acc.Scalars("train/tokens_per_s"))


def test_samples_and_the_run_description_in_the_text_tab(run):
    acc = events(run[0])
    samples = text_of(acc, "samples")
    assert [e.step for e in acc.Tensors("samples/text_summary")] == [3, 6]
    assert samples[0] == "\n".join("    " + line for line in GRID.splitlines())  # verbatim, monospace
    (description,) = text_of(acc, "run")
    assert "honest" in description and "words: predict (weight 0.5, causal)" in description


def test_hparams_beside_the_final_scores(run):
    acc = events(run[0])
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["n_layer"].number_value == 1
    assert start.hparams["fusion"].string_value == "sum"
    assert start.hparams["leaky"].string_value == "false" and start.hparams["compile"].string_value == "true"
    assert start.hparams["label"].string_value == "honest"
    assert start.hparams["axis/words"].string_value == "predict (weight 0.5)"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {"bpc_main/val", "bpc_joint/val", "loss/val/main", "loss/val/words"} <= metrics
    assert metrics <= set(acc.Tags()["scalars"])  # each metric is a scalar of the run


def test_embeddings_in_the_projector_labelled_with_vocabularies(run):
    path, data, _ = run
    config = (path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "main:00006"' in config and 'tensor_name: "axis_words:00006"' in config
    words = path / "00006" / "axis_words"
    assert (words / "metadata.tsv").read_text().splitlines() == ["_", "WORD"]
    net = checkpoint.load(path).network()
    rows = np.loadtxt(words / "tensors.tsv", delimiter="\t")
    assert rows.shape == (2, 16)
    assert np.allclose(rows, net.fusion.table.detach().numpy()[:2], atol=1e-6)
    main = (path / "00006" / "main" / "metadata.tsv").read_text().splitlines()
    assert len(main) == len(data.main_vocab) and "'\\n'" in main and "' '" in main and "a" in main


def test_label_text_keeps_tsv_cells_whole():
    assert [label_text(x) for x in ["a", " ", "\n", "\t", "NOUN PHRASE", 65, "é"]] == [
        "a", "' '", "'\\n'", "'\\t'", "NOUN PHRASE", "65", "é"]


def test_leaky_runs_keep_their_scores_apart(tmp_path):
    data = compile_dataset(tmp_path / "data", SPEC.replace("predict (weight=0.5)", "oracle"))
    metrics = train(data, tmp_path / "run", TINY.replace(max_iters=2, eval_interval=2, sample_interval=0), progress=False)
    acc = events(tmp_path / "run")
    tags = set(acc.Tags()["scalars"])
    assert {"LEAKY/bpc_main/val", "LEAKY/bpc_joint/val", "LEAKY/loss/val/main", "LEAKY/train/objective"} <= tags
    assert not {"bpc_main/val", "bpc_joint/val", "loss/val/main"} & tags
    assert acc.Scalars("LEAKY/bpc_main/val")[-1].value == pytest.approx(metrics.bpc_main, rel=1e-6)
    assert "LEAKY — not an LM score" in text_of(acc, "run")[0]
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["leaky"].string_value == "true"
    assert start.hparams["label"].string_value == "LEAKY — not an LM score"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["leaky"] is True


def test_grid_samples_from_the_model(run):
    path, data, _ = run
    sample = grid_sample_fn(data, checkpoint.load(path).data.axes, chars=40, width=60)
    net = checkpoint.load(path).network()
    text = sample(net)
    assert text == sample(net)  # seeded
    rows = text.splitlines()
    assert rows[0].startswith("text  ") and rows[1].startswith("words ")
    prompt = data.decode(data.main("val")[:16])
    assert "\n" not in prompt and rows[0].startswith("text  " + prompt)  # the sample continues the prompt
    assert len("".join(row[6:] for row in rows[0::3])) == 16 + 40


def test_grid_samples_of_a_context_axis_model_compute_its_labels_from_the_text(tmp_path):
    spec = ("main chars\ngroup words = words\ntagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])\n"
            "feed shape as context\nfeed words as predict\n")
    data = compile_dataset(tmp_path / "data", spec)
    train(data, tmp_path / "run", TINY.replace(max_iters=1, eval_interval=1, sample_interval=0), progress=False)
    state = checkpoint.load(tmp_path / "run")
    text = grid_sample_fn(data, state.data.axes, chars=50, width=60)(state.network())
    rows = text.splitlines()
    written = "".join(row[len("text  "):] for row in rows if row.startswith("text  "))
    expected = compile_text(loads_spec(spec), written).render(["shape"], width=60).splitlines()
    assert [r for r in rows if r.startswith("shape ")] == [r for r in expected if r.startswith("shape ")]


def test_concat_fusion_shows_each_axis_at_its_own_width(tmp_path):
    spec = ("main chars\ngroup words = words\ntagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])\n"
            "feed shape as context\nfeed words as predict (weight=0.5, dim=8)\n")
    data = compile_dataset(tmp_path / "data", spec)
    train(data, tmp_path / "run", TINY.replace(fusion="concat", max_iters=1, eval_interval=1, sample_interval=0),
          progress=False)
    shown = {axis: np.loadtxt(tmp_path / "run" / "00001" / f"axis_{axis}" / "tensors.tsv", delimiter="\t", ndmin=2)
             for axis in ("shape", "words")}
    assert shown["shape"].shape == (4, 4) and shown["words"].shape == (2, 8)  # not the table's padded width 8
