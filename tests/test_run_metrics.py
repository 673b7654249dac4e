"""metrics.json as a typed, versioned record (model/network/metrics.py): what
train writes reads back whole; a run from before a field existed still reads;
a damaged, edited or foreign file is a one-line error with exit code 2."""

import json

import pytest

from conftest import run
from grid_dsl.language.diagnostics import UserError
from model.network import checkpoint, metrics
from model.network.config import TrainConfig
from model.training.train import train

ADDED_LATER = ("train_bpc_joint", "train_bpc_main", "flops_per_char", "flops", "boundary_rate", "global_dropped",
               "prefix_checked", "loss_mask")
TINY = TrainConfig(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, max_iters=4, eval_interval=2,
                   eval_iters=2, warmup_iters=1, sample_interval=0, device="cpu", prefix_check=100)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from grid_dsl import loads_spec
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.dataset import Dataset
    from grid_dsl.data.synthetic import synthetic_corpus

    root = tmp_path_factory.mktemp("metrics")
    spec = ("main chars\ngroup words = words\ntagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])\n"
            "feed shape as context\nfeed words as predict (weight=0.5)\n")
    compile_corpus(loads_spec(spec, "tiny.axes"), synthetic_corpus(stories=8, seed=1), root / "data",
                   val_fraction=0.25)
    returned = train(Dataset.open(root / "data"), root / "run", TINY, progress=False)
    return root / "run", returned


def test_what_train_returns_is_what_the_file_and_the_checkpoint_hold(trained):
    run_dir, returned = trained
    assert isinstance(returned, metrics.RunMetrics)
    assert metrics.load(run_dir) == returned == checkpoint.load(run_dir).metrics
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["format"] == "multigrid-metrics/1" and list(on_disk)[0] == "format"
    assert on_disk == returned.to_dict()  # lossless: the file is the record's plain form, keys in field order
    assert [h.step for h in returned.history] == [0, 2, 4] and returned.best.step in (2, 4)
    assert returned.finished(4) and not returned.finished(5) and returned.stopped == "max_iters"


def test_a_run_written_before_the_later_fields_still_reads(trained, tmp_path):
    run_dir, returned = trained
    old = {k: v for k, v in returned.to_dict().items() if k not in ADDED_LATER}
    old["history"] = [{k: v for k, v in h.items() if k != "flops"} for h in old["history"]]
    (tmp_path / "metrics.json").write_text(json.dumps(old))
    read = metrics.load(tmp_path)
    assert read.bpc_joint == returned.bpc_joint and read.history[-1].step == 4
    assert all(getattr(read, name) is None for name in ADDED_LATER) and read.history[0].flops is None


@pytest.mark.parametrize("edit, message", [
    (lambda m: {**m, "step": "four"}, r"is damaged or was edited \(step: expected int, found str\)"),
    (lambda m: {**m, "history": [{**m["history"][0], "bpc_joint": None}]},
     r"history\[0\]\.bpc_joint: expected float, found null"),
    (lambda m: {k: v for k, v in m.items() if k != "bpc_joint"}, r"\(bpc_joint: missing\)"),
    (lambda m: {**m, "bpc": 1.0}, r"\(bpc: unexpected key\)"),
    (lambda m: {**m, "format": "multigrid-metrics/9"}, r"not metrics this version of multigrid reads \(format "
                                                        r"'multigrid-metrics/9', this version"),
])
def test_an_edited_or_foreign_file_is_refused_naming_the_value(trained, tmp_path, edit, message):
    run_dir, _ = trained
    (tmp_path / "metrics.json").write_text(json.dumps(edit(json.loads((run_dir / "metrics.json").read_text()))))
    with pytest.raises(UserError, match=message):
        metrics.load(tmp_path)
    assert metrics.read(tmp_path) is None  # to a resumable experiment: nothing usable, train it again


def test_a_bad_file_named_on_the_command_line_exits_2(trained, tmp_path, capsys):
    run_dir, _ = trained
    (tmp_path / "metrics.json").write_text("{not json")
    code, _, err = run(capsys, "expansion-cost", run_dir, tmp_path)
    assert code == 2 and f"{tmp_path / 'metrics.json'} is not readable JSON" in err and "Traceback" not in err
