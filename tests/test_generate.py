"""Generation: KV cache == recomputation, joint sampling order, seeds,
constrained generation, context callbacks. Tiny models, CPU."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from model.network.generate import _Window, generate, sample_ids
from model.network.transformer import AxisSpec, GridConfig, GridTransformer, KVCache

V = 11
AXES = (
    AxisSpec("pos", 7, "predict"),
    AxisSpec("stage", 4, "context"),
    AxisSpec("lex", 13, "predict", dim=6),
    AxisSpec("gold", 3, "oracle"),
)
FUSIONS = ("sum", "concat", "cross")


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


def tiny(axes=AXES, fusion="sum", block_size=12):
    torch.manual_seed(0)
    config = GridConfig(V, block_size=block_size, n_layer=2, n_head=2, n_embd=16, fusion=fusion, axes=axes,
                        dropout=0.1)
    return GridTransformer(config).eval()


def random_inputs(B, T, axes=AXES, seed=1):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(V, (B, T), generator=g)
    axis_in = torch.stack([torch.randint(a.vocab_size, (B, T), generator=g) for a in axes], dim=-1)
    return idx, axis_in


def stage_and_gold(ids):
    """A context callback: labels that are functions of the prefix."""
    return {"stage": [sum(ids[: i + 1]) % 4 for i in range(len(ids))], "gold": [i % 3 for i in range(len(ids))]}


# ------------------------------------------------------------------ KV cache


@pytest.mark.parametrize("fusion", FUSIONS)
def test_kv_cache_gives_the_logits_of_full_recomputation(fusion):
    net = tiny(fusion=fusion)
    idx, axis_in = random_inputs(2, 12)
    with torch.no_grad():
        full_main, full_axes = net.logits(idx, axis_in)
        cache, pieces = KVCache(), []
        for start, end in [(0, 5), (5, 6), (6, 7), (7, 10), (10, 11), (11, 12)]:  # a prompt, steps, a chunk
            pieces.append(net.logits(idx[:, start:end], axis_in[:, start:end], cache))
        assert cache.pos == 12
        assert torch.allclose(torch.cat([m for m, _ in pieces], 1), full_main, atol=1e-5)
        assert torch.allclose(torch.cat([a for _, a in pieces], 1), full_axes, atol=1e-5)
        with pytest.raises(ValueError, match="exceed block_size"):
            net.logits(idx[:, :1], axis_in[:, :1], cache)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_cached_sliding_window_equals_recomputation_beyond_the_block(fusion):
    net = tiny(fusion=fusion)
    idx, axis_in = random_inputs(1, 30)

    def inputs(start, end):
        return idx[:, start:end], axis_in[:, start:end]

    exact, recompute, shifted = (_Window(net, inputs, True, 1), _Window(net, inputs, False, 1),
                                 _Window(net, inputs, True, 5))
    with torch.no_grad():
        for end in range(1, 31):
            a, b = exact.logits(end), recompute.logits(end)
            assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)
            c = shifted.logits(end)  # a window of 8 to 12 positions, re-encoded every 5 steps
            assert end - shifted.start <= 12 and (end <= 12 or end - shifted.start >= 8)
            ref = net.logits(*inputs(shifted.start, end), last=True)
            assert torch.allclose(c[0], ref[0], atol=1e-5)
    assert shifted.start == 30 - 8 - 2  # restarts at ends 13, 18, 23, 28


# ------------------------------------------------------------ joint order


class Echo(nn.Module):
    """A stand-in model whose outputs depend only on the inputs of the same
    position: the next character is (m_t + pos input) % V, the next pos label
    (pos input + 1) % 5. It records what each position reads."""

    def __init__(self):
        super().__init__()
        axes = (AxisSpec("pos", 5, "predict"), AxisSpec("stage", 4, "context"))
        self.config = GridConfig(V, block_size=64, axes=axes)
        self.anchor = nn.Parameter(torch.zeros(()))
        self.seen = {}

    def logits(self, idx, axis_in=None, cache=None, last=False):
        for i in range(idx.size(1)):
            self.seen[cache.pos + i] = (int(idx[0, i]), int(axis_in[0, i, 1]), int(axis_in[0, i, 0]))
        cache.pos += idx.size(1)
        main = 10 * F.one_hot((idx + axis_in[..., 0]) % V, V).float()
        axes = 10 * F.one_hot((axis_in[..., :1] + 1) % 5, 5).float()
        return (main[:, -1:], axes[:, -1:]) if last else (main, axes)


def test_joint_sampling_follows_the_factorisation():
    """Position t reads m_t, context a_t and predict a_{t+1}; it writes m_{t+1}
    and a_{t+2}; a fixed predict label replaces the sampled one, and the next
    character is written under it."""
    echo, calls = Echo(), []

    def context_fn(ids):
        calls.append(list(ids))
        return {"stage": [len(ids[: i + 1]) % 4 for i in range(len(ids))]}

    out = generate(echo, [3, 1], 8, context_fn=context_fn, fixed={"pos": [-1, -1, 4]}, temperature=0)
    main, pos, stage = out.main[0].tolist(), out.axes["pos"][0].tolist(), out.axes["stage"][0].tolist()
    assert pos[:2] == [0, 0] and pos[2] == 1  # a_1 unknown: "no label"; a_2 predicted at position 0
    assert pos[4] == 4 and pos[5] == 0  # fixed at the third generated position, then predicted from it
    for t in range(2, 10):
        if t != 4:
            assert pos[t] == (pos[t - 1] + 1) % 5
    for t in range(2, 10):
        assert main[t] == (main[t - 1] + pos[t]) % V  # m_{t+1} written under a_{t+1}
    assert stage == [(t + 1) % 4 for t in range(10)]
    assert echo.seen == {t: (main[t], stage[t], pos[t + 1]) for t in range(9)}
    assert calls == [[3, 1]] + [main[: t + 1] for t in range(2, 10)]  # the prompt once, then each prefix


def test_predict_labels_given_for_the_prompt_are_read_in_one_pass():
    echo = Echo()
    out = generate(echo, [3, 1, 4], 2, prompt_axes={"pos": [0, 2, 3, 1], "stage": [1, 1, 2]},
                   context_fn=lambda ids: {"stage": [0] * len(ids)}, temperature=0)
    assert out.axes["pos"][0].tolist() == [0, 2, 3, 1, 2] and out.axes["stage"][0].tolist() == [1, 1, 2, 0, 0]
    assert out.main[0].tolist() == [3, 1, 4, 5, 7]
    assert sorted(echo.seen) == [0, 1, 2, 3]


# ------------------------------------------------------- the real model


@pytest.mark.parametrize("fusion", FUSIONS)
def test_sampling_is_reproducible_with_a_seed(fusion):
    net = tiny(fusion=fusion)
    kw = dict(context_fn=stage_and_gold, temperature=1.0, top_k=5)
    a = generate(net, [[1, 2, 3], [4, 5, 6]], 20, seed=7, **kw)
    b = generate(net, [[1, 2, 3], [4, 5, 6]], 20, seed=7, **kw)
    c = generate(net, [[1, 2, 3], [4, 5, 6]], 20, seed=8, **kw)
    d = generate(net, [[1, 2, 3], [4, 5, 6]], 20, generator=torch.Generator().manual_seed(7), **kw)
    assert a.main.shape == (2, 23) and torch.equal(a.main[:, :3], torch.tensor([[1, 2, 3], [4, 5, 6]]))
    assert torch.equal(a.main, b.main) and torch.equal(a.main, d.main)
    assert all(torch.equal(a.axes[k], b.axes[k]) for k in a.axes)
    assert not torch.equal(a.main, c.main)
    net.train()
    assert torch.equal(generate(net, [[1, 2, 3], [4, 5, 6]], 20, seed=7, **kw).main, a.main) and net.training
    assert set(a.axes) == {"pos", "stage", "lex", "gold"} and a.axes["pos"].shape == (2, 23)
    for name, axis in zip(a.axes, AXES):
        assert int(a.axes[name].min()) >= 0 and int(a.axes[name].max()) < axis.vocab_size


@pytest.mark.parametrize("fusion", FUSIONS)
def test_constrained_generation_honours_fixed_labels(fusion):
    net = tiny(fusion=fusion)
    out = generate(net, [1, 2], 30, fixed={"pos": 3, "lex": [5, -1, 7], "stage": 2}, context_fn=stage_and_gold,
                   seed=0)
    assert (out.axes["pos"][0, 2:] == 3).all() and (out.axes["stage"][0, 2:] == 2).all()
    assert out.axes["lex"][0, 2] == 5 and out.axes["lex"][0, 4] == 7
    free = generate(net, [1, 2], 30, context_fn=stage_and_gold, seed=0)
    assert not (free.axes["pos"][0, 2:] == 3).all()  # without the constraint the labels vary


def test_long_generation_crops_to_the_block():
    net = tiny(axes=(), block_size=12)
    with torch.no_grad():
        cached = generate(net, [1], 40, temperature=0, window_shift=1)
        recomputed = generate(net, [1], 40, temperature=0, use_cache=False)
        shifted = generate(net, [1], 40, seed=0)
    assert torch.equal(cached.main, recomputed.main) and cached.axes == {}
    assert shifted.main.shape == (1, 41)


def test_temperature_and_top_k():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]]).repeat(500, 1)
    g = torch.Generator().manual_seed(0)
    assert set(sample_ids(logits, 1.0, top_k=2, generator=g).tolist()) == {1, 3}
    assert set(sample_ids(logits, 1.0, generator=g).tolist()) == {0, 1, 2, 3}
    assert (sample_ids(logits, 0.0) == 1).all() and (sample_ids(logits, 1.0, top_k=1, generator=g) == 1).all()
    padded = torch.tensor([[0.0, 1.0, float("-inf")]]).repeat(200, 1)  # an axis's -inf padding
    assert set(sample_ids(padded, 2.0, top_k=5, generator=g).tolist()) == {0, 1}


def test_bad_requests_are_refused():
    net = tiny()
    with pytest.raises(ValueError, match="'stage' needs labels: pass context_fn"):
        generate(net, [1], 3)
    with pytest.raises(ValueError, match="'gold' needs labels"):  # given for the prompt only
        generate(net, [1], 3, prompt_axes={"stage": [1], "gold": [0]}, fixed={"stage": 2})
    with pytest.raises(ValueError, match=r"labels of axis 'stage' must be ids in \[0, 4\)"):
        generate(net, [1], 3, context_fn=lambda ids: {"stage": [9] * len(ids), "gold": [0] * len(ids)})
    with pytest.raises(ValueError, match="reads no axis 'nope'"):
        generate(net, [1], 3, fixed={"nope": 1}, context_fn=stage_and_gold)
    with pytest.raises(ValueError, match=r"ids in \[0, 7\)"):
        generate(net, [1], 3, fixed={"pos": 9}, context_fn=stage_and_gold)
    with pytest.raises(ValueError, match="at least one main id"):
        generate(net, torch.zeros(1, 0, dtype=torch.long), 3, context_fn=stage_and_gold)
    with pytest.raises(ValueError, match="window_shift"):
        generate(net, [1], 3, context_fn=stage_and_gold, window_shift=13)
