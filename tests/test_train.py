"""Training and evaluation end to end on tiny datasets and models (CPU)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_dsl import loads_spec
from grid_dsl.data.build import compile_corpus
from model.cli.main import main
from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.synthetic import synthetic_corpus
from model.network import checkpoint
from model.training.batches import Batches
from model.network.config import TrainConfig
from model.training.evaluate import LN2, window_starts, whole_split
from model.network.transformer import GridTransformer
from model.training.train import train

ROOT = Path(__file__).resolve().parents[1]
SPEC = """main chars
group words = words
tagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])
feed shape as context
feed words as predict (weight=0.5)
"""
ORACLE_SPEC = SPEC.replace("feed words as predict (weight=0.5)", "feed words as oracle")
TINY = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, eval_iters=2, warmup_iters=2, prefix_check=200,
            log_interval=1, sample_interval=0, device="cpu", seed=1)
TINY_ARGS = [f"{k}={v}" for k, v in TINY.items()]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


def compile_dataset(out: Path, spec: str, stories: int = 12) -> Dataset:
    compile_corpus(loads_spec(spec, "tiny.axes"), synthetic_corpus(stories=stories, seed=0), out, val_fraction=0.25)
    return Dataset.open(out)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Dataset:
    return compile_dataset(tmp_path_factory.mktemp("data") / "tiny", SPEC)


def config(**changes) -> TrainConfig:
    return TrainConfig(**{**TINY, **changes})


def files(run: Path) -> dict:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


# ------------------------------------------------------------------- the CLI


def test_train_and_eval_commands(data, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--data", str(data.path), "--out", str(run), *TINY_ARGS, "max_iters=6", "eval_interval=3"])
    out = capsys.readouterr().out
    assert code == 0
    assert {"ckpt.pt", "best.pt", "metrics.json"} <= set(os.listdir(run))
    assert any(name.startswith("events.out.tfevents.") for name in os.listdir(run))
    m = json.loads((run / "metrics.json").read_text())
    assert m["step"] == 6 and m["stopped"] == "max_iters" and m["leaky"] is False and m["label"] == "honest"
    assert [(a["name"], a["mode"], a["weight"]) for a in m["axes"]] == [("shape", "context", 1.0), ("words", "predict", 0.5)]
    assert set(m["val_loss"]) == {"main", "words"}
    # evaluation is unweighted although words has weight 0.5 in training
    assert m["bpc_joint"] == pytest.approx((m["val_loss"]["main"] + m["val_loss"]["words"]) / LN2)
    assert m["bpc_main"] == pytest.approx(m["val_loss"]["main"] / LN2)
    assert m["tokens"] == 6 * 4 * 16 and m["tokens_per_s"] > 0 and m["wall_time_s"] > 0
    assert m["parameters"] == checkpoint.load(run).network().num_params()
    assert f"val bpc_main {m['bpc_main']:.4f}, bpc_joint {m['bpc_joint']:.4f}" in out
    assert "axes: shape context, words predict (weight 0.5)" in out and "LEAKY" not in out

    assert main(["eval", str(run), "--data", str(data.path), "--json", "--batch-size", "7"]) == 0
    e = json.loads(capsys.readouterr().out)
    assert e["positions"] == data.tokens("val") - 2  # every scored position once
    assert e["bpc_joint"] == pytest.approx(e["bpc_main"] + e["bits"]["words"])
    assert [(a["name"], a["mode"], a["bits"] is None) for a in e["axes"]] == [("shape", "context", True),
                                                                               ("words", "predict", False)]
    assert main(["eval", str(run), "--data", str(data.path)]) == 0
    table = capsys.readouterr().out
    assert f"bpc_joint  {e['bpc_joint']:.4f}" in table and "words  predict  " in table


def test_oracle_runs_are_labelled_leaky_everywhere(tmp_path, capsys):
    data = compile_dataset(tmp_path / "oracle", ORACLE_SPEC, stories=6)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data.path), "--out", str(run), "--steps", "2", *TINY_ARGS, "eval_interval=2"]) == 0
    out = capsys.readouterr().out
    m = json.loads((run / "metrics.json").read_text())
    assert m["step"] == 2  # --steps N is max_iters=N
    assert m["leaky"] is True and m["label"] == "LEAKY — not an LM score"
    assert f"bpc_joint {m['bpc_joint']:.4f}  [LEAKY — not an LM score]" in out
    assert main(["eval", str(run), "--data", str(data.path)]) == 0
    table = capsys.readouterr().out
    assert "LEAKY — not an LM score" in table.splitlines()[0] and "bpc_main" in table
    assert all("LEAKY" in line for line in table.splitlines() if line.startswith("bpc_"))

    # the baseline on the same data reads no axis, so nothing leaks into it
    base = tmp_path / "base"
    assert main(["train", "--data", str(data.path), "--out", str(base), *TINY_ARGS, "max_iters=2", "eval_interval=2",
                 "axes=none"]) == 0
    assert "LEAKY" not in capsys.readouterr().out
    m = json.loads((base / "metrics.json").read_text())
    assert m["leaky"] is False and m["label"] == "honest"
    assert main(["eval", str(base), "--data", str(data.path)]) == 0
    assert "LEAKY" not in capsys.readouterr().out


# ------------------------------------------------------ the loop's guarantees


def test_resume_continues_exactly_the_same_curve(data, tmp_path):
    cfg = config(dropout=0.1, max_iters=8, lr_decay_iters=8, eval_interval=4)
    straight = train(data, tmp_path / "straight", cfg, progress=False)
    train(data, tmp_path / "resumed", cfg.replace(max_iters=4), progress=False)
    assert checkpoint.load(tmp_path / "resumed").step == 4
    resumed = train(data, tmp_path / "resumed", cfg, resume=True, progress=False)
    assert resumed.val_loss == straight.val_loss  # exactly: same batches, dropout masks, optimizer state
    assert resumed.step == straight.step == 8 and resumed.tokens == straight.tokens
    a, b = (checkpoint.load(tmp_path / r).model for r in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gradient_accumulation_takes_the_step_of_the_whole_batch(data, tmp_path):
    one = train(data, tmp_path / "one", config(batch_size=8, max_iters=3, eval_interval=3), progress=False)
    two = train(data, tmp_path / "two", config(batch_size=4, grad_accum=2, max_iters=3, eval_interval=3), progress=False)
    assert two.tokens == one.tokens
    train(data, tmp_path / "half", config(batch_size=4, max_iters=3, eval_interval=3), progress=False)
    a, b, half = (checkpoint.load(tmp_path / r).model for r in ("one", "two", "half"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert not torch.allclose(a["lm_head.weight"], half["lm_head.weight"], atol=1e-4)  # another batch, another step


@pytest.mark.slow
def test_two_ddp_processes_match_one_with_the_same_global_batch(data, tmp_path):
    reference = train(data, tmp_path / "one", config(batch_size=4, grad_accum=2, max_iters=3, eval_interval=3),
                      progress=False)
    run = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "model.cli", "train", "--data", str(data.path), "--out", str(run), *TINY_ARGS,
               "max_iters=3", "eval_interval=3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    m = json.loads((run / "metrics.json").read_text())
    assert m["processes"] == 2
    assert m["val_loss"]["main"] == pytest.approx(reference.val_loss["main"], abs=1e-5)
    assert m["val_loss"]["words"] == pytest.approx(reference.val_loss["words"], abs=1e-5)
    a, b = checkpoint.load(tmp_path / "one").model, checkpoint.load(run).model
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert done.stdout.count("val bpc_main") == 1  # only the first process prints


def test_a_wall_clock_budget_stops_the_run(data, tmp_path):
    m = train(data, tmp_path / "run", config(max_iters=10**6, eval_interval=10**6), max_time=0.5, progress=False)
    assert m.stopped == "max_time" and 0 < m.step < 10**6
    assert checkpoint.load(tmp_path / "run").step == m.step


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(data, tmp_path, monkeypatch):
    forward, calls = GridTransformer.forward, []

    def poisoned(self, main, meta=None):
        out = forward(self, main, meta)
        if self.training:
            calls.append(1)
            if len(calls) >= 5:  # the 5th training step
                return out._replace(loss=out.loss * float("nan"))
        return out

    monkeypatch.setattr(GridTransformer, "forward", poisoned)
    run = tmp_path / "run"
    with pytest.raises(UserError) as err:
        train(data, run, config(max_iters=10, eval_interval=2), progress=False)
    message = str(err.value)
    assert "the training loss became nan at step 5" in message
    assert f"the last good checkpoint is {run / 'ckpt.pt'} (step 4)" in message
    state = checkpoint.load(run)
    assert state.step == 4 and all(torch.isfinite(v).all() for v in state.model.values())
    assert json.loads((run / "metrics.json").read_text())["step"] == 4


def test_ctrl_c_saves_a_checkpoint_that_resumes(data, tmp_path):
    def press_ctrl_c(model):
        signal.raise_signal(signal.SIGINT)  # the handler only asks the loop to stop
        return "sample"

    run = tmp_path / "run"
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs in the background (nohup, &)
    with pytest.raises(UserError) as err:
        train(data, run, config(max_iters=10, eval_interval=100, sample_interval=3), sample_fn=press_ctrl_c,
              progress=False)
    assert f"interrupted at step 3: saved {run / 'ckpt.pt'}; continue with" in str(err.value)
    assert "--resume" in str(err.value)
    assert checkpoint.load(run).step == 3
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    m = train(data, run, config(max_iters=5, eval_interval=100), resume=True, progress=False)
    assert m.step == 5


def test_ctrl_c_on_the_command_line_exits_2_after_saving(data, tmp_path, capsys):
    run = tmp_path / "run"

    def interrupt_once_training():
        for _ in range(600):
            if any(run.glob("events.out.tfevents.*")):
                time.sleep(0.3)
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.05)

    threading.Thread(target=interrupt_once_training, daemon=True).start()
    code = main(["train", "--data", str(data.path), "--out", str(run), *TINY_ARGS, "max_iters=1000000"])
    err = capsys.readouterr().err
    assert code == 2
    assert "multigrid: error: interrupted at step" in err and "Traceback" not in err
    assert checkpoint.load(run).step > 0


# -------------------------------------------------------------- evaluation


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 500), block=st.integers(1, 40))
def test_whole_split_windows_score_every_position_once(n, block):
    starts, tail = window_starts(n, block)
    main_targets = [s + 1 + t for s in starts for t in range(block)]
    axis_targets = [s + 2 + t for s in starts for t in range(block)]
    if tail:
        s = len(starts) * block
        assert s + tail + 2 <= n  # the last window fits in the stream
        main_targets += [s + 1 + t for t in range(tail)]
        axis_targets += [s + 2 + t for t in range(tail)]
    assert main_targets == list(range(1, max(n - 1, 1)))
    assert axis_targets == list(range(2, max(n, 2)))


def test_whole_split_does_not_depend_on_batching(data, tmp_path):
    train(data, tmp_path / "run", config(max_iters=2, eval_interval=2), progress=False)
    state = checkpoint.load(tmp_path / "run")
    model = state.network()
    columns = checkpoint.check_data(state, data, same_spec=True)
    one, many = (whole_split(model, data, "val", columns, batch_size=b) for b in (5, 64))
    assert one.positions == many.positions == data.tokens("val") - 2
    assert many.nll_main == pytest.approx(one.nll_main, rel=1e-6)
    assert many.nll_axes["words"] == pytest.approx(one.nll_axes["words"], rel=1e-6)
    # the first full window scored by hand
    main, meta = Batches(data, "val", 16, 1).at(np.array([0]))
    out = model.eval()(main, meta)
    assert out.loss.item() == pytest.approx(out.nll_main.item() + 0.5 * out.nll_axes["words"].item(), rel=1e-6)


# --------------------------------------------------------------- bad input


def test_resume_refuses_a_dataset_from_another_spec(data, tmp_path, capsys):
    run = tmp_path / "run"
    train(data, run, config(max_iters=2, eval_interval=2), progress=False)
    before = files(run)
    other = compile_dataset(tmp_path / "other", SPEC.replace("weight=0.5", "weight=0.25"))
    code = main(["train", "--data", str(other.path), "--out", str(run), "--resume", "max_iters=4"])
    err = capsys.readouterr().err
    assert code == 2 and "was compiled from another spec" in err and "Traceback" not in err
    assert files(run) == before


def test_resume_refuses_to_change_the_network_or_to_do_nothing(data, tmp_path):
    run = tmp_path / "run"
    train(data, run, config(max_iters=2, eval_interval=2), progress=False)
    with pytest.raises(UserError, match=r"cannot change the network's shape \(n_embd 16 -> 32\)"):
        train(data, run, config(max_iters=4, n_embd=32), resume=True, progress=False)
    with pytest.raises(UserError, match="has already trained 2 steps"):
        train(data, run, config(max_iters=2), resume=True, progress=False)


def test_a_new_run_never_overwrites_one(data, tmp_path):
    run = tmp_path / "run"
    train(data, run, config(max_iters=1, eval_interval=1), progress=False)
    before = files(run)
    with pytest.raises(UserError, match="already holds a run .* continue it with --resume"):
        train(data, run, config(max_iters=1), progress=False)
    assert files(run) == before


def test_a_context_axis_that_is_not_causal_is_refused(data, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for split in ("train", "val"):
        (copy / split).mkdir()
        for f in (data.path / split).iterdir():
            (copy / split / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((data.path / "manifest.json").read_text())
    manifest["axes"][0]["causal"] = False
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="axis 'shape' is fed as context but is not causal"):
        train(copy, tmp_path / "run", config(max_iters=1), progress=False)
    assert not (tmp_path / "run").exists()


def test_a_spec_that_feeds_no_axis_trains_the_baseline(tmp_path):
    data = compile_dataset(tmp_path / "plain", "main chars\ngroup words = words\n", stories=6)
    assert [a.mode for a in data.axes] == [None]  # stored, not fed
    m = train(data, tmp_path / "run", config(max_iters=2, eval_interval=2), progress=False)
    assert m.axes == () and set(m.val_loss) == {"main"} and m.bpc_joint == m.bpc_main
    assert checkpoint.load(tmp_path / "run").network().config.axes == ()


def test_axes_none_trains_the_baseline_on_the_same_data(data, tmp_path):
    """axes=none reads no axis of a dataset that feeds some: the same model,
    losses and split as a dataset compiled without axes (same main stream)."""
    plain = compile_dataset(tmp_path / "plain", "main chars\n")
    assert np.array_equal(plain.main("val"), data.main("val"))
    ours = train(data, tmp_path / "none", config(max_iters=3, eval_interval=3, axes="none"), progress=False)
    theirs = train(plain, tmp_path / "plain_run", config(max_iters=3, eval_interval=3), progress=False)
    assert ours.axes == () and ours.bpc_main == theirs.bpc_main and ours.val_loss == theirs.val_loss


def test_axes_selects_fed_axes_and_names_the_ones_it_cannot(data, tmp_path):
    fed = [a.name for a in data.axes if a.mode is not None]
    m = train(data, tmp_path / "one", config(max_iters=1, eval_interval=1, axes=fed[-1]), progress=False)
    assert [a.name for a in m.axes] == [fed[-1]]
    with pytest.raises(UserError, match=r"axes names 'nope', which dataset .* does not feed; the fed axes are"):
        train(data, tmp_path / "bad", config(max_iters=1, axes="nope"), progress=False)
    assert not (tmp_path / "bad").exists()


def test_progress_to_a_pipe_is_a_plain_line_now_and_then(data, tmp_path, capsys, monkeypatch):
    """stderr is not a terminal under pytest: no bar, but plain lines."""
    import model.training.train as train_module

    monkeypatch.setattr(train_module, "PROGRESS_SECONDS", 0.0)
    train(data, tmp_path / "run", config(max_iters=4, log_interval=2, eval_interval=4), progress=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("step ") and "tokens/s" in line]
    assert [line.split(":")[0] for line in lines] == ["step 2/4", "step 4/4"]
    assert "train loss" in lines[0]
