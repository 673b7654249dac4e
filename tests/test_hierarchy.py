"""The hierarchical grid transformer (issue 17): boundaries, the global blocks
and their cap, causality, KV-cache decoding, training runs (metrics, resume,
expand, refusals) and the compute accounting. Tiny models, CPU."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_dsl import loads_spec
from grid_dsl.data.build import compile_corpus
from grid_dsl.data.compiler import compile_text
from grid_dsl.data.dataset import Dataset
from grid_dsl.data.synthetic import synthetic_corpus
from model.cli.main import main as cli_main
from model.network import checkpoint
from model.network.flops import boundary_rates, flops_per_char, mean_keys
from model.network.generate import _Window, generate
from model.network.hierarchy import boundary_ids, capacity
from model.network.transformer import AxisSpec, GridConfig, GridTransformer, KVCache, expand

ROOT = Path(__file__).resolve().parents[1]
SPEC = """main chars
group words = words (encoding=bio)
group spans = words
lexicon the (case=insensitive) {
    "the" -> THE
}
tagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])
feed shape as context
feed words as predict (weight=0.5)
feed spans as context
feed the as predict
"""
TINY = dict(n_layer=2, n_head=2, n_embd=16, block_size=16, batch_size=4, eval_iters=2, warmup_iters=2,
            prefix_check=200, log_interval=1, sample_interval=0, device="cpu", seed=1,
            boundary="words", global_layers=1, global_embd=8, global_heads=2, local_window=6)
TINY_ARGS = [f"{k}={v}" for k, v in TINY.items()]
V = 11
AXES = (AxisSpec("pos", 7, "predict"), AxisSpec("stage", 4, "context"), AxisSpec("lex", 13, "predict", dim=6))
WORDS = ("_", "B-WORD", "I-WORD")

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


@pytest.fixture(scope="module")
def plan():
    return loads_spec(SPEC, "tiny.axes")


@pytest.fixture(scope="module")
def data(tmp_path_factory, plan) -> Dataset:
    out = tmp_path_factory.mktemp("data") / "tiny"
    compile_corpus(plan, synthetic_corpus(stories=8, seed=0), out, val_fraction=0.25)
    return Dataset.open(out)


def main(argv) -> int:
    return cli_main([str(a) for a in argv])


def hierarchical(boundary="words", axes=(), fusion="sum", seed=0, **kw):
    torch.manual_seed(seed)
    options = dict(block_size=16, n_layer=2, n_head=2, n_embd=16, global_layers=2, global_embd=8, global_heads=2,
                   local_window=5, boundary=boundary, boundary_vocab=WORDS if boundary == "words" else ()) | kw
    return GridTransformer(GridConfig(V, axes=axes, fusion=fusion, **options)).eval()


def random_windows(net, B=3, T=16, seed=1):
    """main [B, T+2] and meta [B, T+2, K]: the axes, then the boundary labels when the model reads an axis."""
    g = torch.Generator().manual_seed(seed)
    main = torch.randint(V, (B, T + 2), generator=g)
    sizes = [a.vocab_size for a in net.config.axes] + ([3] if net.config.boundary_axis else [])
    meta = torch.stack([torch.randint(n, (B, T + 2), generator=g) for n in sizes], -1) if sizes else None
    return main, meta


def without_hierarchy(net, *args, **kw):
    hierarchy, net.hierarchy = net.hierarchy, None
    try:
        return net.logits(*args, **kw)
    finally:
        net.hierarchy = hierarchy


# ------------------------------------------------------------------ boundaries


def test_boundaries_of_hand_made_texts(plan):
    text = "The cat  sat. On it"
    grid = compile_text(plan, text)
    words = torch.as_tensor(grid.ids("words"))[None]
    net = hierarchical(boundary_vocab=plan.axis("words").vocab)
    flags = net.hierarchy.flags(words, 0, 1, len(text), "cpu")[0]
    assert [i for i, f in enumerate(flags) if f] == [0, 4, 9, 14, 17]  # each word's first letter: B-WORD
    assert boundary_ids(("_", "B-NP", "I-NP", "B-VP", "I-VP")) == [1, 3]  # span starts of a BIO axis
    assert boundary_ids(("_", "SP", "NL")) == [1, 2]  # any other axis: every label but `_`

    every = hierarchical("every:4").hierarchy
    assert every.flags(None, 0, 2, 10, "cpu").tolist() == [[False, False, False, True] * 2 + [False, False]] * 2
    assert every.flags(None, 6, 1, 4, "cpu").tolist() == [[False, True, False, False]]  # positions 6..9 of the window


def test_boundary_rates_and_the_cap_are_measured(data):
    assert boundary_rates(hierarchical("every:4", block_size=16).config) == (0.25, 0.0)
    capped = hierarchical("every:1", block_size=16, global_block=4).config
    assert capacity(capped) == 4 and boundary_rates(capped) == (0.25, 0.75)  # 4 of 16 boundaries held
    assert capacity(hierarchical("every:3", block_size=16).config) == 6  # 0: all of every:K's
    words = hierarchical(boundary_vocab=data.manifest.axis("words").vocab, block_size=16).config
    rate, dropped = boundary_rates(words, data)
    assert capacity(words) == 4 and 0.1 < rate <= 0.25 and 0 <= dropped < 0.5
    one = boundary_rates(attrs.evolve(words, global_block=1), data)
    assert one[0] == pytest.approx(1 / 16) and one[1] > dropped  # a smaller cap drops more, and says so


# ------------------------------------------------------- shapes, cap, edge cases


@pytest.mark.parametrize("fusion", ["sum", "concat", "cross"])
@pytest.mark.parametrize("boundary", ["words", "every:3"])
def test_every_fusion_with_predict_axes_trains(fusion, boundary):
    net = hierarchical(boundary, axes=AXES, fusion=fusion).train()
    main, meta = random_windows(net)
    out = net(main, meta)
    assert out.logits.shape == (3, 16, V) and set(out.nll_axes) == {"pos", "lex"}
    out.loss.backward()
    assert torch.isfinite(out.loss)
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing  # every parameter takes part (DDP refuses one that does not)
    assert any(p.grad.abs().sum() > 0 for n, p in net.named_parameters() if n.startswith("hierarchy.h."))


def test_no_boundary_leaves_the_local_blocks_alone_and_all_boundaries_are_capped():
    net = hierarchical(global_block=5)
    idx = torch.randint(V, (2, 16))
    none, every = torch.zeros(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long)  # `_`, B-WORD
    with torch.no_grad():
        # a boundary axis is the last column of the axis inputs (here the only one)
        assert torch.equal(net.logits(idx, none[..., None])[0], without_hierarchy(net, idx)[0])
        full = net.logits(idx, every[..., None])[0]
        # the first 5 boundaries are held: the global blocks change positions 0..4 first
        moved = (full - without_hierarchy(net, idx)[0]).abs().amax(-1) > 1e-6
        assert moved[:, :5].all()
        # boundaries beyond the cap get no global update: marking them changes nothing
        after = every.clone()
        after[:, 5:] = 0
        assert torch.equal(net.logits(idx, after[..., None])[0], full)
    main = torch.randint(V, (2, 18))
    for labels in (torch.zeros(2, 18, 1, dtype=torch.long), torch.ones(2, 18, 1, dtype=torch.long)):
        out = hierarchical(global_block=5).train()(main, labels)
        out.loss.backward()
        assert torch.isfinite(out.loss)


def test_flat_config_is_the_flat_model():
    torch.manual_seed(0)
    flat = GridTransformer(GridConfig(V, block_size=16, n_layer=2, n_head=2, n_embd=16))
    after_flat = torch.rand(3)
    hier = hierarchical("every:4")
    after_hier = torch.rand(3)
    assert flat.hierarchy is None and torch.equal(after_flat, after_hier)  # building the hierarchy draws nothing
    theirs = hier.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in flat.state_dict().items())  # same local blocks at start
    assert set(theirs) - set(flat.state_dict()) == {k for k in theirs if k.startswith("hierarchy.")}


def test_bad_hierarchies_are_refused():
    with pytest.raises(ValueError, match="boundary_vocab"):
        GridConfig(V, boundary="words")
    with pytest.raises(ValueError, match="global_layers"):
        GridConfig(V, boundary="every:2", global_layers=0)
    with pytest.raises(ValueError, match="needs its labels"):
        hierarchical().logits(torch.zeros(1, 4, dtype=torch.long))


# ------------------------------------------------------------------ causality


def ids_of(text, vocab):
    return [vocab.index(c) for c in text]


@settings(max_examples=20, deadline=None)
@given(st.text(alphabet="ab .", min_size=6, max_size=16), st.text(alphabet="ab .", min_size=1, max_size=10),
       st.integers(0, 15))
def test_positions_before_a_change_do_not_move(plan, texts_a, suffix, cut):
    """The real model with its boundary axis compiled from the text: change
    every character after position t, and the logits at positions <= t
    (so the loss at t, whose target is m_{t+1}) stay as they were."""
    cut = min(cut, len(texts_a) - 1)
    other = (texts_a[: cut + 1] + suffix + texts_a)[: len(texts_a)]
    chars = list("ab .")
    net = hierarchical(boundary_vocab=plan.axis("words").vocab, global_block=3, block_size=16, n_layer=3)
    outs = []
    for text in (texts_a, other):
        idx = torch.tensor([ids_of(text, chars)])
        labels = torch.as_tensor(compile_text(plan, text).ids("words"))[None]
        with torch.no_grad():
            outs.append(net.logits(idx, labels[..., None])[0][0])
    torch.testing.assert_close(outs[0][: cut + 1], outs[1][: cut + 1], atol=1e-6, rtol=0)


@pytest.mark.parametrize("boundary", ["words", "every:3"])
def test_each_input_reaches_only_its_own_and_later_positions(boundary):
    net = hierarchical(boundary, global_block=4, axes=AXES)
    main, meta = random_windows(net, B=1)
    idx, axis_in, _, _ = net.align(main, meta)  # a boundary axis: the last column of axis_in

    def outputs(idx, axis_in):
        with torch.no_grad():
            return net.logits(idx, axis_in)[0][0]

    before = outputs(idx, axis_in)
    for s in (2, 7, 12):
        changed_main = idx.clone()
        changed_main[0, s] = (changed_main[0, s] + 1) % V
        moved = (outputs(changed_main, axis_in) - before).abs().amax(-1) > 1e-6
        assert not moved[:s].any() and moved[s]
        if net.config.boundary_axis:
            changed = axis_in.clone()
            changed[0, s, -1] = 1 - changed[0, s, -1].clamp(max=1)  # a boundary appears or goes
            moved = (outputs(idx, changed) - before).abs().amax(-1) > 1e-6
            assert not moved[:s].any()


# ------------------------------------------------------------------ KV cache


@pytest.mark.parametrize("fusion", ["sum", "cross"])
@pytest.mark.parametrize("boundary", ["words", "every:3"])
def test_cached_decoding_equals_recomputation(boundary, fusion):
    net = hierarchical(boundary, axes=AXES, fusion=fusion, global_block=4)
    main, meta = random_windows(net, B=2)
    idx, axis_in, _, _ = net.align(main, meta)
    with torch.no_grad():
        full_main, full_axes = net.logits(idx, axis_in)
        cache, pieces = KVCache(), []
        for s, e in [(0, 5), (5, 6), (6, 7), (7, 11), (11, 12), (12, 16)]:  # a prompt, steps, chunks
            pieces.append(net.logits(idx[:, s:e], axis_in[:, s:e], cache))
    torch.testing.assert_close(torch.cat([m for m, _ in pieces], 1), full_main, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat([a for _, a in pieces], 1), full_axes, atol=1e-5, rtol=0)


@pytest.mark.parametrize("boundary", ["words", "every:3"])
def test_the_sliding_cached_window_equals_recomputation(boundary):
    net = hierarchical(boundary, global_block=3, block_size=12)
    g = torch.Generator().manual_seed(3)
    idx, labels = torch.randint(V, (2, 40), generator=g), torch.randint(3, (2, 40), generator=g)

    def inputs(start, end):
        return idx[:, start:end], labels[:, start:end, None] if net.config.boundary_axis else None

    exact, recompute, shifted = _Window(net, inputs, True, 1), _Window(net, inputs, False, 1), _Window(net, inputs, True, 4)
    with torch.no_grad():
        for end in range(1, 41):
            torch.testing.assert_close(exact.logits(end)[0], recompute.logits(end)[0], atol=1e-5, rtol=0)
            got = shifted.logits(end)[0]  # a window of 9 to 12 positions, re-encoded every 4 steps
            torch.testing.assert_close(got, net.logits(*inputs(shifted.start, end), last=True)[0], atol=1e-5, rtol=0)


def test_generation_computes_the_boundary_axis_from_the_text():
    """generate() asks context_fn for the boundary axis (not a model axis
    here) at every step; cached and recomputed samples agree."""
    net = hierarchical(axes=(AxisSpec("stage", 4, "context"),), global_block=4)
    asked = []

    def context_fn(ids):
        asked.append(len(ids))
        starts = [int(i % 3 == 0) for i in ids]  # a boundary wherever the character id is a multiple of 3
        return {"stage": [sum(ids[: i + 1]) % 4 for i in range(len(ids))], "words": starts}

    cached = generate(net, [1, 2, 3], 12, context_fn=context_fn, temperature=0)
    recomputed = generate(net, [1, 2, 3], 12, context_fn=context_fn, temperature=0, use_cache=False)
    assert torch.equal(cached.main, recomputed.main) and set(cached.axes) == {"stage"}
    assert asked[0] == 3 and max(asked) == 15
    with pytest.raises(ValueError, match="'words' needs labels"):
        generate(net, [1], 3, context_fn=None, prompt_axes={"stage": [0] * 5})


def test_bfloat16_autocast():
    net = hierarchical(axes=AXES, global_block=4).train()
    main, meta = random_windows(net)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(main, meta)
    out.loss.backward()
    assert torch.isfinite(out.loss) and abs(out.loss.item() - net(main, meta).loss.item()) < 0.1
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("clang++")),
                    reason="torch.compile on CPU needs a C++ compiler")
@pytest.mark.slow
def test_compiles_as_one_graph():
    """As train.py compiles on CUDA: one graph (the gather, the sort and the
    banded local attention included), the loss and gradients of eager."""
    net = hierarchical(axes=AXES, global_block=4, local_window=4).train()
    main, meta = random_windows(net)
    eager = net(main, meta).loss
    grads = torch.autograd.grad(eager, list(net.parameters()))
    compiled = torch.compile(net, fullgraph=True)(main, meta).loss
    assert compiled.item() == pytest.approx(eager.item(), abs=1e-5)
    for got, want in zip(torch.autograd.grad(compiled, list(net.parameters())), grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------- expand, checkpoints


def test_expand_keeps_the_hierarchy_and_the_predictions():
    net = hierarchical(axes=AXES[:1], global_block=4)
    main, meta = random_windows(net)
    grown = expand(net, [AxisSpec("new", 5, "predict")], freeze=True)
    assert grown.config.boundary == "words" and grown.hierarchy is not None
    assert not any(p.requires_grad for p in grown.hierarchy.parameters())
    idx, axis_in, _, _ = net.align(main, meta)
    grown_meta = torch.cat([meta[..., :1], torch.randint(5, (3, 18, 1)), meta[..., 1:]], -1)
    idx2, axis_in2, _, _ = grown.align(main, grown_meta)
    with torch.no_grad():
        want = net.logits(idx, axis_in)[0]
        torch.testing.assert_close(grown.logits(idx2, axis_in2)[0], want)
    again = GridTransformer.from_checkpoint(net.checkpoint())
    assert again.config == net.config
    with torch.no_grad():
        torch.testing.assert_close(again.logits(idx, axis_in)[0], want)


# ------------------------------------------------------------------ training runs


def test_a_hierarchical_run_records_its_compute_resumes_and_samples(data, tmp_path, capsys):
    run, straight = tmp_path / "run", tmp_path / "straight"
    assert main(["train", "--data", data.path, "--out", run, *TINY_ARGS, "max_iters=2", "eval_interval=2",
                 "sample_interval=2"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    state = checkpoint.load(run)
    config = state.grid()
    assert config.boundary == "words" and config.boundary_vocab == tuple(data.manifest.axis("words").vocab)
    rate, dropped = boundary_rates(config, data)
    assert (m["boundary_rate"], m["global_dropped"]) == (rate, dropped)
    assert m["flops_per_char"] == flops_per_char(config, rate) and m["flops"] == m["flops_per_char"] * m["tokens"]
    assert m["history"][-1]["flops"] == m["flops"]
    assert m["leaky"] is False and m["prefix_checked"]["mismatches"] == 0

    assert main(["train", "--data", data.path, "--out", run, "--resume", "max_iters=4", "eval_interval=2"]) == 0
    assert main(["train", "--data", data.path, "--out", straight, *TINY_ARGS, "max_iters=4", "eval_interval=2",
                 "sample_interval=2"]) == 0
    a, b = checkpoint.load(run).model, checkpoint.load(straight).model
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # 2 + 2 resumed = 4 straight
    m = json.loads((run / "metrics.json").read_text())
    assert [h["flops"] for h in m["history"]] == [m["flops_per_char"] * h["step"] * 4 * 16 for h in m["history"]]
    assert [h["step"] for h in m["history"]] == [0, 2, 4]
    capsys.readouterr()

    code = main(["train", "--data", data.path, "--out", run, "--resume", "max_iters=6", "boundary=every:4"])
    assert code == 2 and "--resume cannot change the network's shape (boundary 'words' -> 'every:4'" in capsys.readouterr().err

    texts = []
    for cache in ([], ["--no-cache"]):
        assert main(["sample", run, "--prompt", "The", "--chars", "12", "--temperature", "0", *cache]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and texts[0].startswith("The")
    assert main(["eval", run, "--data", data.path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["positions"] == data.tokens("val") - 2


def test_the_cap_is_reported_when_it_drops_boundaries(data, tmp_path):
    run = tmp_path / "capped"
    assert main(["train", "--data", data.path, "--out", run, *TINY_ARGS, "max_iters=1", "eval_interval=1",
                 "global_block=1", "axes=none"]) == 0  # the boundary axis alone: not read as input
    m = json.loads((run / "metrics.json").read_text())
    assert 0.05 < m["boundary_rate"] <= 1 / 16 and m["global_dropped"] > 0.3  # one word start a window, of ~3
    assert m["prefix_checked"]["mismatches"] == 0  # the referee checks the boundary axis, though no axis is read
    flat = tmp_path / "flat"
    assert main(["train", "--data", data.path, "--out", flat, *TINY_ARGS, "max_iters=1", "eval_interval=1",
                 "boundary="]) == 0
    m = json.loads((flat / "metrics.json").read_text())
    assert m["boundary_rate"] is None and m["global_dropped"] is None
    assert m["flops_per_char"] == flops_per_char(checkpoint.load(flat).grid()) > 0


def test_expand_on_the_command_line_keeps_the_hierarchy(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", data.path, "--out", run, *TINY_ARGS, "max_iters=1", "eval_interval=1"]) == 0
    spec = tmp_path / "more.axes"
    spec.write_text(SPEC + "group lines = lines\nfeed lines as context\n")
    more = tmp_path / "more"
    compile_corpus(loads_spec(spec.read_text(), str(spec)), synthetic_corpus(stories=8, seed=0), more, val_fraction=0.25)
    grown = tmp_path / "grown"
    assert main(["expand", run, "--spec", spec, "--data", more, "--out", grown, "max_iters=1", "eval_interval=1"]) == 0
    config = checkpoint.load(grown).grid()
    assert config.boundary == "words" and [a.name for a in config.axes][-1] == "lines"
    capsys.readouterr()
    assert main(["expand", run, "--spec", spec, "--data", more, "--out", tmp_path / "x", "boundary=every:2"]) == 2
    assert "expand keeps the network" in capsys.readouterr().err


@pytest.mark.parametrize("boundary, message", [
    ("the", "axis 'the' of dataset"),  # a lexicon painted over its matches: not causal
    ("wordz", "did you mean 'words'?"),
    ("spans", "(encoding=bio)"),
    ("every:0", "every:K with K >= 1"),
])
def test_a_boundary_that_cannot_be_read_causally_is_refused(data, tmp_path, capsys, boundary, message):
    run = tmp_path / "run"
    code = main(["train", "--data", data.path, "--out", run, *TINY_ARGS, f"boundary={boundary}"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not run.exists()  # refused before anything is written
    if boundary == "the":
        assert "is not causal" in err and "look-ahead" in err


@pytest.mark.slow
def test_two_ddp_processes_train_a_hierarchy_like_one(data, tmp_path):
    args = [*TINY_ARGS, "max_iters=2", "eval_interval=2"]
    assert main(["train", "--data", data.path, "--out", tmp_path / "one", *args, "grad_accum=2"]) == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "model.cli",
               "train", "--data", str(data.path), "--out", str(tmp_path / "ddp"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = checkpoint.load(tmp_path / "one").model, checkpoint.load(tmp_path / "ddp").model
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


# ------------------------------------------------------------------ FLOPs


def test_flops_per_char_by_hand():
    """C=4, L=1, T=4, V=3, no window: per position 24*16 + 4*4*2.5 (mean keys
    (1+2+3+4)/4) + 2*4*3, times 3 for the backward pass."""
    config = GridConfig(3, block_size=4, n_layer=1, n_head=1, n_embd=4)
    assert mean_keys(4) == 2.5 and mean_keys(4, 2) == 1.75  # (1+2+2+2)/4
    assert flops_per_char(config) == 3 * (24 * 16 + 4 * 4 * 2.5 + 2 * 4 * 3)
    local = attrs.evolve(config, local_window=2)
    assert flops_per_char(config) - flops_per_char(local) == 3 * 4 * 4 * (2.5 - 1.75)
    # every:2 over T=4 (n = 2 boundaries a window), D=2, one global layer:
    # 0.5 * (4*4*2 + 24*4) + 2*1*2*2*3/4 per position
    hier = attrs.evolve(config, boundary="every:2", global_layers=1, global_embd=2, global_heads=1)
    assert flops_per_char(hier, 0.5) - flops_per_char(config) == pytest.approx(3 * (0.5 * (32 + 96) + 2 * 2 * 2 * 3 / 4))


@pytest.mark.parametrize("kw", [dict(), dict(fusion="concat", axes=AXES), dict(fusion="cross", axes=AXES),
                                dict(boundary="every:4", global_embd=32, global_heads=2)])
def test_flops_per_char_agrees_with_torch_flop_counter(kw):
    """torch's FlopCounterMode over a real forward and backward pass counts
    the matrix products; attention is a few percent here (T small against C),
    which it may or may not count, so they agree within 4%."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    config = GridConfig(V, block_size=8, n_layer=2, n_head=2, n_embd=64, **kw)
    net = GridTransformer(config)
    main, meta = random_windows(net, B=4, T=8)
    with FlopCounterMode(display=False) as counter:
        net(main, meta).loss.backward()
    rate = 0.25 if config.boundary else 0.0  # every:4: two of the 8 positions, both held
    assert counter.get_total_flops() == pytest.approx(4 * 8 * flops_per_char(config, rate), rel=0.04)
