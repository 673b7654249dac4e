"""`multigrid sample` and `multigrid expand` on tiny datasets and runs (CPU)."""

from pathlib import Path

import attrs

import numpy as np
import pytest
import torch

from grid_dsl import load_spec, loads_spec
from grid_dsl.data.build import compile_corpus
from model.cli.main import main
from grid_dsl.data.compiler import compile_text
from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.synthetic import synthetic_corpus
from model.network import checkpoint
from model.network.config import TrainConfig
from model.training.evaluate import LEAKY_LABEL
from model.training.context import spec_plan
from model.training.context import stored_plan
from model.training.train import train

RULES = """rules starts {
    when char is upper and not char[-1] is letter -> CAPITAL
    when char[-1] is space -> AFTER_SPACE
}
"""
OLD_SPEC = """main chars
group words = words
tagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])
feed words as context
feed shape as predict
"""
SPEC = OLD_SPEC.replace("feed words", RULES + "feed words") + "feed starts as context\n"  # OLD_SPEC + starts
BAD_SPEC = OLD_SPEC.replace("UPPER, DIGIT, PUNCT", "UPPER, PUNCT") + RULES + "feed starts as context\n"
ORACLE_SPEC = OLD_SPEC.replace("feed words as context", "feed words as oracle")
TINY = dict(n_layer=1, n_head=2, n_embd=16, block_size=32, batch_size=4, eval_iters=2, warmup_iters=1, prefix_check=200,
            log_interval=1, sample_interval=0, device="cpu", seed=1, max_iters=3, eval_interval=3)
WIDTH = 200


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))  # --show-grid draws one block per WIDTH columns


def compile_dataset(root: Path, name: str, spec: str) -> Dataset:
    (root / f"{name}.axes").write_text(spec)
    compile_corpus(loads_spec(spec, f"{name}.axes"), synthetic_corpus(stories=6, seed=0), root / name,
                   val_fraction=0.25)
    return Dataset.open(root / name)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Datasets of SPEC, OLD_SPEC (SPEC without `starts`) and BAD_SPEC, with
    their spec files, and runs: `full` (every axis of SPEC), `context` (its
    context axes only) and `old` (OLD_SPEC)."""
    root = tmp_path_factory.mktemp("sample")
    for name, spec in (("data", SPEC), ("old_data", OLD_SPEC), ("bad_data", BAD_SPEC)):
        compile_dataset(root, name, spec)
    for run, data, axes in (("full", "data", "fed"), ("context", "data", "words,starts"), ("old", "old_data", "fed")):
        train(root / data, root / run, TrainConfig(**TINY, axes=axes), progress=False)
    return root


def sample(capsys, run, *options):
    code = main(["sample", str(run), "--chars", "24", "--prompt", "Once", *options])
    out, err = capsys.readouterr()
    return code, out, err


# -------------------------------------------------------------------- sample


def test_the_kv_cache_samples_what_full_recomputation_samples(root, capsys):
    code, cached, _ = sample(capsys, root / "full", "--seed", "3")
    assert code == 0 and cached.startswith("Once") and len(cached) == 4 + 24 + 1  # the prompt, 24 more, a newline
    assert sample(capsys, root / "full", "--seed", "3", "--no-cache")[1] == cached
    assert sample(capsys, root / "full", "--seed", "3", "--top-k", "3", "--best")[0] == 0
    greedy = sample(capsys, root / "full", "--temperature", "0", "--seed", "1")[1]
    assert sample(capsys, root / "full", "--temperature", "0", "--seed", "2", "--no-cache")[1] == greedy


def test_context_axes_are_the_spec_compiled_on_the_generated_text(root, capsys):
    code, text, _ = sample(capsys, root / "context", "--seed", "5")
    code_grid, drawn, _ = sample(capsys, root / "context", "--seed", "5", "--show-grid")
    assert code == code_grid == 0
    expected = compile_text(loads_spec(SPEC), text.removesuffix("\n")).render(["words", "starts"], width=WIDTH)
    assert drawn == expected + "\n"


def test_fixed_labels_are_written_under(root, capsys):
    code, drawn, _ = sample(capsys, root / "full", "--fix", "shape=DIGIT", "--show-grid", "--seed", "7")
    assert code == 0
    rows = {line.split(" ")[0]: line for line in drawn.splitlines()}
    assert set(rows) == {"text", "words", "starts", "shape"}
    generated = rows["shape"][len("starts ") + 4 :]  # the cells of the 24 generated characters
    run = "DIGIT" + "·" * 40  # one run of DIGIT, perhaps begun under the prompt's last labels (the model's)
    assert any(generated == run[k : k + 24] for k in range(3)), generated


@pytest.mark.parametrize("options, message", [
    (["--prompt", "Ωnce"], "--prompt has characters the model of {run}/ckpt.pt never saw: 'Ω'"),
    (["--prompt", ""], "--prompt is empty"),
    (["--fix", "shap=DIGIT"], "--fix 'shap=DIGIT': the model of {run}/ckpt.pt reads no axis 'shap'; "
                              "did you mean 'shape'? (the axes you can fix: shape)"),
    (["--fix", "shape=DIGITS"], "axis 'shape' has no label 'DIGITS'; did you mean 'DIGIT'? "
                                "(its labels: _, UPPER, DIGIT, PUNCT)"),
    (["--fix", "words=WORD"], "'words' is a context axis, whose labels the spec computes from the text"),
    (["--fix", "shape"], "--fix 'shape': expected AXIS=LABEL, e.g. --fix shape=PUNCT"),
    (["--fix", "shape=UPPER", "--fix", "shape=DIGIT"], "axis 'shape' is fixed twice"),
])
def test_bad_requests_exit_2_with_the_fix(root, capsys, options, message):
    code, out, err = sample(capsys, root / "full", *options)
    assert code == 2 and out == ""
    assert message.format(run=root / "full") in err and "Traceback" not in err


def test_a_missing_run_exits_2(tmp_path, capsys):
    code, _, err = sample(capsys, tmp_path / "nope")
    assert code == 2 and f"checkpoint not found: {tmp_path / 'nope'} (train one with `multigrid train" in err
    (tmp_path / "empty").mkdir()
    code, _, err = sample(capsys, tmp_path / "empty", "--best")
    assert code == 2 and f"checkpoint not found: {tmp_path / 'empty' / 'best.pt'}; {tmp_path / 'empty'} holds no" in err


def test_an_oracle_run_samples_under_the_leaky_label(tmp_path, capsys):
    compile_dataset(tmp_path, "oracle", ORACLE_SPEC)
    train(tmp_path / "oracle", tmp_path / "run", TrainConfig(**{**TINY, "max_iters": 1, "eval_interval": 1}),
          progress=False)
    code, drawn, err = sample(capsys, tmp_path / "run", "--show-grid")
    assert code == 0 and LEAKY_LABEL in err and "leaky axes: words" in err
    assert [line.split(" ")[0] for line in drawn.splitlines()] == ["text", "words", "shape"]


def test_the_spec_is_rebuilt_from_the_checkpoint_with_its_includes(tmp_path):
    (tmp_path / "common").mkdir()
    (tmp_path / "specs" / "deep").mkdir(parents=True)
    (tmp_path / "common" / "rules.axes").write_text(RULES + 'include "../specs/deep/shape.axes"\n')
    (tmp_path / "specs" / "deep" / "shape.axes").write_text("tagger shape = char_class (labels=[UPPER])\n")
    (tmp_path / "specs" / "main.axes").write_text('include "../common/rules.axes"\nfeed starts as context\n')
    plan = load_spec(tmp_path / "specs" / "main.axes")
    sources = dict(plan.sources)
    for path in tmp_path.rglob("*.axes"):
        path.unlink()  # the checkpoint's copy is all there is
    rebuilt = stored_plan(sources, plan.spec_hash, "ckpt.pt")
    assert rebuilt.spec_hash == plan.spec_hash and rebuilt.names == plan.names


def test_a_checkpoint_without_spec_text_reads_its_dataset(root):
    data = checkpoint.load(root / "full").data
    assert data.spec_sources == Dataset.open(root / "data").manifest.spec.sources
    data = attrs.evolve(data, spec_sources=None)  # as in early checkpoints
    assert spec_plan(data, "ckpt.pt").spec_hash == data.spec_hash
    with pytest.raises(UserError, match="stores no spec text and its dataset .* is gone"):
        spec_plan(attrs.evolve(data, path=str(root / "gone")), "ckpt.pt")


# -------------------------------------------------------------------- expand


def expand(capsys, root, out, *options, spec="data", data="data", run="old"):
    argv = ["expand", str(root / run), "--spec", str(root / f"{spec}.axes"), "--data", str(root / data),
            "--out", str(out), *options]
    code = main(argv)
    return code, *capsys.readouterr()


def windows(ds: Dataset, names: list[str], length: int = 34):
    main_ids = torch.from_numpy(np.asarray(ds.main("val")[:length], dtype=np.int64))[None]
    meta = np.stack([np.asarray(ds.axis("val", n)[:length], dtype=np.int64) for n in names], -1)
    return main_ids, torch.from_numpy(meta)[None]


def test_an_expanded_model_predicts_the_main_stream_as_the_run_did(root, tmp_path, capsys):
    code, out, err = expand(capsys, root, tmp_path / "run2", "max_iters=0")
    assert code == 0 and "expanded" in out and "by starts" in out, err
    assert {"ckpt.pt", "best.pt", "metrics.json"} <= {p.name for p in (tmp_path / "run2").iterdir()}
    state = checkpoint.load(tmp_path / "run2")
    assert state.step == 0 and state.frozen == () and state.train_config["axes"] == "words,shape,starts"
    assert [a.name for a in state.data.axes] == ["words", "shape", "starts"]
    old, new = (checkpoint.load(r).network().eval() for r in (root / "old", tmp_path / "run2"))
    ds = Dataset.open(root / "data")
    main_ids, meta = windows(ds, ["words", "shape", "starts"])
    assert meta[..., 2].any()  # the new axis has labels here, and they change nothing yet
    with torch.no_grad():
        assert torch.allclose(new(main_ids, meta).logits, old(main_ids, meta[..., :2]).logits, atol=1e-6)


def test_freeze_trains_the_axes_only_and_a_resume_keeps_it(root, tmp_path, capsys):
    run2 = tmp_path / "run2"
    assert expand(capsys, root, run2, "--freeze", "max_iters=2", "eval_interval=2")[0] == 0
    old, state = checkpoint.load(root / "old").model, checkpoint.load(run2)
    backbone = [k for k in old if k.startswith(("transformer.", "lm_head."))]
    assert "transformer.wte.weight" in state.frozen and set(state.frozen) <= set(backbone)
    assert all(torch.equal(old[k], state.model[k]) for k in backbone)
    assert not torch.equal(state.model["fusion.table"][-3:], torch.zeros(3, 16))  # the new rows learned
    assert main(["train", "--data", str(root / "data"), "--out", str(run2), "--resume", "max_iters=3"]) == 0
    resumed = checkpoint.load(run2).model
    assert all(torch.equal(old[k], resumed[k]) for k in backbone)


@pytest.mark.parametrize("spec, data, run, options, message", [
    ("bad_data", "bad_data", "old", [], "axis 'shape' of {root}/bad_data.axes has another vocabulary than in "
                                        "{root}/old/ckpt.pt; first difference at id 2: 'DIGIT' vs 'PUNCT'"),
    ("old_data", "data", "old", [], "dataset {root}/data was compiled from another spec"),
    ("old_data", "old_data", "full", [], "{root}/old_data.axes does not feed axis 'starts', which "
                                         "{root}/full/ckpt.pt reads"),
    ("old_data", "old_data", "old", [], "feeds no axis that {root}/old/ckpt.pt does not read already"),
    ("data", "data", "old", ["n_layer=2"], "expand keeps the network of {root}/old/ckpt.pt (n_layer 1 -> 2)"),
])
def test_expand_refuses_what_does_not_fit_the_run(root, tmp_path, capsys, spec, data, run, options, message):
    code, out, err = expand(capsys, root, tmp_path / "run2", *options, spec=spec, data=data, run=run)
    assert code == 2 and message.format(root=root) in err and "Traceback" not in err
    assert not (tmp_path / "run2").exists()


def test_train_refuses_an_initial_model_that_does_not_fit(root, tmp_path):
    net = checkpoint.load(root / "old").network()
    with pytest.raises(ValueError, match="n_layer 1 vs 2"):
        train(root / "data", tmp_path / "run", TrainConfig(**{**TINY, "n_layer": 2}), init_model=net, progress=False)
    with pytest.raises(ValueError, match="axis 'shape' 4 labels, predict vs 3 labels, predict"):
        train(root / "bad_data", tmp_path / "run", TrainConfig(**TINY), init_model=net, progress=False)
    assert not (tmp_path / "run").exists()


def test_a_spec_stored_on_another_machine_finds_its_includes_by_their_path_tails(tmp_path):
    """Sources keep absolute paths: on another machine the includes resolve
    elsewhere, and the stored texts are found by the tails of their paths,
    with nothing written to disk."""
    (tmp_path / "common").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "common" / "rules.axes").write_text(RULES)
    (tmp_path / "specs" / "main.axes").write_text('include "../common/rules.axes"\nfeed starts as context\n')
    plan = load_spec(tmp_path / "specs" / "main.axes")
    moved = {f"/elsewhere/home/someone{name}": text for name, text in plan.sources.items()}
    rebuilt = stored_plan(moved, plan.spec_hash, "ckpt.pt")
    assert rebuilt.spec_hash == plan.spec_hash and rebuilt.names == plan.names
