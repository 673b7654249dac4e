"""The grid transformer: the baseline GPT, axis modes and their causality,
the vectorised heads, expansion, checkpoints. Tiny models, CPU."""

import io
import json
import math
import shutil

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from grid_dsl.language.diagnostics import UserError
from model.network.transformer import AxisSpec, GridConfig, GridTransformer, expand

V = 11
AXES = (
    AxisSpec("pos", 7, "predict"),
    AxisSpec("stage", 4, "context"),
    AxisSpec("lex", 13, "predict", weight=0.5, dim=6),
    AxisSpec("gold", 3, "oracle"),
)
FUSIONS = ("sum", "concat", "cross")


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


def tiny(axes=AXES, fusion="sum", seed=0, **kw):
    torch.manual_seed(seed)
    options = dict(block_size=12, n_layer=2, n_head=2, n_embd=16) | kw
    return GridTransformer(GridConfig(V, fusion=fusion, axes=axes, **options))


def windows(axes=AXES, B=3, T=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    main = torch.randint(V, (B, T + 2), generator=g)
    if not axes:
        return main, torch.zeros(B, T + 2, 0, dtype=torch.long)
    meta = torch.stack([torch.randint(a.vocab_size, (B, T + 2), generator=g) for a in axes], dim=-1)
    return main, meta


# ------------------------------------------------------------------ baseline


class ReferenceGPT(nn.Module):
    """nanoGPT's model, written out plainly (same module names and init order)."""

    def __init__(self, vocab, block, n_layer, n_head, n_embd, bias=True):
        super().__init__()
        self.n_head = n_head
        def linear(n_in, n_out):
            return nn.Linear(n_in, n_out, bias=bias)

        block_ = lambda: nn.ModuleDict(dict(  # noqa: E731
            ln_1=nn.LayerNorm(n_embd, bias=bias),
            attn=nn.ModuleDict(dict(c_attn=linear(n_embd, 3 * n_embd), c_proj=linear(n_embd, n_embd))),
            ln_2=nn.LayerNorm(n_embd, bias=bias),
            mlp=nn.ModuleDict(dict(c_fc=linear(n_embd, 4 * n_embd), c_proj=linear(4 * n_embd, n_embd))),
        ))
        self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(vocab, n_embd), wpe=nn.Embedding(block, n_embd),
                                              h=nn.ModuleList(block_() for _ in range(n_layer)),
                                              ln_f=nn.LayerNorm(n_embd, bias=bias)))
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))

    def forward(self, x, y):
        B, T = x.shape
        h = self.transformer.wte(x) + self.transformer.wpe(torch.arange(T))
        for blk in self.transformer.h:
            a = blk.ln_1(h)
            q, k, v = blk.attn.c_attn(a).split(h.size(-1), dim=2)
            q, k, v = (z.view(B, T, self.n_head, -1).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, -1)
            h = h + blk.attn.c_proj(a)
            h = h + blk.mlp.c_proj(F.gelu(blk.mlp.c_fc(blk.ln_2(h))))
        logits = self.lm_head(self.transformer.ln_f(h))
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())


@pytest.mark.parametrize("bias", [True, False])
def test_model_without_axes_is_nanogpt(bias):
    net = tiny(axes=(), bias=bias)
    torch.manual_seed(0)
    ref = ReferenceGPT(V, 12, 2, 2, 16, bias=bias)
    assert net.state_dict().keys() == ref.state_dict().keys()
    for name, value in ref.state_dict().items():  # same seed, same init order: same weights
        assert torch.equal(net.state_dict()[name], value), name
    main, meta = windows(axes=())
    out = net(main, meta)
    ref_loss = ref(main[:, :12], main[:, 1:13])
    assert torch.allclose(out.loss, ref_loss, atol=1e-6)
    assert out.loss is out.nll_main and out.nll_axes == {}
    assert net.num_params() == sum(p.numel() for p in ref.parameters()) - 12 * 16  # without positions
    assert net.num_params(non_embedding=False) == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("fusion", FUSIONS)
def test_axes_leave_the_backbone_and_the_global_rng_unchanged(fusion):
    base = tiny(axes=())
    after_base = torch.rand(3)
    grid = tiny(fusion=fusion)
    after_grid = torch.rand(3)
    assert torch.equal(after_base, after_grid)  # later draws (dropout, batches) are the baseline's too
    mine = grid.state_dict()
    for name, value in base.state_dict().items():
        assert torch.equal(mine[name], value), name
    assert grid.num_params() > base.num_params()
    # the axis parameters themselves follow the seed
    again = tiny(fusion=fusion)
    assert all(torch.equal(a, b) for a, b in zip(grid.state_dict().values(), again.state_dict().values()))
    assert not torch.equal(tiny(fusion=fusion, seed=5).fusion.table, grid.fusion.table)


def test_zero_axis_embeddings_give_the_baseline_loss():
    base, grid = tiny(axes=()), tiny(axes=(AxisSpec("stage", 4, "context"),))
    with torch.no_grad():
        grid.fusion.table.zero_()
    main, meta = windows(axes=grid.config.axes)
    assert torch.equal(grid(main, meta).loss, base(main, meta[..., :0]).loss)


# ------------------------------------------------------------ modes, heads


def test_alignment_of_modes():
    net = tiny()
    B, T = 2, 12
    main = torch.arange(T + 2).repeat(B, 1) % V
    meta = torch.stack([torch.arange(T + 2).repeat(B, 1) % a.vocab_size for a in AXES], dim=-1)
    idx, axis_in, targets, axis_targets = net.align(main, meta)
    t = torch.arange(T)
    assert torch.equal(idx[0], t % V) and torch.equal(targets[0], (t + 1) % V)
    assert torch.equal(axis_in[0, :, 0], (t + 1) % 7)  # predict: a_{t+1}
    assert torch.equal(axis_in[0, :, 1], t % 4)  # context: a_t
    assert torch.equal(axis_in[0, :, 2], (t + 1) % 13)
    assert torch.equal(axis_in[0, :, 3], t % 3)  # oracle: a_t
    assert torch.equal(axis_targets[0], torch.stack([(t + 2) % 7, (t + 2) % 13], -1))  # predict axes only


def test_vectorised_axis_losses_equal_per_axis_cross_entropies():
    net = tiny()
    main, meta = windows()
    out = net(main, meta)
    idx, axis_in, targets, _ = net.align(main, meta)
    x = net.hidden(idx, axis_in)
    z = net.axis_head(x)  # [B, T, 7 + 13]: pos's columns, then lex's
    nll_pos = F.cross_entropy(z[..., :7].flatten(0, 1), meta[:, 2:, 0].flatten())
    nll_lex = F.cross_entropy(z[..., 7:].flatten(0, 1), meta[:, 2:, 2].flatten())
    nll_main = F.cross_entropy(net.lm_head(x).flatten(0, 1), targets.flatten())
    assert set(out.nll_axes) == {"pos", "lex"}  # context and oracle axes have no head
    assert torch.allclose(out.nll_axes["pos"], nll_pos, atol=1e-6)
    assert torch.allclose(out.nll_axes["lex"], nll_lex, atol=1e-6)
    assert torch.allclose(out.nll_main, nll_main, atol=1e-6)
    assert torch.allclose(out.loss, nll_main + nll_pos + 0.5 * nll_lex, atol=1e-6)  # weights in the loss only


@pytest.mark.parametrize("fusion", FUSIONS)
def test_output_shapes_and_padding(fusion):
    net = tiny(fusion=fusion)
    main, meta = windows(B=3, T=9)
    out = net(main, meta)
    assert out.logits.shape == (3, 9, V) and out.loss.shape == () and out.nll_main.shape == ()
    idx, axis_in, _, _ = net.align(main, meta)
    main_logits, axis_logits = net.logits(idx, axis_in)
    assert main_logits.shape == (3, 9, V) and axis_logits.shape == (3, 9, 2, 13)
    assert torch.isneginf(axis_logits[..., 0, 7:]).all() and torch.isfinite(axis_logits[..., 0, :7]).all()
    assert torch.isfinite(axis_logits[..., 1, :]).all()
    last_main, last_axes = net.logits(idx, axis_in, last=True)
    assert torch.allclose(last_main[:, 0], main_logits[:, -1], atol=1e-6)
    assert torch.allclose(last_axes[:, 0], axis_logits[:, -1], atol=1e-6)
    out.loss.backward()
    assert all(p.grad is not None for p in net.parameters())  # no dead parameters (DDP refuses them)


def test_bad_windows_are_refused():
    net = tiny()
    main, meta = windows()
    with pytest.raises(ValueError, match=r"meta must be \[B, T\+2, K\]"):
        net(main, meta[..., :2])
    with pytest.raises(ValueError, match="T >= 1"):
        net(main[:, :2], meta[:, :2])
    with pytest.raises(ValueError, match="exceed block_size"):
        net(*windows(T=13))


def _outputs(net, main, meta):
    idx, axis_in, _, _ = net.align(main, meta)
    main_logits, axis_logits = net.logits(idx, axis_in)
    return torch.cat([main_logits, axis_logits.flatten(2).nan_to_num(neginf=0.0)], dim=-1)  # [B, T, *]


@pytest.mark.parametrize("fusion", FUSIONS)
def test_causality_each_input_reaches_only_the_positions_its_mode_allows(fusion):
    """Change one input of the window at index s and see which output
    positions move: main m_s and context/oracle a_s first reach position s;
    a predict axis's a_s is read at position s-1 (it leads by one)."""
    net = tiny(fusion=fusion).eval()
    main, meta = windows(B=1)
    T = main.size(1) - 2
    before = _outputs(net, main, meta)
    columns = [("main", None, 0)] + [(a.name, k, int(a.mode == "predict")) for k, a in enumerate(AXES)]
    for name, k, lead in columns:
        for s in (3, 7):
            m2, meta2 = main.clone(), meta.clone()
            if k is None:
                m2[0, s] = (m2[0, s] + 1) % V
            else:
                meta2[0, s, k] = (meta2[0, s, k] + 1) % AXES[k].vocab_size
            changed = (_outputs(net, m2, meta2) - before).abs().amax(-1)[0] > 1e-6
            first = s - lead
            assert not changed[:first].any(), (name, s, changed)  # nothing earlier sees it
            assert changed[first], (name, s)  # and the position that reads it does
            assert changed[first:T].all(), (name, s)


def test_a_predict_axis_that_reveals_the_text_is_scored_honestly():
    """An axis equal to the text itself: fed as `predict` (one step ahead) it
    gives the next character away, but its own next label is then the hard
    part, so the joint NLL stays near the entropy of random text; fed as
    `context` it reveals nothing."""
    results = {}
    for mode in ("predict", "context"):
        net = tiny(axes=(AxisSpec("copy", V, mode),), n_layer=1, n_embd=32)
        opt = torch.optim.AdamW(net.parameters(), lr=2e-2)
        g = torch.Generator().manual_seed(0)
        for _ in range(40):
            main = torch.randint(V, (16, 14), generator=g)
            out = net(main, main[..., None])  # a_t = m_t
            opt.zero_grad()
            out.loss.backward()
            opt.step()
        main = torch.randint(V, (64, 14), generator=g)
        with torch.no_grad():
            results[mode] = net.eval()(main, main[..., None])
    entropy = math.log(V)
    leaky = results["predict"]
    assert leaky.nll_main < 0.2 * entropy  # the next character is read off the axis ...
    assert leaky.nll_main + leaky.nll_axes["copy"] > 0.9 * entropy  # ... but bpc_joint stays honest
    assert results["context"].nll_main > 0.9 * entropy and results["context"].nll_axes == {}


# ------------------------------------------------------- expand, checkpoints


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("start", ["baseline", "axes"])
def test_expand_keeps_the_main_predictions(fusion, start):
    old_axes = () if start == "baseline" else AXES[:2]
    old = tiny(axes=old_axes, fusion=fusion)
    new = (AxisSpec("lex", 13, "predict", dim=6), {"name": "gold", "vocab_size": 3, "mode": "oracle"})
    big = expand(old, new)
    assert [a.name for a in big.config.axes] == [a.name for a in old_axes] + ["lex", "gold"]
    main, meta = windows(axes=big.config.axes)
    ref = old(main, meta[..., : len(old_axes)])
    out = big(main, meta)
    assert torch.allclose(out.logits, ref.logits, atol=1e-5)
    assert torch.allclose(out.nll_main, ref.nll_main, atol=1e-6)
    assert torch.allclose(out.nll_axes["lex"], torch.tensor(math.log(13)), atol=1e-6)  # zero head: uniform
    # the new axes can learn: after a few steps they change the main predictions
    opt = torch.optim.Adam(big.parameters(), lr=0.02)
    for _ in range(3):
        opt.zero_grad()
        big(main, meta).loss.backward()
        opt.step()
    moved = big(main, meta).logits
    meta2 = meta.clone()
    meta2[..., len(old_axes)] = (meta2[..., len(old_axes)] + 1) % 13
    assert not torch.allclose(big(main, meta2).logits, moved, atol=1e-4)


def test_expand_can_freeze_the_backbone():
    old = tiny(axes=AXES[:1])
    big = expand(old, AXES[1:2], freeze=True)
    frozen = {n for n, p in big.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in big.transformer.named_parameters(prefix="transformer")}
    assert big.lm_head.weight.requires_grad is False  # tied to wte
    groups = big.param_groups(0.1)
    assert sum(len(g["params"]) for g in groups) == sum(p.requires_grad for p in big.parameters())
    with pytest.raises(ValueError, match="repeat"):
        expand(old, AXES[:1])


def test_param_groups_decay_matrices_only():
    net = tiny(fusion="cross")
    decay, no_decay = net.param_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    ids = lambda g: {id(p) for p in g["params"]}  # noqa: E731
    assert ids(decay) | ids(no_decay) == {id(p) for p in net.parameters()} and not ids(decay) & ids(no_decay)
    layer = net.fusion.layers[0]
    assert id(layer.ln_meta.weight) in ids(no_decay) and id(layer.from_meta.q.bias) in ids(no_decay)
    assert id(layer.from_meta.q.weight) in ids(decay) and id(net.fusion.table) in ids(decay)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_checkpoint_round_trip_with_weights_only(fusion):
    net = tiny(fusion=fusion)
    buffer = io.BytesIO()
    torch.save(net.checkpoint(), buffer)
    json.dumps(net.checkpoint()["config"])  # plain values only
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    rng = torch.get_rng_state()
    loaded = GridTransformer.from_checkpoint(state)
    assert torch.equal(torch.get_rng_state(), rng)  # loading draws no random numbers
    assert loaded.config == net.config
    main, meta = windows()
    assert torch.equal(loaded(main, meta).loss, net(main, meta).loss)
    compiled = {"config": state["config"], "model": {"_orig_mod." + k: v for k, v in state["model"].items()}}
    assert torch.equal(GridTransformer.from_checkpoint(compiled)(main, meta).loss, net(main, meta).loss)


def test_bad_checkpoints_are_user_errors():
    state = tiny().checkpoint()
    with pytest.raises(UserError, match="not a MultiGrid model checkpoint"):
        GridTransformer.from_checkpoint({"model": state["model"]})
    with pytest.raises(UserError, match="not a MultiGrid model checkpoint"):
        GridTransformer.from_checkpoint({"config": {**state["config"], "n_hed": 2}, "model": state["model"]})
    other = {**state["config"], "n_embd": 32}
    with pytest.raises(UserError, match="do not match its config"):
        GridTransformer.from_checkpoint({"config": other, "model": state["model"]})


def test_config_validation():
    with pytest.raises(ValueError, match="mode"):
        AxisSpec("x", 3, "sideways")
    with pytest.raises(ValueError, match="multiple of n_head"):
        GridConfig(V, n_embd=10, n_head=4)
    with pytest.raises(ValueError, match="fusion"):
        GridConfig(V, fusion="stack")
    cfg = GridConfig(V, axes=[{"name": "x", "vocab_size": 3, "mode": "context"}])
    assert cfg.axes == (AxisSpec("x", 3, "context"),) and GridConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("fusion", FUSIONS)
def test_bfloat16_autocast(fusion):
    net = tiny(fusion=fusion)
    main, meta = windows()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(main, meta)
    out.loss.backward()
    assert torch.isfinite(out.loss) and abs(out.loss.item() - net(main, meta).loss.item()) < 0.1
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("clang++")),
                    reason="torch.compile on CPU needs a C++ compiler")
@pytest.mark.slow
@pytest.mark.parametrize("fusion", FUSIONS)
def test_compiles_as_one_graph(fusion):
    """The CUDA path compiles the model (train.py); here on CPU: one graph,
    no breaks (fullgraph), and the same loss and gradients as eager."""
    net, main_meta = tiny(fusion=fusion), windows()
    eager = net(*main_meta).loss
    grads = torch.autograd.grad(eager, list(net.parameters()))
    compiled = torch.compile(net, fullgraph=True)(*main_meta).loss
    assert compiled.item() == pytest.approx(eager.item(), abs=1e-5)
    for got, want in zip(torch.autograd.grad(compiled, list(net.parameters())), grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
